import { describe, expect, it } from 'vitest';
import { backEdges, estimate, layout, type GNode } from '../src/layout';

const n = (id: string, ...deps: string[]): GNode => ({ id, deps });

describe('layout', () => {
  it('puts dependencies in earlier layers than their dependants', () => {
    const l = layout([n('app', 'lib', 'cli'), n('cli', 'lib'), n('lib'), n('docs')]);
    const layer = (id: string) => l.nodes.get(id)!.layer;
    expect(layer('lib')).toBe(0);
    expect(layer('cli')).toBe(1);
    expect(layer('app')).toBe(2);
    expect(layer('docs')).toBe(0);
    for (const e of l.edges) expect(layer(e.from)).toBeLessThan(layer(e.to));
  });

  it('finds cycles and draws their closing edge as a back edge', () => {
    const nodes = [n('a', 'c'), n('b', 'a'), n('c', 'b'), n('d', 'c')];
    expect(backEdges(nodes).size).toBe(1);
    const l = layout(nodes);
    expect(l.nodes.size).toBe(4);
    expect(l.edges.filter((e) => e.back)).toHaveLength(1);
    for (const e of l.edges.filter((e) => !e.back)) expect(l.nodes.get(e.from)!.layer).toBeLessThan(l.nodes.get(e.to)!.layer);
  });

  it('marks a self-dependency as a cycle', () => {
    expect([...backEdges([n('a', 'a')])]).toEqual(['a>a']);
  });

  it('highlights the chain with the most work left', () => {
    const nodes = [
      { id: 'lib', deps: [], remaining: 10 },
      { id: 'slow', deps: ['lib'], remaining: 100 },
      { id: 'fast', deps: ['lib'], remaining: 1 },
      { id: 'app', deps: ['fast'], remaining: 5 },
    ];
    const l = layout(nodes);
    expect([...l.critical].sort()).toEqual(['lib', 'slow']);
    expect(l.remaining).toBe(110);
    expect(l.edges.find((e) => e.from === 'lib' && e.to === 'slow')!.critical).toBe(true);
    expect(l.edges.find((e) => e.from === 'lib' && e.to === 'fast')!.critical).toBe(false);
  });

  it('orders layers to avoid crossings', () => {
    // b2 depends on a2, b1 on a1: after sweeps their order matches.
    const l = layout([n('a1'), n('a2'), n('b1', 'a2'), n('b2', 'a1')]);
    const o = (id: string) => l.nodes.get(id)!.order;
    expect(o('b2') < o('b1')).toBe(o('a1') < o('a2'));
  });

  it('lays out 1,000 nodes', () => {
    const nodes: GNode[] = [];
    for (let i = 0; i < 1000; i++) nodes.push(n(`c${i}`, ...(i ? [`c${Math.floor(i / 3)}`, `c${(i * 7) % i}`] : [])));
    const l = layout(nodes);
    expect(l.nodes.size).toBe(1000);
    expect(new Set([...l.nodes.values()].map((p) => `${p.x},${p.y}`)).size).toBe(1000);
  });
});

describe('estimate', () => {
  it('counts finished work as done and running work as partly done', () => {
    const est = estimate(
      new Map([['a', 'succeeded'], ['b', 'building'], ['c', 'queued']]),
      new Map([['a', 40]]),
      new Map([['b', 15]]),
    );
    expect(est('a').remaining).toBe(0);
    expect(est('b').remaining).toBe(25);
    expect(est('c').remaining).toBe(40);
  });
});

describe('critical path when all is done', () => {
  it('follows the chain that took longest', () => {
    const l = layout([
      { id: 'lib', deps: [], remaining: 0, weight: 5 },
      { id: 'app', deps: ['lib'], remaining: 0, weight: 20 },
      { id: 'docs', deps: [], remaining: 0, weight: 10 },
    ]);
    expect([...l.critical].sort()).toEqual(['app', 'lib']);
  });
});
