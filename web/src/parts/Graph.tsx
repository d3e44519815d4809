import { useMemo, useRef, useState } from 'preact/hooks';
import { NODE_H, NODE_W, layout, type GNode } from '../layout';
import { PALETTE, type NodeState } from '../model';

export interface ViewNode extends GNode {
  label: string;
  state: NodeState;
  href?: string;
  note?: string;
  cycle?: number;
}

/**
 * Graph draws a dependency graph as layered SVG: nodes coloured by state,
 * cycle-closing edges dashed red, the critical path thick; pan by dragging
 * or with the arrow keys, zoom with the wheel or the buttons, search to
 * find and centre a node.
 */
export function Graph({ nodes, label }: { nodes: ViewNode[]; label: string }) {
  const shape = nodes.map((n) => n.id + ':' + n.deps.join(',') + ':' + Math.round(n.remaining ?? -1)).join('|');
  const lay = useMemo(() => layout(nodes), [shape]);
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const [view, setView] = useState({ x: -10, y: -10, k: nodes.length > 60 ? 0.6 : 1 });
  const [q, setQ] = useState('');
  const drag = useRef<{ x: number; y: number } | null>(null);
  const box = useRef<SVGSVGElement>(null);
  const hits = q ? nodes.filter((n) => n.label.toLowerCase().includes(q.toLowerCase())).map((n) => n.id) : [];
  const hitSet = new Set(hits);
  const W = 1300;
  const H = 520;
  const zoom = (f: number, cx = W / 2, cy = H / 2) =>
    setView((v) => {
      const k = Math.min(3, Math.max(0.05, v.k * f));
      return { k, x: v.x + cx / v.k - cx / k, y: v.y + cy / v.k - cy / k };
    });
  const centre = (id: string) => {
    const p = lay.nodes.get(id);
    if (p) setView((v) => ({ ...v, x: p.x + NODE_W / 2 - W / 2 / v.k, y: p.y + NODE_H / 2 - H / 2 / v.k }));
  };
  const fit = () => {
    const k = Math.min(W / (lay.width + 20), H / (lay.height + 20), 1.5);
    setView({ x: -10, y: -10, k });
  };
  const onKey = (e: KeyboardEvent) => {
    const step = 60 / view.k;
    const d: Record<string, [number, number]> = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    if (d[e.key]) {
      e.preventDefault();
      setView((v) => ({ ...v, x: v.x + d[e.key][0], y: v.y + d[e.key][1] }));
    } else if (e.key === '+' || e.key === '=') zoom(1.25);
    else if (e.key === '-') zoom(0.8);
  };
  return (
    <div class="graph">
      <div class="graphbar" role="toolbar" aria-label={`${label} controls`}>
        <label>Find <input type="search" value={q} onInput={(e) => setQ((e.target as HTMLInputElement).value)}
          onKeyDown={(e) => e.key === 'Enter' && hits.length && centre(hits[0])} /></label>
        <button type="button" disabled={!hits.length} onClick={() => centre(hits[0])}>Show</button>
        <span class="muted" aria-live="polite">{q ? `${hits.length} found` : ''}</span>
        <button type="button" onClick={() => zoom(1.25)} aria-label="Zoom in">+</button>
        <button type="button" onClick={() => zoom(0.8)} aria-label="Zoom out">−</button>
        <button type="button" onClick={fit}>Fit</button>
        <Legend />
      </div>
      <svg
        ref={box}
        class="canvas"
        role="group"
        aria-label={`${label}: ${nodes.length} nodes; arrow keys pan, + and − zoom`}
        tabIndex={0}
        viewBox={`${view.x} ${view.y} ${W / view.k} ${H / view.k}`}
        preserveAspectRatio="xMinYMin meet"
        onKeyDown={onKey}
        onWheel={(e) => {
          e.preventDefault();
          const r = box.current!.getBoundingClientRect();
          zoom(e.deltaY < 0 ? 1.15 : 0.87, ((e.clientX - r.left) / r.width) * W, ((e.clientY - r.top) / r.height) * H);
        }}
        onPointerDown={(e) => {
          if ((e.target as Element).closest('a')) return;
          drag.current = { x: e.clientX, y: e.clientY };
          (e.currentTarget as Element).setPointerCapture(e.pointerId);
        }}
        onPointerMove={(e) => {
          if (!drag.current) return;
          const r = box.current!.getBoundingClientRect();
          const dx = ((e.clientX - drag.current.x) / r.width) * (W / view.k);
          const dy = ((e.clientY - drag.current.y) / r.height) * (H / view.k);
          drag.current = { x: e.clientX, y: e.clientY };
          setView((v) => ({ ...v, x: v.x - dx, y: v.y - dy }));
        }}
        onPointerUp={() => (drag.current = null)}
      >
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" markerUnits="userSpaceOnUse" orient="auto-start-reverse">
            <path d="M0,0 L10,5 L0,10 z" fill="#4b5563" />
          </marker>
        </defs>
        <g class="edges">
          {lay.edges.map((e) => {
            const a = lay.nodes.get(e.from)!;
            const b = lay.nodes.get(e.to)!;
            const x1 = a.x + NODE_W, y1 = a.y + NODE_H / 2, x2 = b.x, y2 = b.y + NODE_H / 2;
            const d = e.back
              ? `M${a.x + NODE_W / 2},${a.y} C${a.x + NODE_W / 2},${a.y - 60} ${b.x + NODE_W / 2},${b.y - 60} ${b.x + NODE_W / 2},${b.y}`
              : `M${x1},${y1} C${x1 + 35},${y1} ${x2 - 35},${y2} ${x2},${y2}`;
            return <path key={e.from + '>' + e.to} d={d} class={`edge${e.back ? ' back' : ''}${e.critical ? ' critical' : ''}`} marker-end="url(#arrow)" />;
          })}
        </g>
        <g class="nodes">
          {[...lay.nodes.values()].map((p) => {
            const n = byId.get(p.id)!;
            const c = PALETTE[n.state];
            const cls = `node${lay.critical.has(p.id) ? ' critical' : ''}${hitSet.has(p.id) ? ' hit' : ''}${n.cycle ? ' cycle' : ''}`;
            const body = (
              <>
                <title>{`${n.label}: ${c.label}`}</title>
                <rect x={p.x} y={p.y} width={NODE_W} height={NODE_H} rx="5" fill={c.fill} stroke={c.stroke} />
                <text x={p.x + 8} y={p.y + 14} fill={c.text} class="nl">{n.label.length > 22 ? n.label.slice(0, 21) + '…' : n.label}</text>
                <text x={p.x + 8} y={p.y + 28} fill={c.text} class="ns">{c.label}{n.cycle ? ` · cycle ${n.cycle}` : ''}{n.note ? ` · ${n.note}` : ''}</text>
              </>
            );
            return (
              <g key={p.id} class={cls} data-node={p.id} data-state={n.state}>
                {n.href ? <a href={n.href}>{body}</a> : body}
              </g>
            );
          })}
        </g>
      </svg>
    </div>
  );
}

function Legend() {
  return (
    <ul class="legend" aria-label="Legend">
      {(Object.keys(PALETTE) as NodeState[]).map((s) => <li key={s}><span class={`swatch st-${s}`} aria-hidden="true" />{PALETTE[s].label}</li>)}
      <li><span class="swatch critical" aria-hidden="true" />critical path</li>
      <li><span class="swatch back" aria-hidden="true" />cycle edge</li>
    </ul>
  );
}
