// End-to-end test of Kiln's web UI in headless Chromium (playwright-core,
// Debian's chromium; no browser download). Run by internal/ui's
// TestUIEndToEnd, which starts a real factory and answers "STEP name"
// lines on stdout with "DONE name" on stdin once it has done that step.
//
// Environment: KILN_URL, KILN_LOGIN_CODE, KILN_TOKEN (alice's, for the
// pasted-token sign-in), KILN_NS, KILN_BOB_TOKEN (tenant-b's viewer) and
// KILN_DIRECT_URL (the factory itself: bob's pages, which name tenant-b,
// bypass the recording proxy), KILN_FORBIDDEN (newline-separated strings
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

/**
 * openTrace opens a trace page and waits for its answer; the index is
 * written by controllers after the objects change, so a reference not
 * indexed yet (404) is asked again until the deadline.
 */
async function openTrace(p, url, want = 'ul.tracetree > li') {
  const deadline = Date.now() + 2 * MIN;
  for (;;) {
    if (url) await p.goto(url);
    else url = p.url();
    await p.waitForSelector(`${want}, #trace-error`, { timeout: MIN });
    if (await p.$(want)) return;
    const err = await p.textContent('#trace-error');
    check(/is indexed/.test(err) && Date.now() < deadline, `trace ${url}: ${err}`);
    await p.waitForTimeout(500);
  }
}

/** nodeKeys lists the keys of the trace's nodes of a kind. */
async function nodeKeys(p, kind) {
  return p.$$eval(`ul.tracetree li[data-kind="${kind}"] > .row .nodename`, (xs) => xs.map((x) => x.getAttribute('title') || x.textContent));
}

