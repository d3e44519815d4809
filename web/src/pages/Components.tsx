import { useEffect, useState } from 'preact/hooks';
import { getJSON, listAll, path } from '../api';
import { buildState, componentEdges, fmtDuration, seconds } from '../model';
import { Badge, Digest, Err, Pager, Section, When, link, usePagedList, useWatched } from '../parts/common';
import { Graph, type ViewNode } from '../parts/Graph';
import { TraceLinks } from './Trace';

const GRAPH_MAX = 1500;

export function Components({ ns }: { ns: string }) {
  const app = new URLSearchParams(location.search).get('app') || '';
  const p = usePagedList(ns, 'components', { fieldSelector: app ? `spec.application=${app}` : '' }, 50, false);
  return (
    <>
      <h1>Components in {ns}{app ? ` (application ${app})` : ''}</h1>
      <DependencyGraph ns={ns} app={app} />
      <Section title="All components">
        <Err e={p.error} />
        <table class="list">
          <thead><tr><th scope="col">Component</th><th scope="col">Application</th><th scope="col">Rebuild</th><th scope="col">Builds</th><th scope="col">Latest build</th><th scope="col">Artifact</th></tr></thead>
          <tbody>
            {p.items.map((c) => (
              <tr key={c.metadata.name}>
                <td><a href={link(ns, 'components', c.metadata.name)}>{c.metadata.name}</a></td>
                <td>{c.spec?.application}</td>
                <td>{c.spec?.build?.rebuild || 'transitive'}</td>
                <td>{c.status?.buildCounter || 0}</td>
                <td>{c.status?.lastBuild ? <a href={link(ns, 'builds', c.status.lastBuild)}>{c.status.lastBuild}</a> : '—'}</td>
                <td><Digest d={c.status?.latestArtifact} /></td>
              </tr>
            ))}
          </tbody>
        </table>
        <Pager p={p} />
      </Section>
    </>
  );
}

/** DependencyGraph: provides/requires between the namespace's components. */
function DependencyGraph({ ns, app }: { ns: string; app: string }) {
  const [nodes, setNodes] = useState<ViewNode[] | null>(null);
  const [note, setNote] = useState('');
  useEffect(() => {
    listAll(ns, 'components', { fieldSelector: app ? `spec.application=${app}` : '' }, GRAPH_MAX + 1).then((r) => {
      if (r.items.length > GRAPH_MAX) {
        setNote(`More than ${GRAPH_MAX} components: pick an application to see its graph.`);
        setNodes([]);
        return;
      }
      const edges = componentEdges(r.items);
      setNodes(r.items.map((c) => ({
        id: c.metadata.name,
        label: c.metadata.name,
        deps: edges.filter((e) => e.from === c.metadata.name).map((e) => e.to),
        state: c.status?.latestArtifact ? 'succeeded' : 'scheduled',
        href: link(ns, 'components', c.metadata.name),
      })));
    }, (e) => setNote(String(e.message || e)));
  }, [ns, app]);
  return (
    <Section title="Dependency graph">
      {note && <p class="muted">{note}</p>}
      {nodes && nodes.length > 0 && <Graph nodes={nodes} label={`Components of ${ns}`} />}
      <p class="muted">An arrow points from what is required to what requires it (from go.mod, RPM spec files, package.json or declared provides/requires).</p>
    </Section>
  );
}

export function ComponentPage({ ns, name }: { ns: string; name: string }) {
  const { obj: c, error } = useWatched(ns, 'components', name, () => getJSON(path(ns, 'components', name)));
  const p = usePagedList(ns, 'builds', { fieldSelector: `spec.component=${name}` }, 100);
  if (error) return <Err e={error} />;
  if (!c) return <p class="muted">Loading component {name}…</p>;
  const st = c.status || {};
  const caps = st.capabilities || {};
  const builds = [...p.items].sort((a, b) => (b.status?.buildNumber || 0) - (a.status?.buildNumber || 0));
  const durs = builds.map((b) => seconds(b.status?.startTime, b.status?.completionTime) || 0);
  const max = Math.max(1, ...durs);
  return (
    <>
      <h1>Component {name}</h1>
      <dl class="facts">
        <dt>Application</dt><dd>{c.spec.application}</dd>
        <dt>Source</dt><dd><code>{c.spec.source?.git?.url}</code> {c.spec.source?.git?.revision} <TraceLinks ns={ns} down={c.spec.source?.git?.url} /></dd>
        <dt>Rebuild policy</dt><dd>{c.spec.build?.rebuild || 'transitive'} (what is rebuilt when this component’s output changes)</dd>
        <dt>Build counter</dt><dd>{st.buildCounter || 0}</dd>
        <dt>Last built commit</dt><dd><code>{st.lastBuiltCommit || '—'}</code> <TraceLinks ns={ns} down={st.lastBuiltCommit && c.spec.source?.git?.url ? `${c.spec.source.git.url}@${st.lastBuiltCommit}` : undefined} /></dd>
        <dt>Latest artifact</dt><dd><Digest d={st.latestArtifact} /> {st.latestArtifactRef} <TraceLinks ns={ns} up={st.latestArtifact} down={st.latestArtifact} /></dd>
        <dt>Provides</dt><dd>{(caps.provides || c.spec.build?.provides || []).join(', ') || '—'}</dd>
        <dt>Requires</dt><dd>{(caps.requires || c.spec.build?.requires || []).join(', ') || '—'}</dd>
      </dl>
      <Section title="Build history">
        <table class="list">
          <thead><tr><th scope="col">#</th><th scope="col">Build</th><th scope="col">State</th><th scope="col">Reason</th><th scope="col">Duration</th><th scope="col">Finished</th></tr></thead>
          <tbody>
            {builds.map((b, i) => (
              <tr key={b.metadata.name}>
                <td>{b.status?.buildNumber}</td>
                <td><a href={link(ns, 'builds', b.metadata.name)}>{b.metadata.name}</a></td>
                <td><Badge state={buildState(b.status?.phase, b.status?.unchanged)} text={b.status?.phase || 'Pending'} /></td>
                <td>{b.spec?.reason?.type}</td>
                <td><span class="dur"><span class="durbar" style={{ width: `${(durs[i] / max) * 100}%` }} aria-hidden="true" />{fmtDuration(durs[i])}</span></td>
                <td><When t={b.status?.completionTime} /></td>
              </tr>
            ))}
          </tbody>
        </table>
        <Pager p={p} />
      </Section>
    </>
  );
}
