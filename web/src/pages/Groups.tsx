import { useEffect, useState } from 'preact/hooks';
import { ApiError, getJSON, list, patch, path, watch, applyEvent, type Obj } from '../api';
import { estimate, layout } from '../layout';
import { buildState, fmtDuration, memberState, seconds } from '../model';
import { Badge, Err, Pager, Section, When, link, usePagedList, useTick, useWatched } from '../parts/common';
import { Graph, type ViewNode } from '../parts/Graph';

function groupState(phase?: string) {
  return phase === 'Succeeded' ? 'succeeded' : phase === 'Failed' ? 'failed' : phase === 'Cancelled' ? 'cancelled' : phase === 'Running' ? 'building' : 'scheduled';
}

export function Groups({ ns }: { ns: string }) {
  const p = usePagedList(ns, 'buildgroups', {}, 50);
  return (
    <>
      <h1>Build groups in {ns}</h1>
      <Err e={p.error} />
      <table class="list">
        <thead><tr><th scope="col">Group</th><th scope="col">Application</th><th scope="col">State</th><th scope="col">Progress</th><th scope="col">Started</th></tr></thead>
        <tbody>
          {p.items.map((g) => (
            <tr key={g.metadata.name}>
              <td><a href={link(ns, 'groups', g.metadata.name)}>{g.metadata.name}</a></td>
              <td>{g.spec?.application}</td>
              <td><Badge state={groupState(g.status?.phase) as any} text={g.status?.phase || 'Planning'} /></td>
              <td>{g.status?.done ?? 0}/{g.status?.total ?? (g.spec?.components || []).length}</td>
              <td><When t={g.status?.startTime} /></td>
            </tr>
          ))}
        </tbody>
      </table>
      <Pager p={p} />
    </>
  );
}

/** useGroupBuilds keeps the group's builds live (for durations and links). */
function useGroupBuilds(ns: string, group: string) {
  const [builds, setBuilds] = useState<Obj[]>([]);
  useEffect(() => {
    let w: { stop(): void } | undefined;
    const fs = `spec.group=${group}`;
    list(ns, 'builds', { fieldSelector: fs, limit: 2000 }).then((r) => {
      setBuilds(r.items);
      w = watch(`${path(ns, 'builds')}?fieldSelector=${encodeURIComponent(fs)}`, r.metadata.resourceVersion, (ev) => setBuilds((xs) => applyEvent(xs, ev)));
    }, () => undefined);
    return () => w?.stop();
  }, [ns, group]);
  return builds;
}

export function GroupPage({ ns, name, editable }: { ns: string; name: string; editable: boolean }) {
  useTick(2000);
  const { obj: g, error } = useWatched(ns, 'buildgroups', name, () => getJSON(path(ns, 'buildgroups', name)));
  const builds = useGroupBuilds(ns, name);
  const [actErr, setActErr] = useState('');
  if (error) return <Err e={error} />;
  if (!g) return <p class="muted">Loading build group {name}…</p>;
  const st = g.status || {};
  const members: any[] = st.members || [];
  const byBuild = new Map(builds.map((b) => [b.metadata.name, b]));
  const durations = new Map<string, number>();
  const elapsed = new Map<string, number>();
  for (const m of members) {
    const b = m.build && byBuild.get(m.build);
    if (!b) continue;
    const s = seconds(b.status?.startTime, b.status?.completionTime);
    if (s !== undefined) (b.status?.completionTime ? durations : elapsed).set(m.component, s);
  }
  const est = estimate(new Map(members.map((m) => [m.component, m.state])), durations, elapsed);
  const cycleOf = new Map<string, number>();
  (st.cycles || []).forEach((c: any, i: number) => c.members.forEach((m: string) => cycleOf.set(m, i + 1)));
  const nodes: ViewNode[] = members.map((m) => ({
    id: m.component,
    deps: m.dependsOn || [],
    label: m.component,
    state: memberState(m.state),
    href: m.build ? link(ns, 'builds', m.build) : undefined,
    cycle: cycleOf.get(m.component),
    note: m.pass ? `pass ${m.pass}` : undefined,
    ...est(m.component),
  }));
  // The critical path is the chain with the most work left: it bounds the finish.
  const remaining = layout(nodes).remaining;
  const done = members.filter((m) => !['queued', 'building', ''].includes(m.state || '')).length;
  const active = st.phase === 'Running' || st.phase === 'Planning' || !st.phase;
  const act = async (body: object) => {
    setActErr('');
    try {
      await patch(path(ns, 'buildgroups', name), { spec: body });
    } catch (e) {
      setActErr(e instanceof ApiError ? e.message : String(e));
    }
  };
  const failed = members.filter((m) => m.state === 'failed' || m.state === 'blocked').length;
  return (
    <>
      <h1>Build group {name} <Badge state={groupState(st.phase) as any} text={st.phase || 'Planning'} /></h1>
      <div class="progress" role="progressbar" aria-label="Members finished" aria-valuemin={0} aria-valuemax={members.length} aria-valuenow={done}>
        <span style={{ width: `${members.length ? (done / members.length) * 100 : 0}%` }} />
      </div>
      <p>
        {done} of {members.length} members finished{st.message ? ` — ${st.message}` : ''}.{' '}
        {active ? <>Estimated finish: <strong><EstimatedFinish remaining={remaining} /></strong>.</> : <>Took {fmtDuration(seconds(st.startTime, st.completionTime))}.</>}
        {(st.cycles || []).length > 0 && <> {st.cycles.length} cycle(s): {st.cycles.map((c: any) => c.members.join(' ⇄ ')).join('; ')}.</>}
      </p>
      {editable && (
        <p class="actions">
          <button type="button" disabled={!active || g.spec?.cancel} onClick={() => act({ cancel: true })}>Cancel group</button>
          <button type="button" disabled={active || !failed} onClick={() => act({ retry: (g.spec?.retry || 0) + 1 })}>Retry failed ({failed})</button>
        </p>
      )}
      <Err e={actErr} />
      <Section title="Plan">
        {members.length ? <Graph nodes={nodes} label={`Plan of ${name}`} /> : <p class="muted">Planning…</p>}
      </Section>
      <Section title="Members">
        <table class="list">
          <thead><tr><th scope="col">Component</th><th scope="col">State</th><th scope="col">Depends on</th><th scope="col">Build</th><th scope="col">Priority</th><th scope="col">Note</th></tr></thead>
          <tbody>
            {members.map((m) => (
              <tr key={m.component}>
                <td><a href={link(ns, 'components', m.component)}>{m.component}</a></td>
                <td><Badge state={memberState(m.state)} /></td>
                <td>{(m.dependsOn || []).join(', ')}</td>
                <td>{m.build ? <a href={link(ns, 'builds', m.build)}>{m.build}</a> : '—'}{m.build && byBuild.get(m.build) ? <> <Badge state={buildState(byBuild.get(m.build)!.status?.phase)} text={byBuild.get(m.build)!.status?.phase || 'Pending'} /></> : null}</td>
                <td>{m.priority ?? ''}</td>
                <td>{m.message || ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
    </>
  );
}

function EstimatedFinish({ remaining }: { remaining: number }) {
  if (remaining <= 0) return <>any moment</>;
  const at = new Date(Date.now() + remaining * 1000);
  return <time dateTime={at.toISOString()}>{at.toLocaleTimeString()} (in about {fmtDuration(remaining)})</time>;
}
