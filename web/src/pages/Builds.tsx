import { useState } from 'preact/hooks';
import { buildState, fmtDuration, seconds } from '../model';
import { Badge, Err, Pager, When, link, usePagedList, useTick } from '../parts/common';

const PHASES = ['', 'Queued', 'Running', 'Succeeded', 'Failed', 'Cancelled'];

/** Builds: one page at a time from the API, live through its watch. */
export function Builds({ ns }: { ns: string }) {
  useTick(2000);
  const params = new URLSearchParams(location.search);
  const [component, setComponent] = useState(params.get('component') || '');
  const [phase, setPhase] = useState(params.get('phase') || '');
  const fs = [component && `spec.component=${component}`, phase && `status.phase=${phase}`].filter(Boolean).join(',');
  const p = usePagedList(ns, 'builds', { fieldSelector: fs }, 50);
  return (
    <>
      <h1>Builds in {ns}</h1>
      <form class="filters" onSubmit={(e) => {
        e.preventDefault();
        setComponent(((e.target as HTMLFormElement).elements.namedItem('component') as HTMLInputElement).value.trim());
      }}>
        <label>Component <input name="component" value={component} placeholder="any" /></label>
        <label>State{' '}
          <select value={phase} onChange={(e) => setPhase((e.target as HTMLSelectElement).value)}>
            {PHASES.map((x) => <option key={x} value={x}>{x || 'any'}</option>)}
          </select>
        </label>
        <button type="submit">Filter</button>
        <span class="live" aria-live="polite">{p.loading ? 'loading…' : 'live'}</span>
      </form>
      <Err e={p.error} />
      <table class="list" id="builds">
        <thead>
          <tr>
            <th scope="col">Build</th>
            <th scope="col">Component</th>
            <th scope="col">#</th>
            <th scope="col">State</th>
            <th scope="col">Reason</th>
            <th scope="col">Commit</th>
            <th scope="col">Duration</th>
            <th scope="col">Finished</th>
          </tr>
        </thead>
        <tbody>
          {p.items.map((b) => (
            <tr key={b.metadata.name} data-build={b.metadata.name} data-phase={b.status?.phase || ''}>
              <td><a href={link(ns, 'builds', b.metadata.name)}>{b.metadata.name}</a></td>
              <td><a href={link(ns, 'components', b.spec?.component)}>{b.spec?.component}</a></td>
              <td>{b.status?.buildNumber || ''}</td>
              <td><Badge state={buildState(b.status?.phase, b.status?.unchanged)} text={b.status?.phase || 'Pending'} /></td>
              <td>{b.spec?.reason?.type || ''}</td>
              <td><code>{(b.status?.commit || '').slice(0, 10)}</code></td>
              <td>{fmtDuration(seconds(b.status?.startTime, b.status?.completionTime))}</td>
              <td><When t={b.status?.completionTime} /></td>
            </tr>
          ))}
        </tbody>
      </table>
      {!p.loading && p.items.length === 0 && <p class="muted">No builds match.</p>}
      <Pager p={p} />
    </>
  );
}
