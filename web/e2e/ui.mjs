// End-to-end test of Kiln's web UI in headless Chromium (playwright-core,
// Debian's chromium; no browser download). Run by internal/ui's
// TestUIEndToEnd, which starts a real factory and answers "STEP name"
// lines on stdout with "DONE name" on stdin once it has done that step.
//
// Environment: KILN_URL, KILN_LOGIN_CODE, KILN_TOKEN (alice's, for the
// pasted-token sign-in), KILN_NS, KILN_FORBIDDEN (newline-separated strings
// of another tenant that must never reach the page), KILN_OUT (screenshots),
// KILN_CHROMIUM.
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const env = (k) => {
  const v = process.env[k];
  if (v === undefined) throw new Error(`${k} is not set`);
  return v;
};
const base = env('KILN_URL');
const ns = env('KILN_NS');
const out = env('KILN_OUT');
const forbidden = env('KILN_FORBIDDEN').split('\n').filter(Boolean);
const axeSource = readFileSync(new URL('../node_modules/axe-core/axe.min.js', import.meta.url), 'utf8');
const MIN = 60_000;

const lines = createInterface({ input: process.stdin });
const answers = [];
const waiters = [];
lines.on('line', (l) => (waiters.length ? waiters.shift()(l) : answers.push(l)));
async function step(name) {
  console.log(`STEP ${name}`);
  const got = answers.length ? answers.shift() : await new Promise((r) => waiters.push(r));
  if (got !== `DONE ${name}`) throw new Error(`expected DONE ${name}, got ${got}`);
}
const log = (...a) => console.log(...a);
function check(cond, msg) {
  if (!cond) throw new Error(msg);
}

const browser = await chromium.launch({
  executablePath: env('KILN_CHROMIUM'),
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
});
const problems = [];
async function newPage() {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1360, height: 900 } });
  const page = await context.newPage();
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) problems.push(`CSP: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  return page;
}

async function shot(page, name) {
  await page.screenshot({ path: `${out}/${name}.png`, fullPage: false });
  log(`screenshot ${name}.png`);
}

/** noLeak: the DOM holds nothing of the other tenant. */
async function noLeak(page, where, typedNS = false) {
  const html = await page.content();
  for (const s of forbidden) check(!html.includes(s), `${where}: the page shows ${s}, which belongs to another tenant`);
  if (!typedNS) check(!html.includes('tenant-b'), `${where}: the page names the other tenant's namespace`);
}

/** a11y runs axe-core; serious or critical violations fail the test. */
async function a11y(page, where) {
  await page.evaluate(axeSource);
  const res = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help, target: v.nodes[0]?.target }));
  });
  const bad = res.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  for (const v of res) log(`axe ${where}: ${v.impact} ${v.id} (${v.nodes}) ${v.help} ${JSON.stringify(v.target)}`);
  check(bad.length === 0, `${where}: ${bad.length} serious or critical accessibility violations`);
}

async function mainPage(page, name) {
  await noLeak(page, name);
  await a11y(page, name);
  await shot(page, name);
}

