import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { applyEvent, list, path, watch, type ListOpts, type Obj, type WatchEvent } from '../api';
import { PALETTE, ago, short, type NodeState } from '../model';

export function useAsync<T>(fn: () => Promise<T>, deps: unknown[]): { data?: T; error?: string; reload: () => void } {
  const [state, setState] = useState<{ data?: T; error?: string }>({});
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    fn().then(
      (data) => live && setState({ data }),
      (e) => live && setState({ error: String(e.message || e) }),
    );
    return () => {
      live = false;
    };
  }, [...deps, n]);
  return { ...state, reload: () => setN((x) => x + 1) };
}

export function Badge({ state, text }: { state: NodeState; text?: string }) {
  const c = PALETTE[state];
  return <span class={`badge st-${state}`}>{text || c.label}</span>;
}

export function Digest({ d }: { d?: string }) {
  if (!d) return <span class="muted">—</span>;
  return <code class="digest" title={d}>{short(d)}</code>;
}

export function When({ t }: { t?: string }) {
  return <time dateTime={t} title={t}>{ago(t)}</time>;
}

export function Err({ e }: { e?: string }) {
  return e ? <p role="alert" class="error">{e}</p> : null;
}

export function Section({ title, children, id }: { title: string; children: ComponentChildren; id?: string }) {
  return (
    <section aria-labelledby={id || title.replace(/\W+/g, '-').toLowerCase()}>
      <h2 id={id || title.replace(/\W+/g, '-').toLowerCase()}>{title}</h2>
      {children}
    </section>
  );
}

export function link(ns: string, kind: string, name: string) {
  return `/ns/${encodeURIComponent(ns)}/${kind}/${encodeURIComponent(name)}`;
}

/**
 * usePagedList shows one page of a collection (served by the API's
 * limit/continue pages) and keeps it live with a watch from the page's
 * resource version: changed rows update in place, new ones appear on top.
 */
export function usePagedList(ns: string, plural: string, opts: ListOpts, pageSize = 50, live = true) {
  const [pages, setPages] = useState<(string | undefined)[]>([undefined]);
  const [items, setItems] = useState<Obj[]>([]);
  const [next, setNext] = useState<string | undefined>();
  const [error, setError] = useState<string>();
  const [loading, setLoading] = useState(true);
  const key = `${ns}|${plural}|${opts.fieldSelector}|${opts.labelSelector}`;
  const cur = pages[pages.length - 1];
  useEffect(() => setPages([undefined]), [key]);
  useEffect(() => {
    let w: { stop(): void } | undefined;
    let live_ = true;
    setLoading(true);
    list(ns, plural, { ...opts, limit: pageSize, cont: cur }).then(
      (res) => {
        if (!live_) return;
        setItems(res.items);
        setNext(res.metadata.continue);
        setError(undefined);
        setLoading(false);
        if (live) {
          const sel = opts.fieldSelector ? `?fieldSelector=${encodeURIComponent(opts.fieldSelector)}` : '';
          w = watch(path(ns, plural) + sel, res.metadata.resourceVersion, (ev: WatchEvent) => {
            setItems((xs) => {
              const known = xs.some((x) => x.metadata.name === ev.object.metadata.name);
              if (!known && (ev.type !== 'ADDED' || cur)) return xs;
              return applyEvent(xs, ev);
            });
          });
        }
      },
      (e) => live_ && (setError(String(e.message || e)), setLoading(false)),
    );
    return () => {
      live_ = false;
      w?.stop();
    };
  }, [key, cur]);
  return {
    items,
    error,
    loading,
    page: pages.length,
    hasNext: !!next,
    hasPrev: pages.length > 1,
    nextPage: () => next && setPages((p) => [...p, next]),
    prevPage: () => setPages((p) => (p.length > 1 ? p.slice(0, -1) : p)),
  };
}

export function Pager({ p }: { p: ReturnType<typeof usePagedList> }) {
  return (
    <div class="pager">
      <button type="button" onClick={p.prevPage} disabled={!p.hasPrev}>← Previous</button>
      <span>Page {p.page}</span>
      <button type="button" onClick={p.nextPage} disabled={!p.hasNext}>Next →</button>
    </div>
  );
}

/** useWatched keeps one object live by its name. */
export function useWatched(ns: string, plural: string, name: string, get: () => Promise<Obj>) {
  const [obj, setObj] = useState<Obj>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    let w: { stop(): void } | undefined;
    let live = true;
    setObj(undefined);
    get().then(
      (o) => {
        if (!live) return;
        setObj(o);
        w = watch(`${path(ns, plural)}?fieldSelector=${encodeURIComponent('metadata.name=' + name)}`, o.metadata.resourceVersion, (ev) => {
          if (ev.type !== 'DELETED') setObj(ev.object);
        });
      },
      (e) => live && setError(String(e.message || e)),
    );
    return () => {
      live = false;
      w?.stop();
    };
  }, [ns, plural, name]);
  return { obj, error };
}

/** useTick re-renders every ms milliseconds (running durations). */
export function useTick(ms = 1000) {
  const [, set] = useState(0);
  const t = useRef<number>();
  useEffect(() => {
    t.current = window.setInterval(() => set((n) => n + 1), ms);
    return () => clearInterval(t.current);
  }, [ms]);
}

export function Raw({ href, label, file }: { href: string; label: string; file?: string }) {
  return <a class="raw" href={href} download={file || true}>{label}</a>;
}
