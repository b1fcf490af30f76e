import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.ts';
import {
  type BudgetInput,
  decideBudget,
  type ExportBudgetInput,
  widenFactor,
  windowsIn,
} from '../../src/pipeline/budget/forecast.ts';
import { monthEndMs, monthOf, tickIntervalMs } from '../../src/pipeline/budget/ticks.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NOW = Date.parse('2026-03-10T00:00:00Z');

function exportInput(name: string, overrides: Partial<ExportBudgetInput> = {}): ExportBudgetInput {
  const snapshot = overrides.snapshot ?? false;
  return {
    name,
    lowPriority: snapshot,
    refreshMs: 10 * 60_000,
    windowMs: 6 * HOUR,
    lookbackMs: snapshot ? 0 : 70 * 60_000,
    snapshot,
    reopens: false,
    lastWindowRows: 100,
    pageSize: 5000,
    sinceLastPlanMs: HOUR,
    now: snapshot ? { open: true, reopen: false } : { startMs: NOW - 2 * HOUR, endMs: NOW, reopen: false },
    ...overrides,
  };
}

const history = exportInput('history');
const user = exportInput('user', { snapshot: true, lowPriority: true, refreshMs: HOUR });
const dashboard = exportInput('dashboard', { snapshot: true, lowPriority: true, refreshMs: DAY });

function input(budget: number, overrides: Partial<BudgetInput> = {}): BudgetInput {
  return {
    instanceId: 'prod',
    budget,
    used: 0,
    calibration: 1,
    callsPerWindow: 2,
    nowMs: NOW,
    monthEndMs: monthEndMs(NOW),
    tickMs: HOUR,
    exports: [history, user, dashboard],
    ...overrides,
  };
}

describe('budget arithmetic', () => {
  it('counts windows as planning cuts them on UTC multiples', () => {
    expect(windowsIn(0, DAY, DAY)).toBe(1);
    expect(windowsIn(DAY - HOUR, DAY + HOUR, DAY)).toBe(2);
    expect(windowsIn(5, 5, DAY)).toBe(0);
  });

  it('widens a window only as far as its last rows still fit one page', () => {
    expect(widenFactor(exportInput('a', { lastWindowRows: 100 }))).toBe(32);
    expect(widenFactor(exportInput('a', { lastWindowRows: 3000 }))).toBe(1);
    expect(widenFactor(exportInput('a', { lastWindowRows: 0 }))).toBe(64);
    expect(widenFactor(exportInput('a', { lastWindowRows: null }))).toBe(8);
    expect(widenFactor(user)).toBe(1);
  });

  it('knows UTC months and a schedule’s rhythm', () => {
    expect(monthOf(Date.parse('2026-03-31T23:59:59Z'))).toBe('2026-03');
    expect(monthEndMs(NOW)).toBe(Date.parse('2026-04-01T00:00:00Z'));
    expect(tickIntervalMs('0 */6 * * *', 'UTC', NOW)).toBe(6 * HOUR);
    expect(tickIntervalMs('*/15 * * * *', 'UTC', NOW)).toBe(15 * 60_000);
  });
});

