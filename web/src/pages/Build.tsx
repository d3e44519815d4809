import { useEffect, useState } from 'preact/hooks';
import { getJSON, getText, path, type Obj } from '../api';
import { buildState, fmtDuration, nextInChain, seconds, short, whyLine } from '../model';
import { Badge, Digest, Err, Raw, Section, When, link, useTick, useWatched } from '../parts/common';
import { LogView } from '../parts/LogView';
import { TraceLinks } from './Trace';

export function BuildPage({ ns, name }: { ns: string; name: string }) {
  useTick(1000);
  const { obj: b, error } = useWatched(ns, 'builds', name, () => getJSON(path(ns, 'builds', name)));
  if (error) return <Err e={error} />;
  if (!b) return <p class="muted">Loading build {name}…</p>;
  const st = b.status || {};
  const running = st.phase === 'Running' || !st.phase || st.phase === 'Queued';
  return (
    <>
      <h1>
        Build {name} <Badge state={buildState(st.phase, st.unchanged)} text={st.phase || 'Pending'} />
      </h1>
      <p class="tracelinks-row">{st.phase === 'Succeeded' && <TraceLinks ns={ns} up={`build/${name}`} down={`build/${name}`} />}</p>
      <dl class="facts">
        <dt>Component</dt><dd><a href={link(ns, 'components', b.spec.component)}>{b.spec.component}</a></dd>
        <dt>Number</dt><dd>{st.buildNumber || '—'}</dd>
        <dt>Commit</dt><dd><code>{st.commit || b.spec.revision || '—'}</code></dd>
        {b.spec.group && <><dt>Build group</dt><dd><a href={link(ns, 'groups', b.spec.group)}>{b.spec.group}</a></dd></>}
        <dt>Queued</dt><dd><When t={st.queuedTime} /></dd>
        <dt>Duration</dt><dd>{fmtDuration(seconds(st.startTime, st.completionTime))}</dd>
        {st.message && <><dt>Message</dt><dd class={st.phase === 'Failed' ? 'error-text' : ''}>{st.message}</dd></>}
        {st.cachedFrom && <><dt>Cache hit</dt><dd>reused the artifact of <a href={link(ns, 'builds', st.cachedFrom)}>{st.cachedFrom}</a></dd></>}
      </dl>
      <Why ns={ns} build={b} />
      <Steps build={b} />
      <Section title="Log">
        <LogView url={path(ns, 'builds', name, 'log')} live={running} title={`Log of ${name}`} />
      </Section>
      <Inputs ns={ns} build={b} />
      <Outputs ns={ns} build={b} />
      {st.evidence && <Evidence ns={ns} name={name} />}
    </>
  );
}

/** Why follows spec.reason.build link by link back to the origin commit. */
function Why({ ns, build }: { ns: string; build: Obj }) {
  const [chain, setChain] = useState<Obj[]>([]);
  const [broken, setBroken] = useState('');
  useEffect(() => {
    let live = true;
    (async () => {
      const out: Obj[] = [];
      const seen = new Set([build.metadata.name]);
      for (let next = nextInChain(build); next && !seen.has(next) && out.length < 50; ) {
        seen.add(next);
        try {
          const b = await getJSON(path(ns, 'builds', next));
          out.push(b);
          next = nextInChain(b);
        } catch (e: any) {
          if (live) setBroken(`${next}: ${e.message}`);
          break;
        }
      }
      if (live) setChain(out);
    })();
    return () => {
      live = false;
    };
  }, [build.metadata.name]);
  const origin = chain.length ? chain[chain.length - 1] : build;
  return (
    <Section title="Why it ran">
      <ol class="why" aria-label="Why chain, from this build back to its origin">
        <li>
          <strong>{build.metadata.name}</strong>: {whyLine(build.spec.reason)}
          {build.spec.reason?.build && <> — caused by <a href={link(ns, 'builds', build.spec.reason.build)}>{build.spec.reason.build}</a></>}
        </li>
        {chain.map((b) => (
          <li key={b.metadata.name}>
            <a href={link(ns, 'builds', b.metadata.name)}>{b.metadata.name}</a> ({b.spec.component}): {whyLine(b.spec.reason)}
          </li>
        ))}
        <li class="origin">
          Origin: commit <code>{origin.status?.commit || origin.spec?.revision || 'unknown'}</code> of{' '}
          <a href={link(ns, 'components', origin.spec.component)}>{origin.spec.component}</a>
          {origin.spec.reason?.previousCommit && <> (after <code>{origin.spec.reason.previousCommit.slice(0, 12)}</code>)</>}
        </li>
      </ol>
      {broken && <p class="muted">The chain stops at {broken}</p>}
    </Section>
  );
}

