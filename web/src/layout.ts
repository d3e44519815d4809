// Layered layout of a dependency graph (dependencies left of their
// dependants), cycles found and drawn as back edges, the critical path
// and an estimated finish. Pure and linear-ish: 1,000 nodes lay out in a
// few milliseconds. Unit tested in test/layout.test.ts.

export interface GNode {
  id: string;
  /** ids this node depends on (built before it) */
  deps: string[];
  /** estimated or measured duration in seconds */
  weight?: number;
  /** seconds of work left (0 when finished); defaults to weight */
  remaining?: number;
}

export interface Placed {
  id: string;
  layer: number;
  order: number;
  x: number;
  y: number;
}

export interface Edge {
  from: string;
  to: string;
  back: boolean;
  critical: boolean;
}

export interface Layout {
  nodes: Map<string, Placed>;
  edges: Edge[];
  layers: string[][];
  critical: Set<string>;
  /** seconds until everything left is done, along the longest remaining chain */
  remaining: number;
  width: number;
  height: number;
}

export const NODE_W = 170;
export const NODE_H = 34;
const GAP_X = 70;
const GAP_Y = 14;

/** backEdges finds edges that close cycles (iterative DFS, stable order). */
export function backEdges(nodes: GNode[]): Set<string> {
  const deps = new Map(nodes.map((n) => [n.id, n.deps.filter((d) => d !== n.id)]));
  const state = new Map<string, number>(); // 1 on stack, 2 done
  const back = new Set<string>();
  for (const root of nodes) {
    if (state.get(root.id)) continue;
    const stack: [string, number][] = [[root.id, 0]];
    state.set(root.id, 1);
    while (stack.length) {
      const top = stack[stack.length - 1];
      const ds = deps.get(top[0]) || [];
      if (top[1] >= ds.length) {
        state.set(top[0], 2);
        stack.pop();
        continue;
      }
      const d = ds[top[1]++];
      if (!deps.has(d)) continue;
      const s = state.get(d);
      if (s === 1) back.add(`${top[0]}>${d}`);
      else if (!s) {
        state.set(d, 1);
        stack.push([d, 0]);
      }
    }
  }
  for (const n of nodes) if (n.deps.includes(n.id)) back.add(`${n.id}>${n.id}`);
  return back;
}

/** topo orders nodes so each comes after its (forward) dependencies. */
function topo(nodes: GNode[], fwd: Map<string, string[]>): string[] {
  const indeg = new Map<string, number>(nodes.map((n) => [n.id, (fwd.get(n.id) || []).length]));
  const dependants = new Map<string, string[]>();
  for (const n of nodes) for (const d of fwd.get(n.id) || []) dependants.set(d, [...(dependants.get(d) || []), n.id]);
  const queue = nodes.filter((n) => indeg.get(n.id) === 0).map((n) => n.id);
  const out: string[] = [];
  for (let i = 0; i < queue.length; i++) {
    const id = queue[i];
    out.push(id);
    for (const m of dependants.get(id) || []) {
      indeg.set(m, (indeg.get(m) as number) - 1);
      if (indeg.get(m) === 0) queue.push(m);
    }
  }
  return out;
}

export function layout(nodes: GNode[]): Layout {
  const ids = new Set(nodes.map((n) => n.id));
  const back = backEdges(nodes);
  const fwd = new Map<string, string[]>();
  for (const n of nodes) fwd.set(n.id, n.deps.filter((d) => ids.has(d) && !back.has(`${n.id}>${d}`)));
  const order = topo(nodes, fwd);
  const layer = new Map<string, number>();
  for (const id of order) layer.set(id, Math.max(-1, ...(fwd.get(id) || []).map((d) => layer.get(d) as number)) + 1);
  const layers: string[][] = [];
  for (const id of order) (layers[layer.get(id) as number] ||= []).push(id);
  for (const l of layers) l.sort();
  orderLayers(layers, fwd);
  const placed = new Map<string, Placed>();
  let height = 0;
  layers.forEach((l, li) =>
    l.forEach((id, oi) => {
      const p = { id, layer: li, order: oi, x: li * (NODE_W + GAP_X), y: oi * (NODE_H + GAP_Y) };
      placed.set(id, p);
      height = Math.max(height, p.y + NODE_H);
    }),
  );
  const { critical, remaining } = criticalPath(nodes, fwd, order);
  const edges: Edge[] = [];
  for (const n of nodes)
    for (const d of n.deps)
      if (ids.has(d))
        edges.push({ from: d, to: n.id, back: back.has(`${n.id}>${d}`), critical: critical.has(d) && critical.has(n.id) && !back.has(`${n.id}>${d}`) });
  return { nodes: placed, edges, layers, critical, remaining, width: layers.length * (NODE_W + GAP_X), height };
}

