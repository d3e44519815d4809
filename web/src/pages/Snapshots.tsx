import { getJSON, path } from '../api';
import { condition } from '../model';
import { Badge, Err, Pager, Section, When, link, usePagedList, useWatched } from '../parts/common';
import { LogView } from '../parts/LogView';
import { TraceLinks } from './Trace';

const digestOf = (image?: string) => (image && image.includes('@') ? image.slice(image.indexOf('@') + 1) : undefined);

function testState(t: any) {
  if (t.state === 'Running') return 'building';
  if (t.state === 'Pending') return 'scheduled';
  if (t.result === 'SUCCESS' || t.result === 'SKIPPED') return 'succeeded';
  if (t.state === 'Invalid' || t.result) return 'failed';
  return 'scheduled';
}

function passed(s: any) {
  const c = condition(s, 'TestsPassed');
  return !c ? <Badge state="building" text="testing" /> : c.status === 'True' ? <Badge state="succeeded" text="passed" /> : c.status === 'False' ? <Badge state="failed" text="failed" /> : <Badge state="scheduled" text={c.reason || 'pending'} />;
}

export function Snapshots({ ns }: { ns: string }) {
  const p = usePagedList(ns, 'snapshots', {}, 50);
  const items = [...p.items].sort((a, b) => (b.metadata.creationTimestamp || '').localeCompare(a.metadata.creationTimestamp || ''));
  return (
    <>
      <h1>Snapshots in {ns}</h1>
      <Err e={p.error} />
      <table class="list">
        <thead><tr><th scope="col">Snapshot</th><th scope="col">Application</th><th scope="col">Components</th><th scope="col">Tests</th><th scope="col">Created</th></tr></thead>
        <tbody>
          {items.map((s) => (
            <tr key={s.metadata.name}>
              <td><a href={link(ns, 'snapshots', s.metadata.name)}>{s.metadata.name}</a></td>
              <td>{s.spec?.application}</td>
              <td>{(s.spec?.components || []).length}</td>
              <td>{passed(s)}</td>
              <td><When t={s.metadata.creationTimestamp} /></td>
            </tr>
          ))}
        </tbody>
      </table>
      <Pager p={p} />
    </>
  );
}

export function SnapshotPage({ ns, name }: { ns: string; name: string }) {
  const { obj: s, error } = useWatched(ns, 'snapshots', name, () => getJSON(path(ns, 'snapshots', name)));
  const releases = usePagedList(ns, 'releases', { fieldSelector: `spec.snapshot=${name}` }, 20);
  if (error) return <Err e={error} />;
  if (!s) return <p class="muted">Loading snapshot {name}…</p>;
  const tests: any[] = s.status?.tests || [];
  return (
    <>
      <h1>Snapshot {name} {passed(s)}</h1>
      <p class="tracelinks-row"><TraceLinks ns={ns} up={`snapshot/${name}`} down={`snapshot/${name}`} /></p>
      <Section title="Components">
        <table class="list">
          <thead><tr><th scope="col">Component</th><th scope="col">Artifact</th><th scope="col">Commit</th><th scope="col">Trace</th></tr></thead>
          <tbody>
            {(s.spec.components || []).map((c: any) => (
              <tr key={c.name}>
                <td><a href={link(ns, 'components', c.name)}>{c.name}</a></td>
                <td><code class="wrap">{c.containerImage}</code></td>
                <td><code>{(c.source?.git?.revision || '').slice(0, 12)}</code></td>
                <td><TraceLinks ns={ns} up={digestOf(c.containerImage)} down={digestOf(c.containerImage)} /></td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
      <Section title="Integration tests">
        {tests.length === 0 && <p class="muted">No test scenario applies.</p>}
        {tests.map((t) => (
          <details key={t.scenario} class="test" open={tests.length === 1 || t.result === 'FAILURE' || t.result === 'ERROR'}>
            <summary>
              <strong>{t.scenario}</strong> <Badge state={testState(t) as any} text={t.result || t.state} />
              {t.optional && <span class="muted"> optional</span>}
              {' '}{t.successes ?? 0} passed, {t.failures ?? 0} failed{t.note ? ` — ${t.note}` : ''}
            </summary>
            <LogView url={path(ns, 'snapshots', name, 'log') + `?scenario=${encodeURIComponent(t.scenario)}`} live={t.state === 'Running'} title={`Log of scenario ${t.scenario}`} />
          </details>
        ))}
      </Section>
      <Section title="Releases of this snapshot">
        <ul>
          {releases.items.map((r) => <li key={r.metadata.name}><a href={link(ns, 'releases', r.metadata.name)}>{r.metadata.name}</a> — {r.status?.phase || 'pending'}</li>)}
        </ul>
        {releases.items.length === 0 && <p class="muted">Not released.</p>}
      </Section>
    </>
  );
}
