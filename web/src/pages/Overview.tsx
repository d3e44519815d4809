import { useEffect, useMemo, useState } from 'preact/hooks';
import { applyEvent, getJSON, list, path, watch, type Obj } from '../api';
import { buildState, fmtDuration, seconds, waitingFor } from '../model';
import { Badge, Digest, Err, Pager, Section, When, link, usePagedList, useTick } from '../parts/common';

/** useActive keeps the namespace's builds of one phase live. */
function usePhase(ns: string, phase: string, limit = 200) {
  const [items, setItems] = useState<Obj[]>([]);
  const [error, setError] = useState<string>();
  useEffect(() => {
    let w: { stop(): void } | undefined;
    let live = true;
    const fs = `status.phase=${phase}`;
    list(ns, 'builds', { fieldSelector: fs, limit }).then(
      (res) => {
        if (!live) return;
        setItems(res.items);
        w = watch(`${path(ns, 'builds')}?fieldSelector=${encodeURIComponent(fs)}`, res.metadata.resourceVersion, (ev) => {
          // A build leaving the phase arrives as DELETED from this selector's view, or MODIFIED with another phase.
          setItems((xs) => (ev.type !== 'DELETED' && ev.object.status?.phase !== phase ? xs.filter((x) => x.metadata.name !== ev.object.metadata.name) : applyEvent(xs, ev)));
        });
      },
      (e) => live && setError(String(e.message || e)),
    );
    return () => {
      live = false;
      w?.stop();
    };
  }, [ns, phase]);
  return { items, error };
}

export function Overview({ ns }: { ns: string }) {
  useTick(2000);
  const running = usePhase(ns, 'Running');
  const queued = usePhase(ns, 'Queued');
  const failed = usePhase(ns, 'Failed', 500);
  const [apps, setApps] = useState<Obj[]>([]);
  const [limit, setLimit] = useState<number | undefined>();
  const [groups, setGroups] = useState<Record<string, Obj>>({});
  useEffect(() => {
    list(ns, 'applications', { limit: 200 }).then((r) => setApps(r.items), () => undefined);
    getJSON(path('', 'namespaces', ns)).then(
      (n) => {
        const v = n.metadata?.annotations?.['kiln.dev/max-concurrent-builds'];
        setLimit(v ? parseInt(v, 10) : undefined);
      },
      () => undefined,
    );
  }, [ns]);
  const groupNames = useMemo(() => [...new Set(queued.items.map((b) => b.spec?.group).filter(Boolean))].sort().join(','), [queued.items]);
  useEffect(() => {
    for (const g of groupNames.split(',').filter(Boolean))
      getJSON(path(ns, 'buildgroups', g)).then((o) => setGroups((m) => ({ ...m, [g]: o })), () => undefined);
  }, [groupNames]);
  const recentFailures = [...failed.items]
    .sort((a, b) => (b.status?.completionTime || '').localeCompare(a.status?.completionTime || ''))
    .slice(0, 10);
  return (
    <>
      <h1>Overview of {ns}</h1>
      <div class="cards">
        <Card n={running.items.length} label="building now" state="building" />
        <Card n={queued.items.length} label="queued" state="scheduled" />
        <Card n={failed.items.length} label="failed builds" state="failed" />
        <Card n={apps.length} label="applications" />
      </div>
      <Err e={running.error || queued.error || failed.error} />
      {recentFailures.length > 0 && (
        <Section title="Recent failures">
          <BuildTable ns={ns} builds={recentFailures} extra={(b) => b.status?.message || ''} extraLabel="What broke" />
        </Section>
      )}
      <Section title="Building now">
        {running.items.length ? (
          <BuildTable ns={ns} builds={running.items} extra={(b) => fmtDuration(seconds(b.status?.startTime))} extraLabel="Running for" />
        ) : (
          <p class="muted">Nothing is building.</p>
        )}
      </Section>
      <Section title="Queued, and why they wait">
        {queued.items.length ? (
          <BuildTable
            ns={ns}
            builds={queued.items}
            extra={(b) => waitingFor(b, b.spec?.group ? groups[b.spec.group] : undefined, running.items.length, limit)}
            extraLabel="Waiting for"
          />
        ) : (
          <p class="muted">Nothing is queued.</p>
        )}
      </Section>
      <Section title="Applications">
        <ul class="inline">
          {apps.map((a) => <li key={a.metadata.name}><a href={`/ns/${ns}/components?app=${encodeURIComponent(a.metadata.name)}`}>{a.metadata.name}</a></li>)}
        </ul>
      </Section>
      <ComponentsTable ns={ns} active={[...running.items, ...queued.items]} failed={failed.items} />
    </>
  );
}