function Steps({ build }: { build: Obj }) {
  const steps: any[] = build.status?.steps || [];
  if (!steps.length) return null;
  const t0 = Math.min(...steps.map((s) => (s.startTime ? Date.parse(s.startTime) : Infinity)));
  const t1 = Math.max(...steps.map((s) => (s.completionTime ? Date.parse(s.completionTime) : s.startTime ? Date.now() : 0)), t0 + 1);
  return (
    <Section title="Steps">
      <ol class="timeline">
        {steps.map((s) => {
          const a = s.startTime ? Date.parse(s.startTime) : t0;
          const z = s.completionTime ? Date.parse(s.completionTime) : s.startTime ? Date.now() : a;
          const st = s.phase === 'Succeeded' ? 'succeeded' : s.phase === 'Failed' ? 'failed' : s.phase === 'Running' ? 'building' : 'scheduled';
          return (
            <li key={s.task + '/' + s.name}>
              <span class="stepname">{s.task}/{s.name}</span>
              <span class="track" aria-hidden="true">
                <span class={`bar st-${st}`} style={{ marginLeft: `${((a - t0) / (t1 - t0)) * 100}%`, width: `${Math.max(0.5, ((z - a) / (t1 - t0)) * 100)}%` }} />
              </span>
              <Badge state={st as any} text={s.phase || 'Pending'} />
              <span>{fmtDuration(seconds(s.startTime, s.completionTime))}</span>
              {s.exitCode ? <span class="error-text">exit {s.exitCode}{s.reason ? ` (${s.reason})` : ''}</span> : null}
            </li>
          );
        })}
      </ol>
    </Section>
  );
}

function Inputs({ ns, build }: { ns: string; build: Obj }) {
  const st = build.status || {};
  const steps: any[] = st.steps || [];
  return (
    <Section title="Inputs">
      <dl class="facts">
        <dt>Source commit</dt><dd><code>{st.commit || '—'}</code></dd>
        <dt>Source tree</dt><dd><Digest d={st.treeHash} /></dd>
        <dt>Pipeline</dt><dd>{st.pipeline ? <>{st.pipeline.source} <Digest d={st.pipeline.digest} /></> : '—'}</dd>
        <dt>Inputs digest</dt><dd><Digest d={st.inputsDigest} /></dd>
      </dl>
      <h3>Buildroot (step images)</h3>
      <table class="list">
        <thead><tr><th scope="col">Step</th><th scope="col">Image</th><th scope="col">Digest</th></tr></thead>
        <tbody>
          {steps.map((s) => <tr key={s.task + s.name}><td>{s.task}/{s.name}</td><td>{s.image || 'host'}</td><td><Digest d={s.imageDigest} /></td></tr>)}
        </tbody>
      </table>
      <h3>Dependencies</h3>
      {(build.spec.inputs || []).length ? (
        <table class="list">
          <thead><tr><th scope="col">Component</th><th scope="col">Repository</th><th scope="col">Digest</th></tr></thead>
          <tbody>
            {build.spec.inputs.map((i: any) => (
              <tr key={i.component}><td><a href={link(ns, 'components', i.component)}>{i.component}</a></td><td>{i.repository}</td><td><Digest d={i.digest} /></td></tr>
            ))}
          </tbody>
        </table>
      ) : <p class="muted">No dependency artifacts.</p>}
    </Section>
  );
}

