// Pure logic of the UI: states and their colours, durations, the "why"
// of a build, what a queued build waits for, log search. Unit tested in
// test/model.test.ts.

/** The states a build group member is shown in (the vocabulary). */
export type NodeState =
  | 'scheduled'
  | 'blocked'
  | 'unresolvable'
  | 'building'
  | 'succeeded'
  | 'unchanged'
  | 'failed'
  | 'cancelled';

/** memberState maps a BuildGroup member's state to what the graph shows. */
export function memberState(s: string | undefined): NodeState {
  switch (s) {
    case 'queued':
    case undefined:
    case '':
      return 'scheduled';
    case 'blocked':
    case 'unresolvable':
    case 'building':
    case 'succeeded':
    case 'unchanged':
    case 'failed':
    case 'cancelled':
      return s;
  }
  return 'scheduled';
}

/** buildState maps a Build's phase to the same palette. */
export function buildState(phase: string | undefined, unchanged = false): NodeState {
  switch (phase) {
    case 'Running':
      return 'building';
    case 'Succeeded':
      return unchanged ? 'unchanged' : 'succeeded';
    case 'Failed':
      return 'failed';
    case 'Cancelled':
      return 'cancelled';
  }
  return 'scheduled';
}

/**
 * Colours per state: fill, stroke and text. Every text colour has a
 * contrast ratio of at least 4.5:1 on its fill (WCAG AA), checked in the
 * tests; the state is also always written out, never told by colour alone.
 */
export const PALETTE: Record<NodeState, { fill: string; stroke: string; text: string; label: string }> = {
  scheduled: { fill: '#eef0f3', stroke: '#6b7280', text: '#1f2937', label: 'scheduled' },
  blocked: { fill: '#fde7c7', stroke: '#b45309', text: '#5b2a02', label: 'blocked' },
  unresolvable: { fill: '#ede3fb', stroke: '#7c3aed', text: '#3b1677', label: 'unresolvable' },
  building: { fill: '#d7e8fd', stroke: '#1d4ed8', text: '#102a6b', label: 'building' },
  succeeded: { fill: '#d3f2dc', stroke: '#15803d', text: '#0b3d1d', label: 'succeeded' },
  unchanged: { fill: '#dff3f1', stroke: '#0f766e', text: '#0a3b37', label: 'unchanged (cut off)' },
  failed: { fill: '#fbd5d5', stroke: '#b91c1c', text: '#5f0b0b', label: 'failed' },
  cancelled: { fill: '#e5e7eb', stroke: '#374151', text: '#111827', label: 'cancelled' },
};

