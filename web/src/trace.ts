// The trace view's logic: the API's trace answer (internal/trace.Result,
// docs/trace.md) turned into a tree, how each edge is trusted in words,
// where nodes link to, and what was left out. Unit tested in
// test/trace.test.ts against the trace package's golden files.

import { KILN, query } from './api';

export type Direction = 'up' | 'down';
export type Trust = 'verified' | 'kiln-record' | 'unverified';

export interface TraceNode {
  id: string;
  kind: string;
  namespace: string;
  key: string;
  label: string;
  attrs?: Record<string, string>;
  depth: number;
  /** neighbours in namespaces the caller cannot read: the trace was cut here */
  cut?: number;
}
export interface TraceSource {
  record?: string;
  origin: string;
  trust: Trust;
  keyId?: string;
  reason?: string;
  detail?: string;
}
export interface TraceEdge {
  from: string;
  to: string;
  kind: string;
  trust: Trust;
  sources: TraceSource[];
}
export interface TraceResult {
  direction: Direction;
  ref: string;
  roots: string[];
  nodes: TraceNode[];
  edges: TraceEdge[];
  cut: number;
  truncated: boolean;
  depth?: number;
  limit: number;
}

/** A tree item: a node, the edge that reached it (none for a root). */
export interface TreeItem {
  key: string;
  node: TraceNode;
  edge?: TraceEdge;
  children: TreeItem[];
  /** shown (with its children) earlier in the tree */
  repeat: boolean;
}

export function isDirection(s: string | null | undefined): s is Direction {
  return s === 'up' || s === 'down';
}

/** traceAPI is the endpoint of a trace (GET, the session's cookie). */
export function traceAPI(dir: Direction, ref: string, ns: string, depth?: number, limit?: number): string {
  return `${KILN}/trace/${dir}` + query({ ref, namespace: ns, depth: depth || undefined, limit: limit || undefined });
}

/** tracePage is the UI's address of a trace. */
export function tracePage(ns: string, dir: Direction, ref: string, o: { depth?: number; limit?: number } = {}): string {
  return `/ns/${encodeURIComponent(ns)}/trace` + query({ dir, ref, depth: o.depth || undefined, limit: o.limit || undefined });
}

/** TraceParams is what the page's address asks for. */
export interface TraceParams {
  dir: Direction;
  ref: string;
  depth?: number;
  limit?: number;
  /** what is wrong with the address, said before asking the API */
  error?: string;
}

/**
 * parseTraceParams reads ?dir=up|down&ref=…&depth=N&limit=N. The API
 * judges the reference and the bounds' range; a direction it has no
 * endpoint for, or a bound that is not a number, is refused here.
 */
export function parseTraceParams(q: URLSearchParams): TraceParams {
  const d = q.get('dir');
  const p: TraceParams = { dir: isDirection(d) ? d : 'up', ref: (q.get('ref') || '').trim() };
  if (d !== null && !isDirection(d)) p.error = `direction "${d}": use up or down`;
  for (const k of ['depth', 'limit'] as const) {
    const v = q.get(k);
    if (v === null || v === '') continue;
    if (!/^\d+$/.test(v)) p.error = p.error || `${k} "${v}": want a whole number`;
    else p[k] = Number(v);
  }
  return p;
}

/**
 * traceTree lays the answer out as the CLI's tree does: from each root,
 * following edges in the trace's direction; a node met again is shown
 * once more, marked as a repeat, without its children.
 */
export function traceTree(r: TraceResult): TreeItem[] {
  const nodes = new Map(r.nodes.map((n) => [n.id, n]));
  const kids = new Map<string, TraceEdge[]>();
  for (const e of r.edges) {
    const near = r.direction === 'down' ? e.from : e.to;
    kids.set(near, [...(kids.get(near) || []), e]);
  }
  const shown = new Set<string>();
  const grow = (id: string, edge: TraceEdge | undefined, path: string): TreeItem | undefined => {
    const node = nodes.get(id);
    if (!node) return undefined;
    const key = `${path}/${edge ? edge.kind + ':' : ''}${id}`;
    if (shown.has(id)) return { key, node, edge, children: [], repeat: true };
    shown.add(id);
    const children: TreeItem[] = [];
    for (const e of kids.get(id) || []) {
      const c = grow(r.direction === 'down' ? e.to : e.from, e, key);
      if (c) children.push(c);
    }
    return { key, node, edge, children, repeat: false };
  };
  return r.roots.map((id) => grow(id, undefined, '')).filter((x): x is TreeItem => !!x);
}