function Card({ n, label, state }: { n: number; label: string; state?: any }) {
  return (
    <div class={`card ${state ? 'st-' + state : ''}`}>
      <strong>{n}</strong> <span>{label}</span>
    </div>
  );
}

export function BuildTable({ ns, builds, extra, extraLabel }: { ns: string; builds: Obj[]; extra?: (b: Obj) => string; extraLabel?: string }) {
  return (
    <table class="list">
      <thead>
        <tr>
          <th scope="col">Build</th>
          <th scope="col">Component</th>
          <th scope="col">State</th>
          <th scope="col">Why</th>
          {extra && <th scope="col">{extraLabel}</th>}
        </tr>
      </thead>
      <tbody>
        {builds.map((b) => (
          <tr key={b.metadata.name}>
            <td><a href={link(ns, 'builds', b.metadata.name)}>{b.metadata.name}</a></td>
            <td><a href={link(ns, 'components', b.spec?.component)}>{b.spec?.component}</a></td>
            <td><Badge state={buildState(b.status?.phase, b.status?.unchanged)} text={b.status?.phase || 'Pending'} /></td>
            <td>{b.spec?.reason?.type || '—'}</td>
            {extra && <td>{extra(b)}</td>}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/**
 * ComponentsTable pages through the namespace's components (the API's
 * pages), with each one's latest build, artifact and evidence. The builds
 * of the visible page are fetched after the page is drawn.
 */
function ComponentsTable({ ns, active, failed }: { ns: string; active: Obj[]; failed: Obj[] }) {
  const p = usePagedList(ns, 'components', {}, 50, false);
  const [builds, setBuilds] = useState<Record<string, Obj>>({});
  useEffect(() => {
    let live = true;
    const names = p.items.map((c) => c.status?.lastBuild).filter(Boolean) as string[];
    const queue = names.slice();
    const worker = async () => {
      for (let n = queue.shift(); n && live; n = queue.shift()) {
        const b = await getJSON(path(ns, 'builds', n)).catch(() => undefined);
        if (b && live) setBuilds((m) => ({ ...m, [n]: b }));
      }
    };
    for (let i = 0; i < 6; i++) worker();
    return () => {
      live = false;
    };
  }, [p.items]);
  const byName = new Map([...failed, ...active].map((b) => [b.metadata.name, b]));
  return (
    <Section title="Components">
      <Err e={p.error} />
      <table class="list">
        <thead>
          <tr>
            <th scope="col">Component</th>
            <th scope="col">Application</th>
            <th scope="col">Latest build</th>
            <th scope="col">State</th>
            <th scope="col">Artifact</th>
            <th scope="col">Signature / attestations</th>
            <th scope="col">Built</th>
          </tr>
        </thead>
        <tbody>
          {p.items.map((c) => {
            const last = c.status?.lastBuild as string | undefined;
            const b = (last && (byName.get(last) || builds[last])) || undefined;
            const ev = b?.status?.evidence;
            return (
              <tr key={c.metadata.name}>
                <td><a href={link(ns, 'components', c.metadata.name)}>{c.metadata.name}</a></td>
                <td>{c.spec?.application}</td>
                <td>{last ? <a href={link(ns, 'builds', last)}>{last}</a> : <span class="muted">never built</span>}</td>
                <td>{b ? <Badge state={buildState(b.status?.phase, b.status?.unchanged)} text={b.status?.phase || 'Pending'} /> : last ? '…' : '—'}</td>
                <td><Digest d={c.status?.latestArtifact} /></td>
                <td>{ev ? <span class="ok">signed{ev.attestations ? ', attested' : ''}{ev.sbom ? ', SBOM' : ''}</span> : b ? <span class="muted">none</span> : '—'}</td>
                <td><When t={b?.status?.completionTime} /></td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <Pager p={p} />
    </Section>
  );
}
