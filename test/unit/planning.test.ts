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
