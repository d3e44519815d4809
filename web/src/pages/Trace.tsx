import { useEffect, useState } from 'preact/hooks';
import { getJSON } from '../api';
import { navigate, useLocation } from '../router';
import {
  DIRECTIONS, countItems, cutText, edgeTrust, kindLabel, leftOut, pageOf, parseTraceParams, plural, refOf, sourceText,
  traceAPI, tracePage, traceTree, type Direction, type TraceParams, type TraceEdge, type TraceNode, type TraceResult, type TreeItem,
} from '../trace';
import { Raw, Section } from '../parts/common';
import { short } from '../model';

/**
 * Trace is `kiln trace` in the page: /ns/NS/trace?dir=up|down&ref=REF
 * asks the API's trace endpoint (as the signed-in user, so the cuts are
 * theirs) and shows the answer as a tree with every edge's evidence.
 */
export function Trace({ ns }: { ns: string }) {
  const loc = useLocation();
  const p = parseTraceParams(new URLSearchParams(loc.search));
  const { dir, ref, depth, limit } = p;
  const [state, setState] = useState<{ res?: TraceResult; error?: string; loading?: boolean }>({});
  useEffect(() => {
    if (!ref || p.error) return setState({});
    let live = true;
    setState({ loading: true });
    getJSON<TraceResult>(traceAPI(dir, ref, ns, depth, limit)).then(
      (res) => live && setState({ res }),
      (e) => live && setState({ error: String(e.message || e) }),
    );
    return () => {
      live = false;
    };
  }, [ns, loc.search]);
  const error = p.error || state.error;
  return (
    <>
      <h1>Trace</h1>
      <TraceForm ns={ns} params={p} />
      {state.loading && <p class="muted" role="status">Tracing {dir} from {ref}…</p>}
      {error && (
        <p role="alert" class="error" id="trace-error">
          Cannot trace {dir} from <code>{ref}</code>: {error}
        </p>
      )}
      {state.res && <TraceView ns={ns} params={p} res={state.res} />}
    </>
  );
}

function TraceForm({ ns, params }: { ns: string; params: TraceParams }) {
  const [d, setD] = useState<Direction>(params.dir);
  const [r, setR] = useState(params.ref);
  const [limit, setLimit] = useState(params.limit ? String(params.limit) : '');
  const [depth, setDepth] = useState(params.depth ? String(params.depth) : '');
  useEffect(() => {
    setD(params.dir);
    setR(params.ref);
    setLimit(params.limit ? String(params.limit) : '');
    setDepth(params.depth ? String(params.depth) : '');
  }, [params.dir, params.ref, params.limit, params.depth]);
  const submit = (e: Event) => {
    e.preventDefault();
    navigate(tracePage(ns, d, r.trim(), { limit: Number(limit) || undefined, depth: Number(depth) || undefined }));
  };
  const num = (set: (v: string) => void) => (e: Event) => set((e.target as HTMLInputElement).value);
  return (
    <form class="traceform" role="search" aria-label="Trace" onSubmit={submit}>
      <fieldset class="dirs">
        <legend class="sr-only">Direction</legend>
        {DIRECTIONS.map(([v, label]) => (
          <label key={v} class="check">
            <input type="radio" name="dir" value={v} checked={d === v} onChange={() => setD(v)} /> {label}
          </label>
        ))}
      </fieldset>
      <label class="refbox">
        <span>Reference</span>
        <input id="trace-ref" type="search" value={r} required spellcheck={false} autoComplete="off"
          aria-describedby="trace-ref-help" onInput={(e) => setR((e.target as HTMLInputElement).value)} />
      </label>
      <label class="numbox">
        <span>Depth</span>
        <input id="trace-depth" type="number" min={0} value={depth} placeholder="all" onInput={num(setDepth)} />
      </label>
      <label class="numbox">
        <span>Limit (nodes)</span>
        <input id="trace-limit" type="number" min={1} value={limit} placeholder="1000" onInput={num(setLimit)} />
      </label>
      <button type="submit">Trace</button>
      <p id="trace-ref-help" class="muted help">
        <code>build/NAME</code>, <code>snapshot/NAME</code>, <code>release/NAME</code> (in {ns}),{' '}
        an artifact <code>REPOSITORY@sha256:…</code> or <code>sha256:…</code>, a source <code>URL</code> or{' '}
        <code>URL@COMMIT</code> (the full hash), a commit, or a purl with an optional version range:{' '}
        <code>pkg:golang/golang.org/x/net@&lt;0.23.0</code>, <code>pkg:npm/left-pad@&gt;=1.0.0|&lt;1.3.0</code>.
      </p>
    </form>
  );
}