/** orderLayers reduces crossings with barycentre sweeps. */
function orderLayers(layers: string[][], fwd: Map<string, string[]>) {
  const dependants = new Map<string, string[]>();
  for (const [id, ds] of fwd) for (const d of ds) dependants.set(d, [...(dependants.get(d) || []), id]);
  const pos = new Map<string, number>();
  const index = () => layers.forEach((l) => l.forEach((id, i) => pos.set(id, i)));
  index();
  const sweep = (l: string[], nbrs: (id: string) => string[]) => {
    const bc = new Map<string, number>();
    l.forEach((id, i) => {
      const ns = nbrs(id);
      bc.set(id, ns.length ? ns.reduce((s, n) => s + (pos.get(n) as number), 0) / ns.length : i);
    });
    l.sort((a, b) => (bc.get(a) as number) - (bc.get(b) as number) || (a < b ? -1 : 1));
    l.forEach((id, i) => pos.set(id, i));
  };
  for (let it = 0; it < 4; it++) {
    for (let i = 1; i < layers.length; i++) sweep(layers[i], (id) => fwd.get(id) || []);
    for (let i = layers.length - 2; i >= 0; i--) sweep(layers[i], (id) => dependants.get(id) || []);
  }
}

/**
 * criticalPath is the chain with the most work left (remaining seconds),
 * falling back to weights, then to node count; remaining is its length.
 */
function criticalPath(nodes: GNode[], fwd: Map<string, string[]>, order: string[]) {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  // While work is left, the chain with the most of it; once all is done,
  // the chain that took longest.
  const left = nodes.some((n) => (n.remaining ?? 0) > 0);
  const cost = (id: string) => {
    const n = byId.get(id) as GNode;
    return (left ? n.remaining : undefined) ?? n.weight ?? 1;
  };
  const dist = new Map<string, number>();
  const prev = new Map<string, string | undefined>();
  for (const id of order) {
    let best: string | undefined;
    for (const d of fwd.get(id) || []) if (best === undefined || (dist.get(d) as number) > (dist.get(best) as number)) best = d;
    dist.set(id, cost(id) + (best ? (dist.get(best) as number) : 0));
    prev.set(id, best);
  }
  let end: string | undefined;
  for (const id of order) if (end === undefined || (dist.get(id) as number) > (dist.get(end) as number)) end = id;
  const critical = new Set<string>();
  for (let c = end; c; c = prev.get(c)) critical.add(c);
  return { critical, remaining: end ? (dist.get(end) as number) : 0 };
}

/** estimate fills weight/remaining from measured durations and elapsed time. */
export function estimate(
  states: Map<string, string>,
  durations: Map<string, number>,
  elapsed: Map<string, number>,
): (id: string) => { weight: number; remaining: number } {
  const known = [...durations.values()];
  const avg = known.length ? known.reduce((a, b) => a + b, 0) / known.length : 30;
  return (id) => {
    const st = states.get(id);
    const w = durations.get(id) ?? avg;
    if (st === 'succeeded' || st === 'unchanged' || st === 'failed' || st === 'cancelled' || st === 'blocked' || st === 'unresolvable')
      return { weight: w, remaining: 0 };
    if (st === 'building') return { weight: w, remaining: Math.max(1, w - (elapsed.get(id) || 0)) };
    return { weight: w, remaining: w };
  };
}
