import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  countItems, cutText, edgeTrust, isDirection, leftOut, pageOf, parseTraceParams, refOf, sourceText, traceAPI, tracePage, traceTree,
  type TraceResult, type TreeItem,
} from '../src/trace';

// The trace package's golden answers: the API's own JSON, so a change of
// its shape breaks these tests as well as the Go ones.
const golden = (name: string): TraceResult =>
  JSON.parse(readFileSync(new URL(`../../internal/trace/testdata/${name}`, import.meta.url), 'utf8'));

/** lines renders a tree as the CLI's tree does, for comparison. */
function lines(items: TreeItem[], indent = ''): string[] {
  return items.flatMap((i) => [
    `${indent}${i.edge ? i.edge.kind + ' ' : ''}${i.node.kind} ${i.node.label}${i.repeat ? ' (see above)' : ''}`,
    ...lines(i.children, indent + '  '),
  ]);
}

describe('trace tree', () => {
  it('lays an upward trace out as the CLI tree does, each node expanded once', () => {
    const r = golden('up-app.json');
    const tree = traceTree(r);
    const cli = readFileSync(new URL('../../internal/trace/testdata/up-app.tree', import.meta.url), 'utf8');
    const got = lines(tree);
    // The same nodes, in the same order, with the same repeats as `kiln trace up -o tree`.
    const want = cli.split('\n').filter((l) => l && !l.startsWith('cut:') && !l.startsWith('truncated:')).map((l) => {
      const depth = (l.match(/^((│   |    |├── |└── ))*/)![0].length) / 4;
      const text = l.replace(/^((│   |    |├── |└── ))*/, '').replace(/ \((verified|kiln-record|UNVERIFIED)[^)]*\)/, '').replace(/ +\[[^\]]+\]/, '').replace(/  \(see above\)/, ' (see above)');
      return '  '.repeat(depth) + text.replace(/^Build /, 'build ');
    });
    expect(got).toEqual(want);
    expect(countItems(tree)).toBe(got.length);
    expect(tree[0].repeat).toBe(false);
    expect(got.filter((l) => l.endsWith('(see above)'))).toHaveLength(1);
  });

  it('walks a downward trace from the commit to the release and keeps the cuts on their nodes', () => {
    const r = golden('down-lib-commit.json');
    const tree = traceTree(r);
    expect(tree).toHaveLength(1);
    expect(tree[0].node.kind).toBe('commit');
    const flat: TreeItem[] = [];
    const walk = (xs: TreeItem[]) => xs.forEach((x) => (flat.push(x), walk(x.children)));
    walk(tree);
    expect(new Set(flat.map((x) => x.node.kind))).toEqual(new Set(['commit', 'build', 'artifact', 'snapshot', 'release']));
    const cuts = flat.filter((x) => cutText(x.node)).map((x) => [x.node.key.split('@')[0], cutText(x.node)]);
    expect(cuts).toEqual([
      ['reg.example/team/libfoo', 'cut here: 2 nodes beyond, in namespaces you cannot read'],
      ['reg.example/team/app', 'cut here: 1 node beyond, in namespaces you cannot read'],
    ]);
    expect(new Set(flat.map((x) => x.key)).size).toBe(flat.length); // keys are unique
  });

  it('tolerates edges to nodes it was not given and an empty answer', () => {
    const r: TraceResult = { direction: 'down', ref: 'x', roots: [], nodes: [], edges: [], cut: 4, truncated: false, limit: 1000 };
    expect(traceTree(r)).toEqual([]);
    expect(leftOut(r)).toEqual([
      'Nothing you can read matches this reference.',
      'Cut: 4 nodes in namespaces you cannot read — not shown, and the trace did not continue past them.',
    ]);
    const one: TraceResult = { ...r, roots: ['n1'], cut: 0, truncated: true, limit: 1,
      nodes: [{ id: 'n1', kind: 'build', namespace: 'a', key: 'b', label: 'b', depth: 0 }],
      edges: [{ from: 'n1', to: 'n9', kind: 'output', trust: 'verified', sources: [] }] };
    expect(lines(traceTree(one))).toEqual(['build b']);
    expect(leftOut(one)).toEqual(['Truncated: the trace stopped at 1 node (the limit); raise the limit to see more.']);
  });
});

