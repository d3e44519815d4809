import { useEffect, useState } from 'preact/hooks';
import { ApiError, send, setCSRF } from '../api';

/**
 * Sign in with a pasted token (POSTed once, never stored by the page) or
 * with the login code of `kiln ui`, read from the URL fragment (never sent
 * to the server in a URL) and removed from the address bar at once.
 */
export function Login({ onSignedIn, signedIn }: { onSignedIn: (ns?: string) => void; signedIn: boolean }) {
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const login = async (body: object, ns?: string) => {
    setBusy(true);
    setError('');
    try {
      const res = await (await send('POST', '/ui/login', body)).json();
      setCSRF(res.csrf);
      onSignedIn(ns);
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };
  useEffect(() => {
    const frag = new URLSearchParams(location.hash.slice(1));
    const code = frag.get('code');
    if (code) {
      history.replaceState(null, '', '/login');
      login({ code }, frag.get('ns') || undefined);
    } else if (signedIn) onSignedIn();
  }, []);
  const submit = (e: Event) => {
    e.preventDefault();
    const input = (e.target as HTMLFormElement).elements.namedItem('token') as HTMLInputElement;
    const token = input.value.trim();
    input.value = '';
    if (token) login({ token });
  };
  return (
    <main id="main" class="login">
      <h1>Sign in to Kiln</h1>
      <form onSubmit={submit} autocomplete="off">
        <label for="token">API token</label>
        <input id="token" name="token" type="password" autocomplete="off" spellcheck={false} placeholder="kiln_…" required />
        <button type="submit" disabled={busy}>{busy ? 'Signing in…' : 'Sign in'}</button>
      </form>
      {error && <p role="alert" class="error">{error}</p>}
      <p class="muted">Or run <code>kiln ui</code> on a machine with the CLI: it opens this page signed in with a one-time link.</p>
    </main>
  );
}
