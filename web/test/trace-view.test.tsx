// @vitest-environment happy-dom
// The trace view rendered (Preact into happy-dom) from the trace package's
// golden answers: what a user sees of trust, cuts, links and collapsing.
import { render } from 'preact';
import { act } from 'preact/test-utils';
import { afterEach, describe, expect, it } from 'vitest';
import { TraceView } from '../src/pages/Trace';
import type { TraceParams, TraceResult } from '../src/trace';
// The golden answers are imported, not read with node:fs: under happy-dom
// the test is a browser module.
import upApp from '../../internal/trace/testdata/up-app.json';
import downLibCommit from '../../internal/trace/testdata/down-lib-commit.json';

const GOLDEN: Record<string, unknown> = { 'up-app.json': upApp, 'down-lib-commit.json': downLibCommit };
const golden = (name: string): TraceResult => structuredClone(GOLDEN[name]) as TraceResult;

let root: HTMLElement;
function mount(res: TraceResult, params: TraceParams): HTMLElement {
  root = document.createElement('div');
  document.body.appendChild(root);
  act(() => render(<TraceView ns="team" params={params} res={res} />, root));
  return root;
}
afterEach(() => {
  render(null, root);
  root.remove();
});

/** row is the rendered row of the tree item for a node key (first match). */
function row(el: HTMLElement, key: string): HTMLElement {
  const rows = [...el.querySelectorAll<HTMLElement>('ul.tracetree .row')];
  const r = rows.find((x) => [...x.querySelectorAll('.nodename')].some((n) => (n.getAttribute('title') || n.textContent) === key));
  if (!r) throw new Error(`no row for ${key}`);
  return r;
}

describe('trace view', () => {
  const up = golden('up-app.json');
  const libArtifact = 'reg.example/team/libfoo@sha256:' + 'a'.repeat(64);

  it('shows each edge as trusted as its evidence, unverified claims in words and never as trusted', () => {
    const el = mount(up, { dir: 'up', ref: 'build/app-1' });
    expect(el.querySelectorAll('ul.tracetree li')).toHaveLength(11);
    // Only a tampered attestation claims this commit: UNVERIFIED, with why.
    const forged = row(el, 'https://git.example/app@' + '6'.repeat(40));
    expect(forged.querySelector('.trust')!.className).toContain('trust-unverified');
    expect(forged.querySelector('.trust')!.textContent).toBe('UNVERIFIED');
    expect(forged.querySelector('.unverified')!.textContent).toBe('UNVERIFIED provenance: attestation signature invalid');
    expect(forged.querySelector('.keyid')).toBeNull();
    // Kiln's record, and a tampered attestation also claims it: both shown.
    const input = row(el, libArtifact);
    expect(input.querySelector('.trust')!.className).toContain('trust-kiln-record');
    expect(input.querySelector('.unverified')!.textContent).toBe('also UNVERIFIED provenance: attestation signature invalid');
    // A verified attestation, with its key.
    const built = row(el, 'libfoo-1');
    expect(built.querySelector('.trust')!.className).toContain('trust-verified');
    expect(built.querySelector('.keyid code')!.getAttribute('title')).toBe('sha256:builderkey');
    expect(built.querySelector('.sr-only')!.textContent).toContain('provenance of Build team/libfoo-1: verified attestation, key sha256:builderkey');
  });

  it('links builds to their pages and offers to trace back from any node with a reference', () => {
    const el = mount(up, { dir: 'up', ref: 'build/app-1' });
    expect(row(el, 'libfoo-1').querySelector('a.nodename')!.getAttribute('href')).toBe('/ns/team/builds/libfoo-1');
    expect(row(el, libArtifact).querySelector('a.nodename')).toBeNull();
    const retrace = row(el, libArtifact).querySelector('a.retrace')!.getAttribute('href')!;
    expect(new URLSearchParams(retrace.split('?')[1]).get('ref')).toBe(libArtifact);
    expect(retrace).toContain('dir=down');
    const raw = el.querySelector('.tracebar a[download]')!;
    expect(raw.getAttribute('download')).toBe('trace-up.json');
    expect(raw.getAttribute('href')).toBe('/apis/kiln.dev/v1alpha1/trace/up?ref=build%2Fapp-1&namespace=team');
    expect(el.querySelectorAll('.tracetree .muted')).not.toHaveLength(0);
    expect([...el.querySelectorAll('ul.tracetree .row')].filter((r) => r.textContent!.includes('(see above)'))).toHaveLength(1);
  });

  it('says where the trace was cut and how much, without naming the namespaces', () => {
    const down = golden('down-lib-commit.json');
    const el = mount(down, { dir: 'down', ref: down.ref });
    expect(row(el, libArtifact).querySelector('.cuthere')!.textContent).toBe('cut here: 2 nodes beyond, in namespaces you cannot read');
    expect(el.querySelectorAll('.cuthere')).toHaveLength(2);
    expect(el.querySelector('ul.leftout')!.textContent).toContain('Cut: 3 nodes in namespaces you cannot read');
    expect(row(el, 'rel-1').querySelector('a.nodename')!.getAttribute('href')).toBe('/ns/team/releases/rel-1');
    expect(row(el, 'snap-1').querySelector('a.nodename')!.getAttribute('href')).toBe('/ns/team/snapshots/snap-1');
    expect(el.innerHTML).not.toContain('other');
  });

  it('collapses and expands a node, and all of them', () => {
    const el = mount(up, { dir: 'up', ref: 'build/app-1' });
    const first = el.querySelector<HTMLButtonElement>('ul.tracetree button.toggle')!;
    const kids = el.querySelector<HTMLElement>('#' + first.getAttribute('aria-controls'))!;
    expect(first.getAttribute('aria-expanded')).toBe('true');
    expect(kids.hidden).toBe(false);
    act(() => first.click());
    expect(first.getAttribute('aria-expanded')).toBe('false');
    expect(kids.hidden).toBe(true);
    const button = (text: string) => [...el.querySelectorAll<HTMLButtonElement>('.tracebar button')].find((b) => b.textContent === text)!;
    act(() => button('Expand all').click());
    const toggles = () => [...el.querySelectorAll('ul.tracetree button.toggle')].map((b) => b.getAttribute('aria-expanded'));
    expect(toggles().every((x) => x === 'true')).toBe(true);
    act(() => button('Collapse all').click());
    expect(toggles().length).toBeGreaterThan(0);
    expect(toggles().every((x) => x === 'false')).toBe(true);
  });

  it('shows an answer with nothing readable as the cut only', () => {
    const el = mount({ direction: 'down', ref: 'sha256:x', roots: [], nodes: [], edges: [], cut: 1, truncated: false, limit: 1000 }, { dir: 'down', ref: 'sha256:x' });
    expect(el.querySelector('ul.tracetree')).toBeNull();
    expect(el.querySelector('.tracebar button')).toBeNull();
    expect(el.querySelector('ul.leftout')!.textContent).toContain('Nothing you can read matches this reference.');
  });
});