/** luminance and contrast per WCAG 2. */
export function contrast(a: string, b: string): number {
  const lum = (hex: string) => {
    const n = parseInt(hex.slice(1), 16);
    const ch = [(n >> 16) & 255, (n >> 8) & 255, n & 255].map((c) => {
      const s = c / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * ch[0] + 0.7152 * ch[1] + 0.0722 * ch[2];
  };
  const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
}

export function seconds(from?: string, to?: string, now = Date.now()): number | undefined {
  if (!from) return undefined;
  const end = to ? Date.parse(to) : now;
  return Math.max(0, (end - Date.parse(from)) / 1000);
}

export function fmtDuration(s: number | undefined): string {
  if (s === undefined || isNaN(s)) return '—';
  if (s < 60) return `${Math.round(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${Math.round(s % 60)}s`;
  return `${Math.floor(s / 3600)}h ${Math.round((s % 3600) / 60)}m`;
}

export function ago(t?: string, now = Date.now()): string {
  if (!t) return '—';
  const s = (now - Date.parse(t)) / 1000;
  if (s < 5) return 'just now';
  return fmtDuration(s) + ' ago';
}

export function short(digest?: string, n = 12): string {
  if (!digest) return '';
  const i = digest.indexOf(':');
  return i >= 0 ? digest.slice(0, i + 1 + n) : digest.slice(0, n);
}

/** whyLine says in one sentence why a build ran, from spec.reason. */
export function whyLine(reason: any): string {
  if (!reason || !reason.type) return 'no recorded reason';
  const r = reason;
  switch (r.type) {
    case 'dependency-change':
      return `dependency ${r.component} changed${r.build ? ' in build ' + r.build : ''}` +
        (r.oldDigest || r.newDigest ? ` (${short(r.oldDigest) || 'none'} → ${short(r.newDigest)})` : '');
    case 'source-change':
      return r.message || `new commit${r.previousCommit ? ' after ' + r.previousCommit.slice(0, 12) : ''}`;
    case 'manual':
      return `started by hand${r.by ? ' by ' + r.by : ''}${r.message ? ': ' + r.message : ''}`;
  }
  return `${r.type}${r.message ? ': ' + r.message : ''}${r.by ? ' (' + r.by + ')' : ''}`;
}

/** nextInChain is the build that caused this one, if recorded. */
export function nextInChain(build: any): string | undefined {
  const r = build?.spec?.reason;
  return r && r.build && r.build !== build.metadata.name ? r.build : undefined;
}

/**
 * waitingFor says why a queued build waits: a group member's unfinished
 * or failed requirements, else the namespace's concurrency.
 */
export function waitingFor(
  build: any,
  group: any | undefined,
  running: number,
  limit: number | undefined,
): string {
  const comp = build.spec?.component;
  const members: any[] = group?.status?.members || [];
  const me = members.find((m) => m.component === comp);
  if (me) {
    if (me.state === 'blocked' || me.state === 'unresolvable') return me.message || `${me.state}: a requirement failed`;
    const pending = (me.dependsOn || []).filter((d: string) => {
      const m = members.find((x) => x.component === d);
      return m && !['succeeded', 'unchanged'].includes(m.state);
    });
    if (pending.length) {
      const states = pending.map((d: string) => `${d} (${memberState(members.find((x) => x.component === d)?.state)})`);
      return `blocked by dependency ${states.join(', ')}`;
    }
  }
  if (limit !== undefined && running >= limit) return `throttled: namespace limit of ${limit} concurrent builds reached (${running} running)`;
  return running > 0 ? `waiting for a build slot (${running} running in this namespace; fair share across namespaces)` : 'waiting for a build slot';
}

/** errorLine is the index of the first line that looks like an error. */
const ERR = /(\berror\b|\bfailed\b|\bfatal\b|\bpanic\b|exit (code|status) [1-9]|\bFAIL\b|No such file)/i;
export function firstError(lines: string[]): number {
  return lines.findIndex((l) => ERR.test(l));
}

/** matches returns the indexes of lines containing q (case-insensitive). */
export function matches(lines: string[], q: string): number[] {
  if (!q) return [];
  const needle = q.toLowerCase();
  const out: number[] = [];
  lines.forEach((l, i) => {
    if (l.toLowerCase().includes(needle)) out.push(i);
  });
  return out;
}

/**
 * LogBuffer accumulates a streamed log into lines, keeping the last max
 * lines, and tells whether the view should stay at the bottom.
 */
export class LogBuffer {
  lines: string[] = [];
  partial = '';
  dropped = 0;
  constructor(private max = 50000) {}
  push(chunk: string) {
    const parts = (this.partial + chunk).split('\n');
    this.partial = parts.pop() as string;
    this.lines.push(...parts);
    if (this.lines.length > this.max) {
      this.dropped += this.lines.length - this.max;
      this.lines = this.lines.slice(this.lines.length - this.max);
    }
  }
  all(): string[] {
    return this.partial ? [...this.lines, this.partial] : this.lines;
  }
}

/** shouldFollow: keep following while the reader is at the bottom. */
export function shouldFollow(scrollTop: number, clientHeight: number, scrollHeight: number): boolean {
  return scrollHeight - (scrollTop + clientHeight) < 24;
}

/** releasePhases lists a Release's phases with their condition. */
export const RELEASE_PHASES: [string, string][] = [
  ['Validated', 'Validation'],
  ['TenantPipelineProcessed', 'Tenant pipeline'],
  ['PolicyPassed', 'Policy'],
  ['ManagedPipelineProcessed', 'Managed pipeline'],
  ['FinalPipelineProcessed', 'Final pipeline'],
];

export function condition(obj: any, type: string): any | undefined {
  return (obj?.status?.conditions || []).find((c: any) => c.type === type);
}

/** componentEdges: requires → provides across components (the namespace graph). */
export function componentEdges(components: any[]): { from: string; to: string }[] {
  const provider = new Map<string, string[]>();
  const caps = (c: any) => c.status?.capabilities || {};
  for (const c of components) provider.set(c.metadata.name, [c.metadata.name]); // requires may name a component
  for (const c of components) {
    for (const p of [...(c.spec?.build?.provides || []), ...(caps(c).provides || [])]) {
      const l = provider.get(p) || [];
      l.push(c.metadata.name);
      provider.set(p, l);
    }
  }
  const edges: { from: string; to: string }[] = [];
  const seen = new Set<string>();
  for (const c of components) {
    for (const r of [...(c.spec?.build?.requires || []), ...(caps(c).requires || [])]) {
      for (const p of provider.get(r) || []) {
        const k = `${c.metadata.name}>${p}`;
        if (p !== c.metadata.name && !seen.has(k)) {
          seen.add(k);
          edges.push({ from: c.metadata.name, to: p });
        }
      }
    }
  }
  return edges;
}