export function TraceView({ ns, params, res }: { ns: string; params: TraceParams; res: TraceResult }) {
  const { dir, ref: refText } = params;
  const tree = traceTree(res);
  // Expand/collapse all re-mounts the tree with every item open or closed.
  const [all, setAll] = useState<{ open: boolean; gen: number }>({ open: true, gen: 0 });
  const notes = leftOut(res);
  return (
    <Section title={`${dir === 'up' ? 'Made from' : 'Made with it'}: ${plural(res.nodes.length, 'node')}, ${plural(res.edges.length, 'edge')}`} id="trace-result">
      {notes.length > 0 && (
        <ul class="leftout" aria-label="Left out of this trace">
          {notes.map((n) => <li key={n}>{n}</li>)}
        </ul>
      )}
      <div class="tracebar">
        {tree.length > 0 && (
          <>
            <button type="button" onClick={() => setAll({ open: true, gen: all.gen + 1 })}>Expand all</button>
            <button type="button" onClick={() => setAll({ open: false, gen: all.gen + 1 })}>Collapse all</button>
          </>
        )}
        <Raw href={traceAPI(dir, refText, ns, params.depth, params.limit)} label="Download raw JSON" file={`trace-${dir}.json`} />
        <TrustLegend />
      </div>
      {tree.length > 0 && (
        <ul class="tracetree" key={all.gen} aria-label={`Trace ${dir} from ${refText}, ${countItems(tree)} entries`}>
          {tree.map((i) => <Item key={i.key} item={i} dir={dir} open={all.open} />)}
        </ul>
      )}
    </Section>
  );
}

function TrustLegend() {
  return (
    <ul class="legend" aria-label="Edge trust">
      <li><span class="trust trust-verified">verified</span> attestation signature checked, with its key</li>
      <li><span class="trust trust-kiln-record">Kiln's record</span> Kiln's own objects</li>
      <li><span class="trust trust-unverified">UNVERIFIED</span> not trusted, with why</li>
    </ul>
  );
}

function Item({ item, dir, open }: { item: TreeItem; dir: Direction; open: boolean }) {
  const [expanded, setExpanded] = useState(open);
  const has = item.children.length > 0;
  const id = `ti-${item.key.replace(/[^A-Za-z0-9_-]+/g, '_')}`;
  return (
    <li data-kind={item.node.kind} data-id={item.node.id} class={has ? '' : 'leaf'}>
      {has ? (
        <button type="button" class="toggle" aria-expanded={expanded} aria-controls={id} onClick={() => setExpanded(!expanded)}>
          <span aria-hidden="true">{expanded ? '▾' : '▸'}</span>
          <span class="sr-only">{expanded ? 'Collapse' : 'Expand'} {kindLabel(item.node.kind)} {item.node.label}</span>
        </button>
      ) : <span class="toggle-space" aria-hidden="true" />}
      <Row item={item} dir={dir} />
      {has && (
        <ul id={id} hidden={!expanded}>
          {item.children.map((c) => <Item key={c.key} item={c} dir={dir} open={open} />)}
        </ul>
      )}
    </li>
  );
}

function Row({ item, dir }: { item: TreeItem; dir: Direction }) {
  const { node, edge } = item;
  const cut = cutText(node);
  return (
    <div class="row">
      {edge && <EdgeInfo edge={edge} />}
      <span class={`kind kind-${node.kind}`}>{kindLabel(node.kind)}</span>
      <NodeName node={node} />
      <span class="muted nsname">[{node.namespace}]</span>
      {node.attrs?.version && <span class="muted">version {node.attrs.version}</span>}
      {item.repeat && <span class="muted">(see above)</span>}
      {cut && <span class="cuthere">{cut}</span>}
      <Retrace node={node} current={dir} />
    </div>
  );
}

function NodeName({ node }: { node: TraceNode }) {
  const page = pageOf(node);
  const text = node.label || node.key;
  return page ? <a class="nodename" href={page}>{text}</a> : <code class="nodename wrap" title={node.key}>{text}</code>;
}

function EdgeInfo({ edge }: { edge: TraceEdge }) {
  const t = edgeTrust(edge);
  return (
    <span class="edgeinfo" title={edge.sources.map(sourceText).join('\n')}>
      <span class="edgekind">{edge.kind}</span>
      <span class={`trust trust-${t.level}`}>{t.label}</span>
      {t.keyIds.map((k) => <span key={k} class="keyid">key <code title={k}>{short(k, 12)}</code></span>)}
      {t.unverified.map((u) => <span key={u} class="unverified">{t.level === 'unverified' ? u : 'also ' + u}</span>)}
      <span class="sr-only">Evidence: {edge.sources.map(sourceText).join('; ')}</span>
    </span>
  );
}

function Retrace({ node, current }: { node: TraceNode; current: Direction }) {
  const ref = refOf(node);
  if (!ref) return null;
  const other: Direction = current === 'up' ? 'down' : 'up';
  return (
    <a class="retrace" href={tracePage(node.namespace, other, ref)} aria-label={`Trace ${other} from ${kindLabel(node.kind)} ${node.label}`}>
      trace {other}
    </a>
  );
}

/** TraceLinks are the "Trace up / Trace down" links other pages show. */
export function TraceLinks({ ns, up, down }: { ns: string; up?: string; down?: string }) {
  return (
    <span class="tracelinks">
      {up && <a href={tracePage(ns, 'up', up)}>Trace up</a>}
      {down && <a href={tracePage(ns, 'down', down)}>Trace down</a>}
    </span>
  );
}
