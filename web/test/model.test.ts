import { describe, expect, it } from 'vitest';
import {
  PALETTE, buildState, componentEdges, contrast, firstError, LogBuffer, matches, memberState,
  shouldFollow, waitingFor, whyLine, nextInChain,
} from '../src/model';
import { applyEvent, splitLines } from '../src/api';

describe('state colouring', () => {
  it('maps every member state to its own colour', () => {
    const states = ['queued', 'blocked', 'unresolvable', 'building', 'succeeded', 'unchanged', 'failed', 'cancelled'];
    const fills = new Set(states.map((s) => PALETTE[memberState(s)].fill));
    expect(fills.size).toBe(states.length);
    expect(memberState('queued')).toBe('scheduled');
    expect(memberState('something-new')).toBe('scheduled');
  });
  it('maps build phases', () => {
    expect(buildState('Running')).toBe('building');
    expect(buildState('Succeeded', true)).toBe('unchanged');
    expect(buildState('Failed')).toBe('failed');
    expect(buildState(undefined)).toBe('scheduled');
  });
  it('keeps text readable on every fill (WCAG AA)', () => {
    for (const [state, c] of Object.entries(PALETTE)) {
      expect(contrast(c.text, c.fill), state).toBeGreaterThanOrEqual(4.5);
    }
  });
});

describe('why', () => {
  it('explains a dependency change with its build and digests', () => {
    expect(whyLine({ type: 'dependency-change', component: 'libgreet', build: 'libgreet-3', oldDigest: 'sha256:aaaaaaaaaaaaaaaa', newDigest: 'sha256:bbbbbbbbbbbbbbbb' }))
      .toBe('dependency libgreet changed in build libgreet-3 (sha256:aaaaaaaaaaaa → sha256:bbbbbbbbbbbb)');
    expect(nextInChain({ metadata: { name: 'cli-2' }, spec: { reason: { build: 'libgreet-3' } } })).toBe('libgreet-3');
    expect(nextInChain({ metadata: { name: 'x' }, spec: { reason: { type: 'source-change' } } })).toBeUndefined();
  });
  it('says what a queued group member waits for', () => {
    const group = { status: { members: [
      { component: 'lib', state: 'building' },
      { component: 'cli', state: 'queued', dependsOn: ['lib'] },
    ] } };
    expect(waitingFor({ spec: { component: 'cli' } }, group, 1, undefined)).toBe('blocked by dependency lib (building)');
    expect(waitingFor({ spec: { component: 'x' } }, undefined, 2, 2)).toMatch(/throttled: namespace limit of 2/);
  });
});

describe('logs', () => {
  it('follows a stream across chunk boundaries and keeps the tail', () => {
    const b = new LogBuffer(3);
    b.push('one\ntw');
    b.push('o\nthree\nfour\nfi');
    expect(b.all()).toEqual(['two', 'three', 'four', 'fi']);
    expect(b.dropped).toBe(1);
  });
  it('finds the first error and search matches', () => {
    const lines = ['step build', 'compiling', 'greet.c:3: error: expected ;', 'make: *** Error 1'];
    expect(firstError(lines)).toBe(2);
    expect(matches(lines, 'ERROR')).toEqual([2, 3]);
    expect(matches(lines, '')).toEqual([]);
  });
  it('follows only while the reader is at the bottom', () => {
    expect(shouldFollow(900, 100, 1000)).toBe(true);
    expect(shouldFollow(500, 100, 1000)).toBe(false);
  });
});

describe('watch', () => {
  it('splits a stream into whole JSON lines', () => {
    const [lines, rest] = splitLines('{"a":', '1}\n{"b":2}\n{"c"');
    expect(lines).toEqual(['{"a":1}', '{"b":2}']);
    expect(rest).toBe('{"c"');
  });
  it('folds events into a list', () => {
    const o = (name: string, phase: string) => ({ metadata: { name }, status: { phase } });
    let items = [o('a', 'Queued')];
    items = applyEvent(items, { type: 'ADDED', object: o('b', 'Queued') });
    items = applyEvent(items, { type: 'MODIFIED', object: o('a', 'Running') });
    expect(items.map((i) => i.metadata.name + ':' + i.status.phase)).toEqual(['b:Queued', 'a:Running']);
    items = applyEvent(items, { type: 'DELETED', object: o('b', 'Queued') });
    expect(items).toHaveLength(1);
  });
});

describe('component graph', () => {
  it('links requires to provides', () => {
    const c = (name: string, provides: string[], requires: string[]) => ({ metadata: { name }, spec: {}, status: { capabilities: { provides, requires } } });
    expect(componentEdges([c('lib', ['lib:greet'], []), c('cli', [], ['lib:greet', 'missing']), c('app', [], ['cli'])])).toEqual([{ from: 'cli', to: 'lib' }, { from: 'app', to: 'cli' }]);
  });
});