describe('decideBudget', () => {
  it('changes nothing when the schedule fits', () => {
    const decision = decideBudget(input(100_000));
    expect(decision.level).toBe(0);
    expect(decision.warning).toBeUndefined();
    expect(decision.exports.history).toEqual({ run: true, windowMs: 6 * HOUR, estimate: 2 });
    expect(decision.forecast).toBe(decision.needed);
  });

  it('widens windows first, and says nothing while that is enough', () => {
    const needed = decideBudget(input(100_000)).needed;
    const decision = decideBudget(input(needed - 1));
    expect(decision.level).toBe(1);
    expect(decision.warning).toBeUndefined();
    expect(decision.exports.history).toMatchObject({ run: true, windowMs: 32 * 6 * HOUR });
    expect(decision.forecast).toBeLessThan(needed);
  });

  it('then holds snapshots and daily tables to their refresh interval, and warns with the numbers', () => {
    const decision = decideBudget(
      input(3000, { exports: [history, user, { ...dashboard, sinceLastPlanMs: HOUR }] }),
    );
    expect(decision.level).toBe(2);
    expect(decision.forecast).toBeLessThanOrEqual(3000);
    expect(decision.exports.history?.run).toBe(true);
    expect(decision.exports.user?.run).toBe(true); // an hour since its last plan: due
    expect(decision.exports.dashboard).toEqual({
      run: false,
      reason: 'held to one plan every 24 hours by the API budget',
    });
    expect(decision.warning).toMatch(
      /^instance prod: the schedule needs ~[\d,]+ Looker queries this month, the budget is 3,000; exports dashboard run every 24 hours/,
    );
  });

  it('pauses low-priority exports before it slows history-like ones, and slows those last', () => {
    const paused = decideBudget(input(1_100));
    expect(paused.level).toBe(3);
    expect(paused.exports.user).toMatchObject({ run: false });
    expect(paused.exports.history?.run).toBe(true);
    const spread = decideBudget(input(300, { exports: [{ ...history, sinceLastPlanMs: HOUR }, user] }));
    expect(spread.level).toBe(4);
    expect(spread.forecast).toBeLessThanOrEqual(300);
    expect(spread.every.history).toBeGreaterThan(HOUR);
    expect(spread.warning).toContain('exports history run every');
    expect(spread.warning).toContain('exports user wait for next month');
  });

  it('scales estimates by the calls really made, and counts what is used', () => {
    const plain = decideBudget(input(100_000));
    const scaled = decideBudget(input(100_000, { calibration: 3, used: 50 }));
    expect(scaled.needed).toBeGreaterThan(2.9 * plain.needed);
    expect(scaled.exports.history).toMatchObject({ estimate: 6 });
    // below 1 (plans still in flight) never shrinks an estimate
    expect(decideBudget(input(100_000, { calibration: 0.2 })).needed).toBe(plain.needed);
  });

  it('is deterministic', () => {
    expect(decideBudget(input(1_100))).toEqual(decideBudget(input(1_100)));
  });
});

describe('instances[].apiBudget', () => {
  const yaml = (budget: string) => `
redis: { url: "redis://localhost:6379" }
gcs: { bucket: my-bucket }
bigquery: { projectId: p, dataset: d }
masking: { hashKey: "\${HASH}" }
instances:
  - id: prod
    baseUrl: https://prod.looker.com
    clientId: "\${ID}"
    clientSecret: "\${SECRET}"
${budget}`;

  it('is optional (unlimited) and read when set', () => {
    expect(
      parseConfigText(yaml(''), 'lsa.yaml', { env: {}, requireSecrets: false }).instances[0]!.apiBudget,
    ).toBeUndefined();
    const config = parseConfigText(yaml('    apiBudget: { queriesPerMonth: 1000 }'), 'lsa.yaml', {
      env: {},
      requireSecrets: false,
    });
    expect(config.instances[0]!.apiBudget).toEqual({ queriesPerMonth: 1000 });
  });

  it('refuses a budget that is not a positive whole number, naming the path', () => {
    for (const bad of ['0', '-5', '1.5', '"many"']) {
      expect(() =>
        parseConfigText(yaml(`    apiBudget: { queriesPerMonth: ${bad} }`), 'lsa.yaml', {
          env: {},
          requireSecrets: false,
        }),
      ).toThrow(/instances\[0\]\.apiBudget\.queriesPerMonth: /);
    }
    expect(() =>
      parseConfigText(yaml('    apiBudget: { perMonth: 5 }'), 'lsa.yaml', { env: {}, requireSecrets: false }),
    ).toThrow(/instances\[0\]\.apiBudget\.perMonth: is not a known setting/);
  });
});
