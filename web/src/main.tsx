import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, getJSON, send, setCSRF } from './api';
import { Login } from './pages/Login';
import { Overview } from './pages/Overview';
import { Builds } from './pages/Builds';
import { BuildPage } from './pages/Build';
import { Groups, GroupPage } from './pages/Groups';
import { Components, ComponentPage } from './pages/Components';
import { Snapshots, SnapshotPage } from './pages/Snapshots';
import { Releases, ReleasePage } from './pages/Releases';
import { Trace } from './pages/Trace';
import { useLocation, navigate, match } from './router';
import './style.css';

export interface Session {
  user: string;
  clusterAdmin: boolean;
  csrf: string;
  namespaces: string[];
  roles: Record<string, string>;
}

async function loadSession(): Promise<Session> {
  const s = await getJSON('/ui/session');
  setCSRF(s.csrf);
  const [who, nss] = await Promise.all([
    getJSON('/apis/kiln.dev/v1alpha1/whoami'),
    getJSON('/api/v1/namespaces'),
  ]);
  const namespaces = (nss.items || []).map((n: any) => n.metadata.name).sort();
  return { ...s, namespaces, roles: who.bindings || {} };
}

/** canEdit: the user may change builds and groups in ns. */
export function canEdit(s: Session, ns: string): boolean {
  if (s.clusterAdmin) return true;
  const roles = (s.roles[ns] || '').split(',');
  return roles.includes('admin') || roles.includes('maintainer');
}

function App() {
  const loc = useLocation();
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [error, setError] = useState('');
  const refresh = () =>
    loadSession().then(setSession, (e) => {
      if (e instanceof ApiError && e.code === 401) setSession(null);
      else setError(String(e.message || e));
    });
  useEffect(() => {
    refresh();
  }, []);
  if (error) return <main id="main"><p role="alert" class="error">Cannot reach Kiln: {error}</p></main>;
  if (session === undefined) return <main id="main"><p class="muted">Loading…</p></main>;
  if (session === null || loc.path === '/login')
    return <Login signedIn={!!session} onSignedIn={(ns) => refresh().then(() => navigate(ns ? `/ns/${ns}` : '/'))} />;
  return <Shell session={session} path={loc.path} onSignOut={() => setSession(null)} />;
}

const SECTIONS: [string, string][] = [
  ['', 'Overview'],
  ['/builds', 'Builds'],
  ['/groups', 'Build groups'],
  ['/components', 'Components'],
  ['/snapshots', 'Snapshots'],
  ['/releases', 'Releases'],
  ['/trace', 'Trace'],
];

function Shell({ session, path, onSignOut }: { session: Session; path: string; onSignOut: () => void }) {
  const m = path.match(/^\/ns\/([^/]+)(\/[^/]+)?/);
  const ns = m ? decodeURIComponent(m[1]) : session.namespaces[0];
  useEffect(() => {
    if (!m && ns) navigate(`/ns/${ns}`, true);
  }, [path]);
  const section = m && m[2] ? m[2] : '';
  const signOut = async () => {
    await send('POST', '/ui/logout').catch(() => undefined);
    setCSRF('');
    onSignOut();
    navigate('/login', true);
  };
  return (
    <>
      <a class="skip" href="#main">Skip to content</a>
      <header class="top">
        <a class="brand" href={ns ? `/ns/${ns}` : '/'}>Kiln</a>
        <label class="nssel">
          <span class="sr-only">Namespace</span>
          <select value={ns} onChange={(e) => navigate(`/ns/${(e.target as HTMLSelectElement).value}${section}`)}>
            {session.namespaces.map((n) => <option key={n} value={n}>{n}</option>)}
          </select>
        </label>
        <nav aria-label="Sections">
          <ul>
            {SECTIONS.map(([p, label]) => (
              <li key={p}>
                <a href={`/ns/${ns}${p}`} aria-current={section === p ? 'page' : undefined}>{label}</a>
              </li>
            ))}
          </ul>
        </nav>
        <span class="who">{session.user}</span>
        <button type="button" class="signout" onClick={signOut}>Sign out</button>
      </header>
      <main id="main" tabIndex={-1}>
        {ns ? <Routed path={path} session={session} /> : <p>You can read no namespace yet: ask an admin for a role binding.</p>}
      </main>
    </>
  );
}

function Routed({ path, session }: { path: string; session: Session }) {
  let p;
  if ((p = match('/ns/:ns', path))) return <Overview ns={p.ns} />;
  if ((p = match('/ns/:ns/builds', path))) return <Builds ns={p.ns} />;
  if ((p = match('/ns/:ns/builds/:name', path))) return <BuildPage ns={p.ns} name={p.name} />;
  if ((p = match('/ns/:ns/groups', path))) return <Groups ns={p.ns} />;
  if ((p = match('/ns/:ns/groups/:name', path))) return <GroupPage ns={p.ns} name={p.name} editable={canEdit(session, p.ns)} />;
  if ((p = match('/ns/:ns/components', path))) return <Components ns={p.ns} />;
  if ((p = match('/ns/:ns/components/:name', path))) return <ComponentPage ns={p.ns} name={p.name} />;
  if ((p = match('/ns/:ns/snapshots', path))) return <Snapshots ns={p.ns} />;
  if ((p = match('/ns/:ns/snapshots/:name', path))) return <SnapshotPage ns={p.ns} name={p.name} />;
  if ((p = match('/ns/:ns/releases', path))) return <Releases ns={p.ns} />;
  if ((p = match('/ns/:ns/releases/:name', path))) return <ReleasePage ns={p.ns} name={p.name} />;
  if ((p = match('/ns/:ns/trace', path))) return <Trace ns={p.ns} />;
  return <p>No such page: <code>{path}</code>.</p>;
}

const root = document.getElementById('app') as HTMLElement;
root.textContent = '';
render(<App />, root);
