import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderMetrics } from '../../src/dashboard/metrics.ts';
import { monthOf } from '../../src/pipeline/budget/ticks.ts';
import { checkHealth } from '../../src/pipeline/health.ts';
import { runOnce } from '../../src/pipeline/run-once.ts';
import { collectStatus, renderStatusTable } from '../../src/pipeline/status.ts';
import { ApiCallStore } from '../../src/state/api-calls.ts';
import { StageMetrics } from '../../src/state/stage-metrics.ts';
import { instanceSpec } from '../helpers/instances.ts';
import { loadedKeys, startTestPipeline, type TestPipeline } from '../helpers/pipeline.ts';

// The Looker API budget, through the whole pipeline: the calls counted are the calls Looker received, and a
// month on a small budget stays within it while every export still loads, with the operator told why some
// exports run less often. One clock moves the emulator and the planner together.

const HOUR = 3_600_000;
const EXPORTS = ['history', 'user', 'dashboard', 'content_usage'];
const BUDGET = Number(process.env.LSA_TEST_API_BUDGET ?? 150);
/** Five days before the end of March: 20 ticks of a 6-hour schedule are left in the month. */
let simNow = Date.parse('2026-03-27T00:00:00Z');
const clock = () => simNow;
let pipeline: TestPipeline;

beforeAll(async () => {
  pipeline = await startTestPipeline({
    instances: [
      instanceSpec('small', 31, { historyRows: 200, historyDays: 20, systemActivity: 'elite' as const }),
      instanceSpec('free', 32, { historyRows: 100, historyDays: 5 }),
    ],
    exports: EXPORTS,
    timing: 'derived',
    defaults: { window: '1d', horizon: '30d' },
    instanceYaml: (id) =>
      id === 'small'
        ? `    schedule: { cron: "0 */6 * * *" }\n    apiBudget: { queriesPerMonth: ${BUDGET} }`
        : '',
    now: clock,
  });
}, 120_000);

afterAll(async () => {
  await pipeline?.close();
});

const store = () => new ApiCallStore(pipeline.context.redis, pipeline.context.keys);

describe('Looker API budget', () => {
  it('counts exactly the query calls Looker received, per instance and month', async () => {
    const report = await runOnce(pipeline.context, { instanceIds: ['free'], pollMs: 50, timeoutMs: 60_000 });
    expect(report.windows.every((w) => w.state === 'committed')).toBe(true);
    const received = pipeline.stack.looker.instance('free').stats().queries;
    expect(received).toBeGreaterThan(0);
    const usage = await store().usage('free', monthOf(simNow));
    expect(usage.used).toBe(received);
    // the month's key is the clock's month, named as documented, and expires
    const key = `${pipeline.config.redis.prefix}:api-calls:free:2026-03`;
    expect(Number(await pipeline.context.redis.get(key))).toBe(received);
    expect(await pipeline.context.redis.ttl(key)).toBeGreaterThan(30 * 24 * 3600);
  });

  it('keeps a month on a small budget within it, loads every export, and warns once a day', async () => {
    const warnings: string[] = [];
    const forecasts: number[] = [];
    const end = Date.parse('2026-04-01T00:00:00Z');
    while (simNow < end) {
      const report = await runOnce(pipeline.context, {
        instanceIds: ['small'],
        pollMs: 50,
        timeoutMs: 60_000,
      });
      expect(
        report.windows.filter((w) => w.state !== 'committed'),
        JSON.stringify(report.windows.filter((w) => w.state !== 'committed')).slice(0, 1000),
      ).toEqual([]);
      const budget = report.fanout.budgets.find((b) => b.instanceId === 'small')!;
      forecasts.push(budget.forecast);
      if (budget.warning) warnings.push(budget.warning);
      if (process.env.LSA_TEST_API_BUDGET_TRACE) {
        console.log(
          new Date(simNow).toISOString(),
          budget,
          report.fanout.skipped.map((s) => `${s.exportName}: ${s.reason}`),
        );
      }
      simNow += 6 * HOUR;
    }
    const used = pipeline.stack.looker.instance('small').stats().queries;
    const counted = await store().usage('small', '2026-03');
    expect(counted.used).toBe(used);
    expect(used).toBeLessThanOrEqual(BUDGET);
    for (const name of EXPORTS) {
      const resolved = pipeline.config.instances[0]!.exports.find((e) => e.definition.name === name)!;
      expect((await loadedKeys(pipeline.context, resolved, 'small')).length, name).toBeGreaterThan(0);
    }
    // the schedule did not fit: the operator was told, at most once per day, naming the exports held back
    expect(warnings.length).toBeGreaterThan(0);
    expect(warnings.length).toBeLessThanOrEqual(5);
    expect(warnings[0]).toMatch(
      new RegExp(
        `^instance small: the schedule needs ~[\\d,]+ Looker queries this month, the budget is ${BUDGET}; exports .+ (run every|wait for next month)`,
      ),
    );
    // status shows the month's calls against the budget (read on the month's last day)
    simNow = end - HOUR;
    const status = await collectStatus(pipeline.context);
    const line = renderStatusTable(status);
    expect(line).toContain(`small: ${used} / ${BUDGET} queries this month, forecast`);
    // and so does /metrics, for the budgeted instance only
    const metrics = renderMetrics({
      status,
      health: await checkHealth(pipeline.context),
      stages: await new StageMetrics(pipeline.context.redis, pipeline.context.keys).read(),
      build: { version: '0.0.0', node: process.versions.node },
    });
    expect(metrics).toContain(`lsa_looker_queries_month{instance="small"} ${used}`);
    expect(metrics).toContain(`lsa_looker_query_budget{instance="small"} ${BUDGET}`);
    expect(metrics).toMatch(/lsa_looker_queries_forecast\{instance="small"\} \d+/);
    expect(metrics).not.toContain('lsa_looker_query_budget{instance="free"}');
  }, 300_000);
});