function Outputs({ ns, build }: { ns: string; build: Obj }) {
  const outs: any[] = build.status?.outputs || (build.status?.artifact ? [build.status.artifact] : []);
  const ev = build.status?.evidence;
  return (
    <Section title="Outputs">
      {outs.length ? (
        <table class="list">
          <thead><tr><th scope="col">Repository</th><th scope="col">Digest</th><th scope="col">Tags</th><th scope="col">Trace</th></tr></thead>
          <tbody>
            {outs.map((o) => (
              <tr key={o.digest}>
                <td>{o.repository}</td><td><Digest d={o.digest} /></td><td>{(o.tags || []).join(', ')}</td>
                <td>{build.status?.phase === 'Succeeded' && <TraceLinks ns={ns} up={o.digest} down={o.digest} />}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : <p class="muted">No artifact (yet).</p>}
      {ev && (
        <dl class="facts">
          <dt>Signature</dt><dd><code>{ev.signature}</code></dd>
          <dt>Attestations</dt><dd><code>{ev.attestations}</code> ({(ev.predicateTypes || []).join(', ')})</dd>
          <dt>SBOM</dt><dd><code>{ev.sbom || '—'}</code></dd>
          <dt>Builder</dt><dd>{ev.builderId} (key {short(ev.keyId, 16)})</dd>
        </dl>
      )}
    </Section>
  );
}

/** Evidence renders the provenance and SBOM readably, with the raw files. */
function Evidence({ ns, name }: { ns: string; name: string }) {
  const [prov, setProv] = useState<any>();
  const [sbom, setSbom] = useState<any>();
  const [err, setErr] = useState('');
  useEffect(() => {
    getText(path(ns, 'builds', name, 'provenance')).then((t) => setProv(decodeStatement(t)), (e) => setErr(e.message));
    getJSON(path(ns, 'builds', name, 'sbom')).then(setSbom, (e) => setErr(e.message));
  }, [ns, name]);
  const pred = prov?.predicate || {};
  const def = pred.buildDefinition || {};
  const deps: any[] = def.resolvedDependencies || [];
  const pkgs: any[] = sbom?.packages || [];
  return (
    <Section title="Provenance and SBOM">
      <Err e={err} />
      <p>
        <Raw href={path(ns, 'builds', name, 'provenance')} label="Download provenance (raw)" /> ·{' '}
        <Raw href={path(ns, 'builds', name, 'sbom')} label="Download SBOM (SPDX)" /> ·{' '}
        <Raw href={path(ns, 'builds', name, 'sbom') + '?format=cyclonedx'} label="CycloneDX" />
      </p>
      {prov && (
        <>
          <h3>Provenance ({prov.predicateType})</h3>
          <dl class="facts">
            <dt>Subject</dt><dd>{(prov.subject || []).map((s: any) => <div key={s.name}>{s.name} <Digest d={'sha256:' + (s.digest?.sha256 || '')} /></div>)}</dd>
            <dt>Build type</dt><dd>{def.buildType}</dd>
            <dt>Builder</dt><dd>{pred.runDetails?.builder?.id}</dd>
            <dt>Invocation</dt><dd>{pred.runDetails?.metadata?.invocationId}</dd>
          </dl>
          <table class="list">
            <thead><tr><th scope="col">Resolved dependency</th><th scope="col">Digest</th></tr></thead>
            <tbody>{deps.map((d, i) => <tr key={i}><td>{d.name || d.uri}</td><td><code>{Object.entries(d.digest || {}).map(([k, v]) => `${k}:${String(v).slice(0, 16)}`).join(' ')}</code></td></tr>)}</tbody>
          </table>
        </>
      )}
      {sbom && (
        <>
          <h3>SBOM: {pkgs.length} packages, {(sbom.files || []).length} files</h3>
          <table class="list">
            <thead><tr><th scope="col">Package</th><th scope="col">Version</th><th scope="col">Licence</th></tr></thead>
            <tbody>{pkgs.slice(0, 200).map((p, i) => <tr key={i}><td>{p.name}</td><td>{p.versionInfo || ''}</td><td>{p.licenseConcluded || p.licenseDeclared || ''}</td></tr>)}</tbody>
          </table>
        </>
      )}
    </Section>
  );
}

/** decodeStatement unwraps a DSSE envelope to its in-toto statement. */
export function decodeStatement(text: string): any {
  const doc = JSON.parse(text);
  if (doc.payload) return JSON.parse(atob(doc.payload));
  if (doc.dsseEnvelope?.payload) return JSON.parse(atob(doc.dsseEnvelope.payload));
  return doc;
}
