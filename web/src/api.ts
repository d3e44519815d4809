// The page talks to Kiln's API only, with the session cookie (HttpOnly: the
// page never sees it). Every state-changing request carries the session's
// CSRF token in X-Kiln-CSRF. No token is ever kept in the page.

export const KILN = '/apis/kiln.dev/v1alpha1';

export class ApiError extends Error {
  code: number;
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
}

export interface Meta {
  name: string;
  namespace?: string;
  resourceVersion?: string;
  creationTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  uid?: string;
}
export interface Obj {
  kind?: string;
  metadata: Meta;
  spec?: any;
  status?: any;
}
export interface ListResult<T = Obj> {
  items: T[];
  metadata: { continue?: string; resourceVersion?: string };
}

let csrf = '';
export function setCSRF(v: string) {
  csrf = v;
}

export function path(ns: string, plural: string, name?: string, sub?: string): string {
  const core = plural === 'namespaces' || plural === 'secrets' || plural === 'serviceaccounts';
  let p = (core ? '/api/v1' : KILN) + (ns ? `/namespaces/${encodeURIComponent(ns)}` : '') + `/${plural}`;
  if (name) p += `/${encodeURIComponent(name)}`;
  if (sub) p += `/${sub}`;
  return p;
}

async function failure(res: Response): Promise<ApiError> {
  let msg = `${res.status} ${res.statusText}`;
  try {
    const body = await res.json();
    if (body && body.message) msg = body.message;
  } catch {
    /* not JSON */
  }
  return new ApiError(res.status, msg);
}

export async function send(method: string, url: string, body?: unknown, contentType = 'application/json'): Promise<Response> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD') headers['X-Kiln-CSRF'] = csrf || '1';
  if (body !== undefined) headers['Content-Type'] = contentType;
  const res = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
    cache: 'no-store',
  });
  if (!res.ok) throw await failure(res);
  return res;
}

export async function getJSON<T = any>(url: string): Promise<T> {
  return (await send('GET', url)).json();
}

export async function getText(url: string): Promise<string> {
  return (await send('GET', url)).text();
}

export async function patch(url: string, body: unknown): Promise<Obj> {
  return (await send('PATCH', url, body, 'application/merge-patch+json')).json();
}

export interface ListOpts {
  limit?: number;
  cont?: string;
  fieldSelector?: string;
  labelSelector?: string;
}

export function query(o: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(o)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? '?' + s : '';
}

export function list<T = Obj>(ns: string, plural: string, o: ListOpts = {}): Promise<ListResult<T>> {
  return getJSON(
    path(ns, plural) +
      query({ limit: o.limit, continue: o.cont, fieldSelector: o.fieldSelector, labelSelector: o.labelSelector }),
  );
}

/** listAll follows continue tokens up to max items. */
export async function listAll<T = Obj>(ns: string, plural: string, o: ListOpts = {}, max = 5000): Promise<ListResult<T>> {
  const out: T[] = [];
  let cont: string | undefined;
  let rv: string | undefined;
  do {
    const page = await list<T>(ns, plural, { ...o, limit: o.limit || 500, cont });
    out.push(...page.items);
    rv = rv || page.metadata.resourceVersion;
    cont = page.metadata.continue;
  } while (cont && out.length < max);
  return { items: out, metadata: { resourceVersion: rv, continue: cont } };
}

export interface WatchEvent<T = Obj> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'ERROR';
  object: T;
}

/** splitLines feeds text chunks and returns whole lines, keeping the rest. */
export function splitLines(buf: string, chunk: string): [string[], string] {
  const all = buf + chunk;
  const parts = all.split('\n');
  const rest = parts.pop() as string;
  return [parts.filter((l) => l.trim() !== ''), rest];
}

export interface Watch {
  stop(): void;
}

/**
 * watch streams a collection's events from resourceVersion rv on (the
 * API's ?watch=1), resuming from the last version seen when the stream
 * ends; onExpired is called when the server has compacted past it (the
 * caller lists again).
 */
export function watch<T extends Obj = Obj>(
  url: string,
  rv: string | undefined,
  onEvent: (e: WatchEvent<T>) => void,
  onExpired?: () => void,
): Watch {
  let stopped = false;
  let ctrl = new AbortController();
  let last = rv;
  let failures = 0;
  const run = async () => {
    while (!stopped) {
      ctrl = new AbortController();
      try {
        const sep = url.includes('?') ? '&' : '?';
        const res = await fetch(`${url}${sep}watch=1${last ? '&resourceVersion=' + last : ''}`, {
          credentials: 'same-origin',
          signal: ctrl.signal,
          headers: { Accept: 'application/json' },
        });
        if (!res.ok || !res.body) throw await failure(res);
        failures = 0;
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          const [lines, rest] = splitLines(buf, value);
          buf = rest;
          for (const line of lines) {
            const ev = JSON.parse(line) as WatchEvent<T>;
            if (ev.type === 'ERROR') {
              if ((ev.object as any).code === 410 && onExpired) {
                stopped = true;
                onExpired();
              }
              break;
            }
            last = ev.object.metadata.resourceVersion || last;
            onEvent(ev);
          }
        }
      } catch (e) {
        if (stopped) return;
        if (e instanceof ApiError && (e.code === 401 || e.code === 403)) return;
        failures++;
      }
      if (!stopped) await new Promise((r) => setTimeout(r, Math.min(5000, 250 * 2 ** failures)));
    }
  };
  run();
  return {
    stop() {
      stopped = true;
      ctrl.abort();
    },
  };
}

/** streamText reads a growing text resource (a followed log). */
export async function streamText(url: string, onChunk: (s: string) => void, signal: AbortSignal): Promise<void> {
  const res = await fetch(url, { credentials: 'same-origin', signal, cache: 'no-store' });
  if (!res.ok || !res.body) throw await failure(res);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    onChunk(value);
  }
}

/** applyEvent folds a watch event into a list keyed by name. */
export function applyEvent<T extends Obj>(items: T[], ev: WatchEvent<T>): T[] {
  const name = ev.object.metadata.name;
  const i = items.findIndex((o) => o.metadata.name === name);
  if (ev.type === 'DELETED') return i < 0 ? items : items.filter((_, j) => j !== i);
  if (i < 0) return [ev.object, ...items];
  const next = items.slice();
  next[i] = ev.object;
  return next;
}
