import { useEffect, useRef, useState } from 'preact/hooks';
import { streamText } from '../api';
import { LogBuffer, firstError, matches, shouldFollow } from '../model';

/**
 * LogView streams a log (following it while the work runs), with search,
 * jump to the first error, and download of the raw log.
 */
export function LogView({ url, live, title = 'Log' }: { url: string; live: boolean; title?: string }) {
  const [lines, setLines] = useState<string[]>([]);
  const [dropped, setDropped] = useState(0);
  const [error, setError] = useState('');
  const [follow, setFollow] = useState(true);
  const [q, setQ] = useState('');
  const [hit, setHit] = useState(0);
  const [focus, setFocus] = useState(-1);
  const [streaming, setStreaming] = useState(false);
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const ctrl = new AbortController();
    const buf = new LogBuffer();
    let pending = false;
    setLines([]);
    setError('');
    setStreaming(true);
    const flush = () => {
      pending = false;
      setLines(buf.all().slice());
      setDropped(buf.dropped);
    };
    streamText(url + (live ? (url.includes('?') ? '&' : '?') + 'follow=true' : ''), (chunk) => {
      buf.push(chunk);
      if (!pending) {
        pending = true;
        requestAnimationFrame(flush);
      }
    }, ctrl.signal)
      .then(flush, (e) => {
        if (!ctrl.signal.aborted) setError(String(e.message || e));
      })
      .finally(() => !ctrl.signal.aborted && setStreaming(false));
    return () => ctrl.abort();
  }, [url, live]);
  useEffect(() => {
    const el = box.current;
    if (el && follow && focus < 0) el.scrollTop = el.scrollHeight;
  }, [lines, follow]);
  const found = matches(lines, q);
  const foundSet = new Set(found);
  const jump = (i: number) => {
    setFocus(i);
    setFollow(false);
    const el = box.current?.querySelector(`[data-line="${i}"]`) as HTMLElement | null;
    if (el && box.current) box.current.scrollTop = el.offsetTop - box.current.clientHeight / 3;
  };
  const errAt = firstError(lines);
  return (
    <div class="logview">
      <div class="logbar" role="toolbar" aria-label={`${title} tools`}>
        <label class="check"><input type="checkbox" checked={follow} onChange={(e) => {
          setFollow((e.target as HTMLInputElement).checked);
          setFocus(-1);
        }} /> Follow</label>
        <label>Search <input type="search" value={q} onInput={(e) => {
          setQ((e.target as HTMLInputElement).value);
          setHit(0);
        }} /></label>
        <button type="button" disabled={!found.length} onClick={() => {
          const i = (hit + 1) % found.length;
          setHit(i);
          jump(found[i]);
        }}>Next match</button>
        <span class="muted" aria-live="polite">{q ? `${found.length} matches` : ''}</span>
        <button type="button" disabled={errAt < 0} onClick={() => jump(errAt)}>Jump to first error</button>
        <a class="raw" href={url} download>Download</a>
        <span class="muted">{streaming && live ? 'streaming…' : `${lines.length} lines`}</span>
      </div>
      {error && <p role="alert" class="error">{error}</p>}
      <div
        class="log"
        ref={box}
        tabIndex={0}
        role="log"
        aria-label={title}
        onScroll={(e) => {
          const el = e.target as HTMLElement;
          const atBottom = shouldFollow(el.scrollTop, el.clientHeight, el.scrollHeight);
          if (atBottom !== follow && streaming) setFollow(atBottom);
        }}
      >
        {dropped > 0 && <div class="muted">… {dropped} earlier lines not shown: download the whole log</div>}
        {lines.map((l, i) => (
          <div key={i} data-line={i} class={`ln${i === focus ? ' focus' : ''}${foundSet.has(i) ? ' match' : ''}${i === errAt ? ' errline' : ''}`}>
            <span class="no" aria-hidden="true">{i + 1}</span>
            {l}
          </div>
        ))}
      </div>
    </div>
  );
}
