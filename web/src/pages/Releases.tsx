import { getJSON, path } from '../api';
import { RELEASE_PHASES, condition, fmtDuration, seconds } from '../model';
import { Badge, Err, Pager, Section, When, link, usePagedList, useWatched } from '../parts/common';
import { LogView } from '../parts/LogView';
import { TraceLinks } from './Trace';

function phaseState(p?: string) {
  return p === 'Succeeded' ? 'succeeded' : p === 'Failed' ? 'failed' : p ? 'building' : 'scheduled';
}

export function Releases({ ns }: { ns: string }) {
  const p = usePagedList(ns, 'releases', {}, 50);
  const items = [...p.items].sort((a, b) => (b.metadata.creationTimestamp || '').localeCompare(a.metadata.creationTimestamp || ''));
  return (
    <>
      <h1>Releases in {ns}</h1>
      <Err e={p.error} />
      <table class="list">
        <thead><tr><th scope="col">Release</th><th scope="col">Snapshot</th><th scope="col">Plan</th><th scope="col">Phase</th><th scope="col">Policy</th><th scope="col">Created</th></tr></thead>
        <tbody>
          {items.map((r) => (
            <tr key={r.metadata.name}>
              <td><a href={link(ns, 'releases', r.metadata.name)}>{r.metadata.name}</a></td>
              <td><a href={link(ns, 'snapshots', r.spec?.snapshot)}>{r.spec?.snapshot}</a></td>
              <td>{r.spec?.releasePlan}</td>
              <td><Badge state={phaseState(r.status?.phase) as any} text={r.status?.phase || 'Pending'} /></td>
              <td>{r.status?.policy ? (r.status.policy.passed ? 'passed' : `${r.status.policy.violations} violation(s)`) : '—'}</td>
              <td><When t={r.metadata.creationTimestamp} /></td>
            </tr>
          ))}
        </tbody>
      </table>
      <Pager p={p} />
    </>
  );
}

export function ReleasePage({ ns, name }: { ns: string; name: string }) {
  const { obj: r, error } = useWatched(ns, 'releases', name, () => getJSON(path(ns, 'releases', name)));
  if (error) return <Err e={error} />;
  if (!r) return <p class="muted">Loading release {name}…</p>;
  const st = r.status || {};
  const v = st.policy;
  return (
    <>
      <h1>Release {name} <Badge state={phaseState(st.phase) as any} text={st.phase || 'Pending'} /></h1>
      {st.phase === 'Succeeded' && <p class="tracelinks-row"><TraceLinks ns={ns} up={`release/${name}`} down={`release/${name}`} /></p>}
      <dl class="facts">
        <dt>Snapshot</dt><dd><a href={link(ns, 'snapshots', r.spec.snapshot)}>{r.spec.snapshot}</a></dd>
        <dt>Release plan</dt><dd>{r.spec.releasePlan}</dd>
        <dt>Target</dt><dd>{st.target || '—'}</dd>
        <dt>By</dt><dd>{st.attribution?.author || '—'}{st.attribution?.automated ? ' (automated)' : ''}</dd>
        <dt>Duration</dt><dd>{fmtDuration(seconds(st.startTime, st.completionTime))}</dd>
      </dl>
      <Section title="Phases">
        <ol class="phases">
          {RELEASE_PHASES.map(([type, label]) => {
            const c = condition(r, type);
            const s = !c ? 'scheduled' : c.status === 'True' ? 'succeeded' : c.status === 'False' ? 'failed' : 'building';
            return (
              <li key={type} class={`phase st-${s}`}>
                <strong>{label}</strong> <Badge state={s as any} text={!c ? 'not reached' : c.reason || c.status} />
                {c?.message && <div class="msg">{c.message}</div>}
                {c?.lastTransitionTime && <div class="muted"><When t={c.lastTransitionTime} /></div>}
              </li>
            );
          })}
        </ol>
      </Section>
      {(st.pipelines || []).length > 0 && (
        <Section title="Pipelines">
          <table class="list">
            <thead><tr><th scope="col">Role</th><th scope="col">Namespace</th><th scope="col">Pipeline</th><th scope="col">Status</th><th scope="col">Message</th></tr></thead>
            <tbody>{st.pipelines.map((p: any) => <tr key={p.role}><td>{p.role}</td><td>{p.namespace}</td><td>{p.pipeline}</td><td>{p.status}</td><td>{p.message}</td></tr>)}</tbody>
          </table>
        </Section>
      )}
      <Section title="Policy verdict">
        {!v ? <p class="muted">The policy has not been evaluated (yet).</p> : (
          <>
            <p>
              Policy <strong>{v.policy}</strong>: <Badge state={v.passed ? 'succeeded' : 'failed'} text={v.passed ? 'passed' : 'failed'} />{' '}
              {v.violations} violation(s), {v.warnings} warning(s), {v.successes} rule(s) passed <When t={v.evaluatedTime} />
            </p>
            <table class="list verdict">
              <thead><tr><th scope="col">Artifact</th><th scope="col">Result</th><th scope="col">Rule</th><th scope="col">Why</th></tr></thead>
              <tbody>
                {(v.components || []).flatMap((c: any) => [
                  ...(c.violations || []).map((x: any, i: number) => (
                    <tr key={c.name + 'v' + i} class="violation">
                      <td>{c.name}<div><code class="wrap">{c.containerImage}</code></div></td>
                      <td><Badge state="failed" text="violation" /></td>
                      <td><code>{x.code}</code></td>
                      <td>{x.msg}</td>
                    </tr>
                  )),
                  ...(c.warnings || []).map((x: any, i: number) => (
                    <tr key={c.name + 'w' + i}>
                      <td>{c.name}</td>
                      <td><Badge state="blocked" text="warning" /></td>
                      <td><code>{x.code}</code></td>
                      <td>{x.msg}{x.effectiveOn ? ` (a violation from ${x.effectiveOn})` : ''}</td>
                    </tr>
                  )),
                  <tr key={c.name + 's'}>
                    <td>{c.name}</td>
                    <td><Badge state="succeeded" text="passed" /></td>
                    <td colSpan={2}>{c.successes} rule(s) passed</td>
                  </tr>,
                ])}
              </tbody>
            </table>
          </>
        )}
      </Section>
      <Section title="Log">
        <LogView url={path(ns, 'releases', name, 'log')} live={!!st.phase && st.phase !== 'Succeeded' && st.phase !== 'Failed'} title={`Log of release ${name}`} />
      </Section>
    </>
  );
}
