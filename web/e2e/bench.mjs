// Browser benchmark of Kiln's web UI (internal/ui TestUIBenchmark, run with
// KILN_UI_BENCH=1): first meaningful paint of the main pages and list
// interaction latency on a namespace with 10,000 components and 100,000
// builds, measured in the page with the Performance API. Prints one JSON
// line "RESULT {...}".
import { chromium } from 'playwright-core';

const env = (k) => process.env[k] ?? (() => { throw new Error(`${k} is not set`); })();
const base = env('KILN_URL');
const ns = env('KILN_NS');
const browser = await chromium.launch({
  executablePath: env('KILN_CHROMIUM'),
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
});
const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1360, height: 900 } });
// Before any page script: note when the first list row is drawn (the
// meaningful paint of a list page) and the paint entries.
await context.addInitScript(() => {
  const w = window;
  w.__seen = {};
  const sels = ['table.list tbody tr', '[aria-labelledby="components"] tbody tr'];
  new MutationObserver(() => {
    for (const s of sels)
      if (w.__seen[s] === undefined && document.querySelector(s)) {
        w.__seen[s] = null;
        requestAnimationFrame(() => (w.__seen[s] = performance.now()));
      }
  }).observe(document, { subtree: true, childList: true });
});
const page = await context.newPage();
await page.goto(`${base}/login#code=${env('KILN_LOGIN_CODE')}&ns=${ns}`);
await page.waitForURL(`${base}/ns/${ns}`);

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] * 10) / 10;
};

/** paint loads a page cold and returns FCP and the first list rows (ms). */
async function paint(path, rows = 'table.list tbody tr') {
  const runs = [];
  for (let i = 0; i < 5; i++) {
    await page.goto(`${base}${path}`);
    await page.waitForFunction((s) => typeof window.__seen[s] === 'number', rows, { timeout: 60_000 });
    runs.push(await page.evaluate((s) => ({
      fcp: performance.getEntriesByName('first-contentful-paint')[0]?.startTime,
      rows: window.__seen[s],
    }), rows));
  }
  return { fcpMs: pct(runs.map((r) => r.fcp), 50), firstRowsMs: pct(runs.map((r) => r.rows), 50), firstRowsP95Ms: pct(runs.map((r) => r.rows), 95) };
}

/**
 * interact clicks selector n times and measures, in the page, the time
 * from the click to the next frame after the list's first row changed.
 */
async function interact(path, selector, rows = 'table.list tbody tr', n = 20) {
  await page.goto(`${base}${path}`);
  await page.waitForSelector(rows);
  const times = [];
  for (let i = 0; i < n; i++) {
    const t = await page.evaluate(([sel, rows]) => new Promise((resolve, reject) => {
      const first = () => document.querySelector(rows)?.textContent;
      const before = first();
      const t0 = performance.now();
      const obs = new MutationObserver(() => {
        if (first() !== before) {
          obs.disconnect();
          requestAnimationFrame(() => resolve(performance.now() - t0));
        }
      });
      obs.observe(document.querySelector('main'), { subtree: true, childList: true, characterData: true });
      const el = document.querySelector(sel);
      if (!el || el.disabled) return reject(new Error(`${sel} is not clickable`));
      el.click();
      setTimeout(() => reject(new Error('no change within 10 s')), 10_000);
    }), [typeof selector === 'function' ? selector(i) : selector, rows]);
    times.push(t);
  }
  return { p50Ms: pct(times, 50), p95Ms: pct(times, 95), n };
}

const COMPONENTS = '[aria-labelledby="components"] tbody tr';
const pageTurn = (i) => (i % 2 ? '.pager button:first-child' : '.pager button:last-child');
const result = {
  overview: await paint(`/ns/${ns}`, COMPONENTS),
  buildsList: await paint(`/ns/${ns}/builds`),
  componentsList: await paint(`/ns/${ns}/components`),
  buildsPaging: await interact(`/ns/${ns}/builds`, pageTurn),
  componentsPaging: await interact(`/ns/${ns}/components`, pageTurn),
  overviewPaging: await interact(`/ns/${ns}`, pageTurn, COMPONENTS),
};
await page.goto(`${base}/ns/${ns}/builds`);
await page.waitForSelector('table.list tbody tr');
await page.screenshot({ path: `${env('KILN_OUT')}/bench-builds.png` });
console.log('RESULT ' + JSON.stringify(result));
await browser.close();
