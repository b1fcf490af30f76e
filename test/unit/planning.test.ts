import { describe, expect, it } from 'vitest';
import type { ResolvedExport } from '../../src/config/model.ts';
import { builtInExport } from '../../src/exports/registry.ts';
import { planWindows } from '../../src/pipeline/planning.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function resolved(name: string, settings: Partial<ResolvedExport['settings']> = {}): ResolvedExport {
  return {
    definition: builtInExport(name)!,
    settings: {
      windowMs: DAY,
      lookbackMs: 2 * HOUR,
      lagMs: 10 * 60_000,
      horizon: 90 * DAY,
      pageSize: 5000,
      loadStrategy: 'merge',
      ...settings,
    },
    masking: {},
  };
}

const NOW = Date.parse('2026-11-28T10:30:15.500Z');

describe('planWindows', () => {
  it('starts the initial load at the horizon and cuts day windows on UTC boundaries', () => {
    const plan = planWindows(resolved('history'), null, NOW);
    const end = Date.parse('2026-11-28T10:20:15Z');
    expect(plan.endMs).toBe(end);
    expect(plan.windows[0]).toEqual({
      kind: 'range',
      startMs: end - 90 * DAY,
      endMs: Date.parse('2026-08-31T00:00:00Z'),
    });
    expect(plan.windows.at(-1)).toEqual({
      kind: 'range',
      startMs: Date.parse('2026-11-28T00:00:00Z'),
      endMs: end,
    });
    expect(plan.windows).toHaveLength(91);
    // contiguous, no gap, no overlap
    for (let i = 1; i < plan.windows.length; i++) {
      const prev = plan.windows[i - 1]!;
      const next = plan.windows[i]!;
      expect(prev.kind === 'range' && next.kind === 'range' && prev.endMs === next.startMs).toBe(true);
    }
  });

  it('resumes from the watermark minus the look-back, however long ago the last run was', () => {
    const watermark = Date.parse('2026-11-26T05:00:00Z');
    const plan = planWindows(resolved('history'), watermark, NOW);
    expect(plan.windows[0]).toMatchObject({ startMs: watermark - 2 * HOUR });
    expect(plan.windows).toHaveLength(3);
  });

  it('plans nothing when the watermark is already at now minus lag', () => {
    const plan = planWindows(resolved('history', { lookbackMs: 0 }), Date.parse('2026-11-28T10:20:15Z'), NOW);
    expect(plan.windows).toEqual([]);
  });

  it('reads everything in one open-start window for horizon "all" (content_usage first run)', () => {
    const plan = planWindows(resolved('content_usage', { horizon: 'all' }), null, NOW);
    expect(plan.windows).toEqual([
      { kind: 'range', startMs: null, endMs: Date.parse('2026-11-28T10:20:15Z') },
    ]);
  });

  it('takes a snapshot for snapshot exports', () => {
    expect(planWindows(resolved('user'), null, NOW).windows).toEqual([
      { kind: 'snapshot', atMs: Date.parse('2026-11-28T10:30:15Z') },
    ]);
  });

  it('clamps a watermark older than the horizon to the horizon', () => {
    const plan = planWindows(resolved('history', { horizon: 3 * DAY }), NOW - 30 * DAY, NOW);
    expect(plan.windows[0]).toMatchObject({ startMs: Date.parse('2026-11-28T10:20:15Z') - 3 * DAY });
  });
});

describe('window ids', () => {
  it('round-trip through parseWindowId', async () => {
    const { parseWindowId, windowId } = await import('../../src/window.ts');
    for (const window of [
      {
        kind: 'range' as const,
        startMs: Date.parse('2026-01-02T03:04:05Z'),
        endMs: Date.parse('2026-01-03T00:00:00Z'),
      },
      { kind: 'range' as const, startMs: null, endMs: Date.parse('2026-01-03T00:00:00Z') },
      { kind: 'snapshot' as const, atMs: Date.parse('2026-05-06T07:08:09Z') },
    ]) {
      expect(parseWindowId(windowId(window))).toEqual(window);
      expect(windowId(window)).not.toContain(':');
    }
  });
});

describe('planWindows: lag, horizon and cuts', () => {
  const rangesOf = (windows: ReturnType<typeof planWindows>['windows']) =>
    windows.map((w) => {
      if (w.kind !== 'range') throw new Error(`expected a range window, got ${w.kind}`);
      return w;
    });

  it('stops lag before now, at a whole second', () => {
    for (const lagMs of [0, 5 * 60_000, HOUR]) {
      const plan = planWindows(resolved('history', { lagMs }), NOW - DAY, NOW);
      expect(plan.endMs).toBe(Math.floor((NOW - lagMs) / 1000) * 1000);
      expect(rangesOf(plan.windows).at(-1)!.endMs).toBe(plan.endMs);
    }
  });

  it('cuts windows at UTC multiples of the window size, whatever the look-back start', () => {
    const sixHours = resolved('history', { windowMs: 6 * HOUR, lookbackMs: 70 * 60_000 });
    const watermark = Date.parse('2026-11-27T13:47:00Z');
    const windows = rangesOf(planWindows(sixHours, watermark, NOW).windows);
    expect(windows[0]!.startMs).toBe(Date.parse('2026-11-27T12:37:00Z'));
    expect(windows.map((w) => new Date(w.endMs).toISOString().slice(11, 16))).toEqual([
      '18:00',
      '00:00',
      '06:00',
      '10:20',
    ]);
    // Another watermark inside the same first window yields the same later windows (the same job ids).
    const later = rangesOf(planWindows(sixHours, watermark + 30 * 60_000, NOW).windows);
    expect(later.slice(1)).toEqual(windows.slice(1));
  });

  it('windows are contiguous, never empty, never longer than the window size', () => {
    const plan = planWindows(resolved('event', { windowMs: 6 * HOUR }), null, NOW);
    const windows = rangesOf(plan.windows);
    for (const [i, w] of windows.entries()) {
      expect(w.startMs! < w.endMs).toBe(true);
      expect(w.endMs - w.startMs!).toBeLessThanOrEqual(6 * HOUR);
      if (i > 0) expect(w.startMs).toBe(windows[i - 1]!.endMs);
    }
  });

  it('horizon "all" reads everything once; after that the watermark and look-back decide', () => {
    const all = resolved('content_usage', { horizon: 'all' });
    const watermark = Date.parse('2026-11-28T08:00:00Z');
    expect(planWindows(all, watermark, NOW).windows).toEqual([
      { kind: 'range', startMs: watermark - 2 * HOUR, endMs: Date.parse('2026-11-28T10:20:15Z') },
    ]);
  });

  it('a watermark within the horizon is not clamped', () => {
    const plan = planWindows(resolved('history', { horizon: 3 * DAY }), NOW - 2 * DAY, NOW);
    expect(rangesOf(plan.windows)[0]!.startMs).toBe(Math.floor((NOW - 2 * DAY - 2 * HOUR) / 1000) * 1000);
  });

  it('a snapshot ignores the watermark and is taken at now, to the second', () => {
    const plan = planWindows(resolved('dashboard'), NOW - DAY, NOW);
    expect(plan).toEqual({
      windows: [{ kind: 'snapshot', atMs: Date.parse('2026-11-28T10:30:15Z') }],
      endMs: Date.parse('2026-11-28T10:30:15Z'),
    });
  });
});