/** countItems counts the items of a tree (what "expand all" opens). */
export function countItems(items: TreeItem[]): number {
  return items.reduce((n, i) => n + 1 + countItems(i.children), 0);
}

const KIND_LABELS: Record<string, string> = {
  source: 'source repository',
  commit: 'commit',
  build: 'build',
  artifact: 'artifact',
  pipeline: 'pipeline',
  image: 'step image',
  file: 'prefetched file',
  package: 'package (purl)',
  snapshot: 'snapshot',
  release: 'release',
  destination: 'destination',
};

export function kindLabel(kind: string): string {
  return KIND_LABELS[kind] || kind;
}

const TRUST_LABELS: Record<Trust, string> = {
  verified: 'verified',
  'kiln-record': "Kiln's record",
  unverified: 'UNVERIFIED',
};

/** sourceText says what one piece of evidence is and how far it is trusted. */
export function sourceText(s: TraceSource): string {
  const what = `${s.origin}${s.record ? ' of ' + s.record : ''}`;
  switch (s.trust) {
    case 'verified':
      return `${what}: verified attestation${s.keyId ? ', key ' + s.keyId : ''}`;
    case 'kiln-record':
      return `${what}: Kiln's own record`;
  }
  return `${what}: UNVERIFIED — ${s.reason || 'no reason given'}`;
}

/**
 * edgeTrust is what an edge's badge says. An edge is as trusted as its best
 * source; unverified sources are always spelled out beside it, never
 * hidden behind a trusted one (as the CLI's "also UNVERIFIED …").
 */
export function edgeTrust(e: TraceEdge): { level: Trust; label: string; keyIds: string[]; unverified: string[] } {
  const level: Trust = TRUST_LABELS[e.trust] ? e.trust : 'unverified';
  const keyIds = [...new Set(e.sources.filter((s) => s.trust === 'verified' && s.keyId).map((s) => s.keyId as string))];
  const unverified = e.sources
    .filter((s) => s.trust === 'unverified')
    .map((s) => `UNVERIFIED ${s.origin}: ${s.reason || 'no reason given'}`);
  if (level === 'unverified' && unverified.length === 0) unverified.push('UNVERIFIED: no verified evidence');
  return { level, label: TRUST_LABELS[level], keyIds, unverified };
}

/** pageOf is the UI page of a node, when Kiln has one. */
export function pageOf(n: TraceNode): string | undefined {
  const ns = encodeURIComponent(n.namespace);
  switch (n.kind) {
    case 'build':
      if (n.attrs?.external === 'true' || n.key.includes('#')) return undefined; // built elsewhere (an import)
      return `/ns/${ns}/builds/${encodeURIComponent(n.key)}`;
    case 'snapshot':
      return `/ns/${ns}/snapshots/${encodeURIComponent(n.key)}`;
    case 'release':
      return `/ns/${ns}/releases/${encodeURIComponent(n.key)}`;
  }
  return undefined;
}

/** refOf is the reference that traces from a node again; undefined if none can. */
export function refOf(n: TraceNode): string | undefined {
  switch (n.kind) {
    case 'build':
      return pageOf(n) ? `build/${n.key}` : undefined;
    case 'snapshot':
    case 'release':
      return `${n.kind}/${n.key}`;
    case 'destination':
      return n.key.startsWith('static:') ? undefined : n.key;
  }
  return n.key || undefined;
}

/** leftOut says what the trace did not show: the cut and the limit. */
export function leftOut(r: TraceResult): string[] {
  const out: string[] = [];
  if (r.roots.length === 0) out.push('Nothing you can read matches this reference.');
  if (r.cut > 0)
    out.push(`Cut: ${plural(r.cut, 'node')} in namespaces you cannot read — not shown, and the trace did not continue past them.`);
  if (r.truncated) out.push(`Truncated: the trace stopped at ${plural(r.limit, 'node')} (the limit); raise the limit to see more.`);
  return out;
}

/** cutText is the marker on a node where the trace was cut. */
export function cutText(n: TraceNode): string | undefined {
  if (!n.cut) return undefined;
  return `cut here: ${plural(n.cut, 'node')} beyond, in namespaces you cannot read`;
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** What each direction answers, for the form. */
export const DIRECTIONS: [Direction, string][] = [
  ['up', 'Up: what it was made from'],
  ['down', 'Down: what was made with it'],
];