/** traceError submits a reference in the search box and returns the error shown. */
async function traceError(p, ref) {
  await p.fill('#trace-ref', ref);
  await p.click('form.traceform button[type=submit]');
  await p.waitForFunction((r) => document.querySelector('#trace-error code')?.textContent === r, ref, { timeout: MIN });
  return p.textContent('#trace-error');
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

  // 7. Trace up from a published release to the commits it was made from;
  //    down from libgreet's commit (typed in the search box) to that
  //    release, cut where it reaches demo-releases (alice cannot read it).
  await page.goto(`${base}/ns/${ns}/releases`);
  const published = page.locator('tr:has(td:text-is("publish")):has(.badge:text-is("Succeeded")) a').first();
  await published.waitFor({ timeout: 5 * MIN });
  const releaseName = await published.textContent();
  await published.click();
  await page.click('.tracelinks a:text-is("Trace up")');
  await page.waitForURL(/\/trace\?dir=up&ref=release/);
  await openTrace(page);
  const libCommits = (await nodeKeys(page, 'commit')).filter((k) => /\/libgreet@[0-9a-f]{40}$/.test(k));
  check(libCommits.length >= 1, `trace up from ${releaseName}: no libgreet commit in ${await nodeKeys(page, "commit")}`);
  const libArtifact = (await nodeKeys(page, 'artifact')).find((k) => /\/libgreet@sha256:/.test(k));
  check(libArtifact, `trace up from ${releaseName} reaches no libgreet artifact`);
  const trusts = await page.$$eval('ul.tracetree .edgeinfo .trust', (xs) => xs.map((x) => x.textContent));
  const items = await page.locator('ul.tracetree li').count();
  check(trusts.length === items - 1 && trusts.every((t) => ['verified', "Kiln's record", 'UNVERIFIED'].includes(t)), `edge trust shown: ${trusts}`);
  check(trusts.includes('verified') && (await page.locator('.keyid').count()) > 0, 'no edge from a verified attestation with its key');
  log(`traced ${releaseName} up to ${libCommits[0]}; edges: ${[...new Set(trusts)].join(', ')}`);
  await mainPage(page, 'trace-up');

  await page.check('input[name=dir][value=down]');
  await page.fill('#trace-ref', libCommits[0]);
  await page.click('form.traceform button[type=submit]');
  await page.waitForURL(/\/trace\?dir=down&ref=/);
  await openTrace(page, undefined, `ul.tracetree li[data-kind="release"] a.nodename:text-is("${releaseName}")`);
  check((await nodeKeys(page, 'commit'))[0] === libCommits[0], 'the trace down does not start at the commit');
  check((await page.locator('.cuthere').count()) > 0, 'no "cut here" where the trace reaches demo-releases');
  check(/Cut: \d+ nodes? in namespaces you cannot read/.test(await page.textContent('ul.leftout')), 'the cut is not reported');
  const downHTML = await page.content();
  check(!downHTML.includes('demo-releases'), 'the trace names a namespace alice cannot read');
  log(`traced ${libCommits[0]} down to ${releaseName}, cut at demo-releases`);
  await mainPage(page, 'trace-down');
  const raw = await page.evaluate(async () => {
    const a = document.querySelector('.tracebar a[download]');
    const res = await fetch(a.getAttribute('href'));
    return [res.status, res.headers.get('content-type'), await res.json()];
  });
  const shown = await page.locator('ul.tracetree li').count();
  check(raw[0] === 200 && /json/.test(raw[1]) && raw[2].direction === 'down' && raw[2].nodes.length > 0 && raw[2].cut > 0,
    `raw JSON download: ${raw[0]} ${raw[1]} ${JSON.stringify(raw[2]).slice(0, 200)}`);
  check(shown >= raw[2].nodes.length, `the tree shows ${shown} entries for ${raw[2].nodes.length} nodes`);
  await page.click(`ul.tracetree li[data-kind="release"] a.nodename:text-is("${releaseName}")`);
  await page.waitForURL(`${base}/ns/${ns}/releases/${releaseName}`);
  // The limit: the same trace, bounded to 3 nodes, says it was truncated.
  await page.goto(`${base}/ns/${ns}/trace?dir=down&limit=3&ref=${encodeURIComponent(libCommits[0])}`);
  await page.waitForSelector('ul.leftout', { timeout: MIN });
  check(/Truncated: the trace stopped at 3 nodes/.test(await page.textContent('ul.leftout')), 'a trace at its limit does not say so');
  check((await page.locator('ul.tracetree li').count()) <= 3 + 3, 'a trace limited to 3 nodes shows more');
  check((await page.inputValue('#trace-limit')) === '3', 'the form does not show the limit');

  // From a component's page: its last built commit, down.
  await page.goto(`${base}/ns/${ns}/components/libgreet`);
  const lastCommit = (await page.textContent('dl.facts dt:text-is("Last built commit") + dd code')).trim();
  await page.click('dl.facts dt:text-is("Last built commit") + dd a:text-is("Trace down")');
  await openTrace(page);
  const root = (await nodeKeys(page, 'commit'))[0];
  check(root.endsWith(`/libgreet@${lastCommit}`), `trace down from libgreet's last commit starts at ${root}`);
  check((await page.locator('ul.tracetree li[data-kind="build"] a.nodename').count()) >= 2, 'libgreet\'s last commit reaches no build of it and its dependants');

  // A built artifact: from the build page's outputs to its own commit.
  await page.goto(`${base}/ns/${ns}/builds/${buildName}`);
  const commit = (await page.textContent('dl.facts dt:text-is("Commit") + dd')).trim();
  await page.click('section:has(h2:text-is("Outputs")) .tracelinks a:text-is("Trace up")');
  await page.waitForURL(/\/trace\?dir=up&ref=sha256/);
  await openTrace(page);
  const appCommits = await nodeKeys(page, 'commit');
  check(appCommits.some((k) => k.endsWith(`/greet-app@${commit}`)), `trace up from ${buildName}'s artifact: commits ${appCommits}, want ${commit}`);
  check(appCommits.some((k) => /\/libgreet@/.test(k)), 'the artifact\'s trace does not reach libgreet\'s commit');
  await page.click(`ul.tracetree a.nodename:text-is("${buildName}")`);
  await page.waitForURL(`${base}/ns/${ns}/builds/${buildName}`);
  log(`traced ${buildName}'s artifact up to greet-app@${commit.slice(0, 12)} and libgreet`);

  // A claim nobody verified: greet-cli's provenance imported without a key
  // is shown UNVERIFIED with why, never as trusted, and its build (not one
  // of Kiln's) has no page to link to.
  await step('import-unverified');
  await page.goto(`${base}/ns/${ns}/builds?component=greet-cli`);
  await page.locator('tr[data-phase="Succeeded"] a').first().click();
  await page.waitForURL(/\/builds\/.*greet-cli/);
  await page.click('section:has(h2:text-is("Outputs")) .tracelinks a:text-is("Trace up")');
  await page.waitForURL(/\/trace\?dir=up&ref=sha256/);
  await openTrace(page, undefined, 'ul.tracetree .edgeinfo .trust-unverified');
  const forged = page.locator('ul.tracetree li[data-kind="build"]:has(> .row .trust-unverified) > .row').first();
  const forgedText = await forged.textContent();
  check(/UNVERIFIED/.test(forgedText) && /UNVERIFIED provenance: no key to verify it with/.test(forgedText), `unverified edge: ${forgedText}`);
  check(!/verified\s*key/.test(forgedText.replace(/UNVERIFIED/g, '')), `an unverified edge shows a key: ${forgedText}`);
  check((await forged.locator('a.nodename').count()) === 0 && /#/.test(await forged.locator('.nodename').getAttribute('title')),
    'the imported build links to a page or is not named by its builder and invocation');
  check((await page.locator('ul.tracetree .trust-verified').count()) > 0, "Kiln's own verified edges are gone");
  log(`an imported claim without a key is shown as: ${forgedText.slice(0, 160)}`);
  await mainPage(page, 'trace-unverified');

  // Bad references: the API's own words.
  await page.goto(`${base}/ns/${ns}/trace`);
  let e = await traceError(page, 'sha256:abc');
  check(/a digest is sha256: followed by 64 lower-case hex digits/.test(e), `bad digest: ${e}`);
  e = await traceError(page, 'build/no-such-build');
  check(/no build demo\/no-such-build is indexed/.test(e), `unknown build: ${e}`);
  e = await traceError(page, 'pkg:golang/golang.org/x/net@>=0.1.0,<0.23.0');
  check(/separate constraints with \|/.test(e), `malformed purl range: ${e}`);
  await page.goto(`${base}/ns/${ns}/trace?dir=sideways&ref=build/x`);
  check(/direction "sideways": use up or down/.test(await page.textContent('#trace-error')), 'a bad direction is not refused');
  await a11y(page, 'trace error');
  log('bad references answered with the API\'s errors');

  // 7b. Another tenant's namespace stays invisible.
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

  // 8b. Bob (tenant-b) traces libgreet's artifact by digest: nothing of
  //     demo, only the cut.
  const bob = await newPage();
  const direct = env('KILN_DIRECT_URL');
  await bob.goto(`${direct}/`);
  await bob.waitForSelector('#token');
  await bob.fill('#token', env('KILN_BOB_TOKEN'));
  await bob.click('button[type=submit]');
  await bob.waitForSelector('header.top .who');
  const digest = libArtifact.slice(libArtifact.indexOf('@') + 1);
  await bob.goto(`${direct}/ns/tenant-b/trace?dir=down&ref=${digest}`);
  await bob.waitForSelector('ul.leftout', { timeout: MIN });
  const bobNotes = await bob.textContent('ul.leftout');
  check(/Nothing you can read/.test(bobNotes) && /Cut: \d+ nodes? in namespaces you cannot read/.test(bobNotes), `bob's trace: ${bobNotes}`);
  check((await bob.locator('ul.tracetree li').count()) === 0, 'bob sees nodes of demo');
  const bobHTML = await bob.content();
  for (const s of ['libgreet', 'greet-app', 'greet-cli', releaseName, '/ns/demo']) check(!bobHTML.includes(s), `bob's trace shows ${s}`);
  await a11y(bob, 'trace (other tenant)');
  await shot(bob, 'trace-cut');
  await bob.context().close();
  log('another tenant\'s trace of demo\'s artifact shows only the cut');

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