const page = await newPage();
try {
  // 1. Sign in with the one-time code of `kiln ui` (in the fragment).
  await page.goto(`${base}/login#code=${env('KILN_LOGIN_CODE')}&ns=${ns}`);
  await page.waitForURL(`${base}/ns/${ns}`, { timeout: 30_000 });
  check(!page.url().includes('code='), 'the login code stays in the address bar');
  const storage = await page.evaluate(() => [localStorage.length, sessionStorage.length, document.cookie]);
  check(storage[0] === 0 && storage[1] === 0, 'the page keeps something in web storage');
  check(!storage[2].includes('kiln_session'), 'the session cookie is readable by scripts');
  const options = await page.$$eval('select option', (os) => os.map((o) => o.value));
  check(options.includes(ns) && !options.includes('tenant-b'), `namespaces offered: ${options}`);
  log('signed in with a login code');

  // 2. Watch the demo's group appear and build, live.
  await page.click('nav a:has-text("Build groups")');
  await page.waitForURL(`${base}/ns/${ns}/groups`);
  await step('apply-demo');
  const groupLink = page.locator('table.list tbody tr a').first();
  await groupLink.waitFor({ timeout: 3 * MIN });
  log(`group appeared live: ${await groupLink.textContent()}`);
  await groupLink.click();
  await page.waitForSelector('svg.canvas g.node', { timeout: MIN });
  const seen = new Set();
  let shotTaken = false;
  for (const deadline = Date.now() + 8 * MIN; Date.now() < deadline; ) {
    const states = await page.$$eval('svg.canvas g.node', (ns) => ns.map((n) => n.getAttribute('data-state')));
    states.forEach((s) => seen.add(s));
    if (!shotTaken && states.includes('building')) {
      await shot(page, 'group-building');
      shotTaken = true;
    }
    const phase = await page.textContent('h1 .badge');
    if (phase === 'Succeeded' || phase === 'Failed' || phase === 'Cancelled') {
      check(phase === 'Succeeded', `the demo group ended ${phase}`);
      break;
    }
    await page.waitForTimeout(300);
  }
  check((await page.textContent('h1 .badge')) === 'Succeeded', 'the demo group did not finish');
  const final = await page.$$eval('svg.canvas g.node', (ns) => ns.map((n) => n.getAttribute('data-state')));
  check(final.every((s) => s === 'succeeded' || s === 'unchanged'), `final node states ${final}`);
  check(seen.has('building') || seen.has('scheduled'), `node states seen while open: ${[...seen]}`);
  check((await page.$$('path.edge')).length >= 1, 'the plan draws no dependency edge');
  check((await page.$$('g.node.critical')).length >= 1, 'no critical path highlighted');
  log(`group finished live; states seen: ${[...seen].join(', ')}`);
  await mainPage(page, 'group');

  // 3. A change to libgreet rebuilds greet-app: open its log while it runs.
  await step('change-lib');
  await page.goto(`${base}/ns/${ns}/builds?component=greet-app`);
  const running = page.locator('tr[data-phase="Running"] a').first();
  await running.waitFor({ timeout: 4 * MIN });
  const buildName = await running.textContent();
  await running.click();
  await page.waitForURL(`${base}/ns/${ns}/builds/${buildName}`);
  await page.waitForSelector('.log .ln:has-text("tick")', { timeout: MIN });
  const n1 = await page.locator('.log .ln').count();
  await page.waitForFunction((n) => document.querySelectorAll('.log .ln').length > n, n1, { timeout: MIN });
  check(await page.isChecked('.logbar input[type=checkbox]'), 'the log is not followed');
  log(`log of running ${buildName} grew past ${n1} lines while open`);
  await shot(page, 'build-running');
  await page.waitForSelector('h1 .badge:has-text("Succeeded")', { timeout: 2 * MIN });
  await page.waitForSelector('.log .ln:has-text("tick 30")', { timeout: MIN });
  await page.fill('.logbar input[type=search]', 'tick 7');
  await page.waitForSelector('.logbar :text("1 matches")');
  log('build finished live; search works');

  // 4. Follow the why chain back to the origin commit.
  const why = page.locator('ol.why li');
  check((await why.count()) >= 3, `why chain has ${await why.count()} entries`);
  const first = await why.first().textContent();
  check(/dependency libgreet changed/.test(first), `why: ${first}`);
  const origin = await page.textContent('ol.why li.origin');
  check(/Origin: commit [0-9a-f]{40} of libgreet/.test(origin), `origin: ${origin}`);
  await mainPage(page, 'build');
  await page.click('ol.why li:first-child a');
  await page.waitForURL(/\/builds\/libgreet-/);
  await page.waitForSelector('ol.why li.origin');
  const libWhy = await page.textContent('ol.why');
  check(/libgreet/.test(libWhy) && !/dependency/.test(libWhy.split('Origin')[0]), `libgreet's why: ${libWhy}`);
  await page.waitForSelector('h2:has-text("Provenance and SBOM")', { timeout: MIN });
  log('followed the why chain to libgreet and its commit');
  await shot(page, 'build-why');

  // 5. The release to demo-strict fails its policy: open the verdict.
  await page.goto(`${base}/ns/${ns}/releases`);
  const failed = page.locator('tr:has(td:text-is("strict")):has(.badge:text-is("Failed")) a').first();
  await failed.waitFor({ timeout: 5 * MIN });
  await failed.click();
  await page.waitForSelector('table.verdict tr.violation', { timeout: MIN });
  const violation = await page.textContent('table.verdict tr.violation');
  check(/load-test/.test(violation), `violation row: ${violation}`);
  log(`policy verdict shows the failed rule: ${violation.slice(0, 160)}`);
  await mainPage(page, 'release-verdict');

  // 6. The other main pages.
  await page.goto(`${base}/ns/${ns}`);
  await page.waitForSelector('h2:has-text("Components")');
  await page.waitForSelector('table.list tbody tr td a:text-is("greet-app")');
  await mainPage(page, 'overview');
  await page.goto(`${base}/ns/${ns}/components`);
  await page.waitForSelector('svg.canvas g.node');
  await mainPage(page, 'components');
  await page.goto(`${base}/ns/${ns}/snapshots`);
  await page.locator('table.list tbody tr:has(.badge:text-is("passed")) a').first().click();
  await page.waitForSelector('details.test .log .ln', { timeout: MIN });
  await mainPage(page, 'snapshot');
  await page.goto(`${base}/ns/${ns}/builds`);
  await page.waitForSelector('#builds tbody tr');
  await mainPage(page, 'builds');

  // 7. Another tenant's namespace stays invisible.
  await page.goto(`${base}/ns/tenant-b`);
  await page.waitForSelector('[role=alert]', { timeout: 30_000 });
  await page.waitForTimeout(500);
  await noLeak(page, 'tenant-b overview', true);
  log('the other tenant is invisible');

  // 8. Sign in by pasting a token, in a fresh browser context.
  const other = await newPage();
  await other.goto(`${base}/`);
  await other.waitForSelector('#token');
  await other.fill('#token', env('KILN_TOKEN'));
  await other.click('button[type=submit]');
  await other.waitForSelector('header.top .who');
  check((await other.inputValue('select')) === ns, 'pasted-token sign-in did not land in the namespace');
  await a11y(other, 'overview (token sign-in)');
  check((await other.evaluate(() => localStorage.length + sessionStorage.length)) === 0, 'token kept in web storage');
  await other.click('button.signout');
  await other.waitForSelector('#token');
  await other.context().close();

  // 9. Sign out: the session is gone on the server.
  await page.click('button.signout');
  await page.waitForSelector('#token');
  await a11y(page, 'login');
  await shot(page, 'login');
  const status = await page.evaluate(async () => (await fetch('/api/v1/namespaces')).status);
  check(status === 401, `after sign-out the API answered ${status}`);
  log('signed out');
  check(problems.length === 0, `browser problems:\n${problems.join('\n')}`);
  log('ok');
} catch (e) {
  await shot(page, 'failure').catch(() => undefined);
  console.error(String(e.stack || e));
  if (problems.length) console.error(problems.join('\n'));
  await browser.close();
  process.exit(1);
}
await browser.close();
process.exit(0);
