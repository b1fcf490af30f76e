import { describe, expect, it } from 'vitest';
import {
  compactInstant,
  describeWindow,
  type ExtractWindow,
  MAX_REOPEN_KEYS,
  parseWindowId,
  windowId,
  windowInstantMs,
  windowSchema,
} from '../../src/window.ts';

const at = (iso: string) => Date.parse(iso);

const range: ExtractWindow = {
  kind: 'range',
  startMs: at('2026-01-02T03:04:05Z'),
  endMs: at('2026-01-03T00:00:00Z'),
};
const openStart: ExtractWindow = { kind: 'range', startMs: null, endMs: at('2026-01-03T00:00:00Z') };
const snapshot: ExtractWindow = { kind: 'snapshot', atMs: at('2026-05-06T07:08:09Z') };
const reopen: ExtractWindow = { kind: 'reopen', atMs: at('2026-05-06T07:08:09Z'), keys: [3, 5, 8] };

describe('window ids', () => {
  it.each([
    [range, '2026-01-02T030405Z--2026-01-03T000000Z'],
    [openStart, 'all--2026-01-03T000000Z'],
    [snapshot, 'snapshot-2026-05-06T070809Z'],
    [reopen, 'reopen-2026-05-06T070809Z'],
  ])('%j is %s: no ":", sortable, readable', (window, id) => {
    expect(windowId(window)).toBe(id);
    expect(id).not.toContain(':');
  });

  it('round-trip: ranges, open starts and snapshots parse back to the same window', () => {
    for (const window of [range, openStart, snapshot])
      expect(parseWindowId(windowId(window))).toEqual(window);
  });

  it('round-trip a reopen window to its id; its keys are not part of the id, so they parse back empty', () => {
    const parsed = parseWindowId(windowId(reopen));
    expect(parsed).toEqual({ kind: 'reopen', atMs: reopen.atMs, keys: [] });
    expect(windowId(parsed)).toBe(windowId(reopen));
  });

  it('range ids sort in time order', () => {
    const ids = [
      { kind: 'range' as const, startMs: at('2026-01-10T00:00:00Z'), endMs: at('2026-01-11T00:00:00Z') },
      { kind: 'range' as const, startMs: at('2026-01-02T00:00:00Z'), endMs: at('2026-01-03T00:00:00Z') },
      { kind: 'range' as const, startMs: at('2025-12-31T23:00:00Z'), endMs: at('2026-01-01T00:00:00Z') },
    ].map(windowId);
    expect([...ids].sort()).toEqual([ids[2], ids[1], ids[0]]);
  });

  it('refuses an id that is not one, naming the bad part', () => {
    expect(() => parseWindowId('snapshot-yesterday')).toThrow(/not a compact instant: yesterday/);
    expect(() => parseWindowId('2026-01-02T03:04:05Z--2026-01-03T000000Z')).toThrow(
      /not a compact instant: 2026-01-02T03:04:05Z/,
    );
  });

  it('compact instants drop milliseconds and colons', () => {
    expect(compactInstant(at('2026-01-02T03:04:05.678Z'))).toBe('2026-01-02T030405Z');
  });
});

describe('describeWindow', () => {
  it('says what a window reads, in UTC', () => {
    expect(describeWindow(range)).toBe('[2026-01-02T03:04:05.000Z, 2026-01-03T00:00:00.000Z)');
    expect(describeWindow(openStart)).toBe('[the beginning, 2026-01-03T00:00:00.000Z)');
    expect(describeWindow(snapshot)).toBe('snapshot at 2026-05-06T07:08:09.000Z');
    expect(describeWindow(reopen)).toBe('3 open row(s) read again');
  });
});

describe('windowInstantMs', () => {
  it('files a range under its start (0 for an open start) and the others under when they were planned', () => {
    expect(windowInstantMs(range)).toBe(range.kind === 'range' ? range.startMs : -1);
    expect(windowInstantMs(openStart)).toBe(0);
    expect(windowInstantMs(snapshot)).toBe(at('2026-05-06T07:08:09Z'));
    expect(windowInstantMs(reopen)).toBe(at('2026-05-06T07:08:09Z'));
  });
});

describe('windowSchema', () => {
  const firstIssue = (value: unknown) => {
    const parsed = windowSchema.safeParse(value);
    expect(parsed.success).toBe(false);
    const issue = parsed.error!.issues[0]!;
    return { path: issue.path.join('.'), message: issue.message };
  };

  it('accepts every kind of window', () => {
    for (const window of [range, openStart, snapshot, reopen])
      expect(windowSchema.parse(window)).toEqual(window);
  });

  it('refuses an unknown kind, fractional instants, stray fields and too many reopen keys, naming the field', () => {
    expect(firstIssue({ kind: 'week', atMs: 1 }).path).toBe('kind');
    expect(firstIssue({ kind: 'range', startMs: 1.5, endMs: 2 }).path).toBe('startMs');
    expect(firstIssue({ kind: 'range', startMs: 1 }).path).toBe('endMs');
    expect(firstIssue({ kind: 'snapshot', atMs: 1, endMs: 2 }).message).toMatch(/endMs/);
    expect(firstIssue({ kind: 'reopen', atMs: 1, keys: [1.5] }).path).toBe('keys.0');
    const tooMany = Array.from({ length: MAX_REOPEN_KEYS + 1 }, (_, i) => i);
    expect(firstIssue({ kind: 'reopen', atMs: 1, keys: tooMany }).path).toBe('keys');
    expect(windowSchema.safeParse({ kind: 'reopen', atMs: 1, keys: tooMany.slice(1) }).success).toBe(true);
  });
});