describe('trust', () => {
  const r = golden('up-app.json');
  const edge = (from: string, to: string) => r.edges.find((e) => e.from === from && e.to === to)!;
  it('shows a verified edge with its key', () => {
    expect(edgeTrust(edge('n7', 'n2'))).toEqual({ level: 'verified', label: 'verified', keyIds: ['sha256:builderkey'], unverified: [] });
  });
  it("never hides an unverified attestation behind Kiln's record", () => {
    const t = edgeTrust(edge('n2', 'n1'));
    expect(t.level).toBe('kiln-record');
    expect(t.unverified).toEqual(['UNVERIFIED provenance: attestation signature invalid']);
  });
  it('shows an edge only an unverified attestation claims as UNVERIFIED, with why', () => {
    const t = edgeTrust(edge('n4', 'n1'));
    expect(t).toMatchObject({ level: 'unverified', label: 'UNVERIFIED', keyIds: [] });
    expect(t.unverified).toEqual(['UNVERIFIED provenance: attestation signature invalid']);
  });
  it('treats an unknown trust level as unverified, never as trusted', () => {
    const t = edgeTrust({ from: 'a', to: 'b', kind: 'input', trust: 'trusted-by-me' as any, sources: [] });
    expect(t.level).toBe('unverified');
    expect(t.unverified).toEqual(['UNVERIFIED: no verified evidence']);
  });
  it('words each piece of evidence', () => {
    expect(sourceText({ record: 'Build team/app-1', origin: 'provenance', trust: 'verified', keyId: 'sha256:k' }))
      .toBe('provenance of Build team/app-1: verified attestation, key sha256:k');
    expect(sourceText({ record: 'Build team/app-1', origin: 'record', trust: 'kiln-record' })).toBe("record of Build team/app-1: Kiln's own record");
    expect(sourceText({ origin: 'sbom', trust: 'unverified', reason: 'no key given' })).toBe('sbom: UNVERIFIED — no key given');
  });
});

describe('links', () => {
  const node = (kind: string, key: string, attrs?: Record<string, string>) => ({ id: 'n1', kind, namespace: 'team a', key, label: key, depth: 0, attrs });
  it('links builds, snapshots and releases to their pages, in their namespace', () => {
    expect(pageOf(node('build', 'app-1'))).toBe('/ns/team%20a/builds/app-1');
    expect(pageOf(node('snapshot', 's-1'))).toBe('/ns/team%20a/snapshots/s-1');
    expect(pageOf(node('release', 'r-1'))).toBe('/ns/team%20a/releases/r-1');
    expect(pageOf(node('build', 'https://ci.example/builder#app-1', { external: 'true' }))).toBeUndefined();
    expect(pageOf(node('commit', 'https://git.example/x@' + '1'.repeat(40)))).toBeUndefined();
    expect(pageOf(node('artifact', 'reg/x@sha256:' + 'a'.repeat(64)))).toBeUndefined();
  });
  it('traces again from a node by a reference the API takes', () => {
    expect(refOf(node('build', 'app-1'))).toBe('build/app-1');
    expect(refOf(node('snapshot', 's-1'))).toBe('snapshot/s-1');
    expect(refOf(node('commit', 'https://git.example/x@' + '1'.repeat(40)))).toBe('https://git.example/x@' + '1'.repeat(40));
    expect(refOf(node('destination', 'static:greet'))).toBeUndefined();
    expect(refOf(node('build', 'https://ci.example/b#1', { external: 'true' }))).toBeUndefined();
  });
  it('builds the API and page addresses with the reference escaped', () => {
    const purl = 'pkg:golang/golang.org/x/net@>=0.1.0|<0.23.0';
    const api = traceAPI('down', purl, 'team');
    expect(api.startsWith('/apis/kiln.dev/v1alpha1/trace/down?')).toBe(true);
    const q = new URLSearchParams(api.split('?')[1]);
    expect(q.get('ref')).toBe(purl);
    expect(q.get('namespace')).toBe('team');
    expect(q.has('limit')).toBe(false);
    expect(new URLSearchParams(traceAPI('up', 'x', 'n', 2, 50).split('?')[1]).get('limit')).toBe('50');
    const page = tracePage('team', 'down', purl);
    expect(page.startsWith('/ns/team/trace?')).toBe(true);
    expect(new URLSearchParams(page.split('?')[1]).get('ref')).toBe(purl);
    expect(isDirection('up') && isDirection('down') && !isDirection('sideways') && !isDirection(null)).toBe(true);
  });
});

describe('page address', () => {
  const parse = (s: string) => parseTraceParams(new URLSearchParams(s));
  it('reads direction, reference and bounds', () => {
    expect(parse('dir=down&ref=%20sha256:abc%20&depth=2&limit=50')).toEqual({ dir: 'down', ref: 'sha256:abc', depth: 2, limit: 50 });
    expect(parse('')).toEqual({ dir: 'up', ref: '' });
    expect(parse('dir=up&ref=x&limit=')).toEqual({ dir: 'up', ref: 'x' });
  });
  it('refuses a direction with no endpoint and bounds that are not numbers, saying what to write', () => {
    expect(parse('dir=sideways&ref=x').error).toBe('direction "sideways": use up or down');
    expect(parse('ref=x&limit=ten').error).toBe('limit "ten": want a whole number');
    expect(parse('ref=x&depth=-1').error).toBe('depth "-1": want a whole number');
  });
  it('round-trips through the address it makes', () => {
    const page = tracePage('team', 'down', 'pkg:npm/a@<1|>=2', { depth: 3, limit: 10 });
    expect(parse(page.split('?')[1])).toEqual({ dir: 'down', ref: 'pkg:npm/a@<1|>=2', depth: 3, limit: 10 });
  });
});
