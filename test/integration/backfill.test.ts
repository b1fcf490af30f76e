import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findExport, findInstance } from '../../src/config/model.ts';
import { runOnce } from '../../src/pipeline/run-once.ts';
import { instanceSpec } from '../helpers/instances.ts';
import { expectedKeys, loadedKeys, startTestPipeline, type TestPipeline } from '../helpers/pipeline.ts';
import { spawnLsa } from '../helpers/processes.ts';

// `lsa backfill` loads a past range again beside the regular plan: rows deleted by hand come back exactly once,
// a second backfill changes nothing, and the watermark, the plan and the pending set stay as they were.

const DAY = 86_400_000;
let pipeline: TestPipeline;

beforeAll(async () => {
  pipeline = await startTestPipeline({
    instances: [instanceSpec('bf', 11, { historyRows: 400, historyDays: 8 })],
    exports: ['history', 'user'],
    defaults: { window: '1d' },
  });
});

afterAll(async () => {
  await pipeline?.close();
});

async function lsa(...args: string[]): Promise<{ code: number | null; output: string }> {
  const child = spawnLsa([...args, '--config', pipeline.configFile, '--env-file', pipeline.envFile]);
  const code = await child.exited;
  return { code, output: child.output() };
}

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

async function historyRows(fromMs: number, toMs: number): Promise<{ n: number; keys: number }> {
  const { projectId, dataset } = pipeline.config.bigquery;
  const [rows] = await pipeline.context.bigquery.query({
    query: `SELECT COUNT(*) AS n, COUNT(DISTINCT id) AS k FROM \`${projectId}.${dataset}.history\`
      WHERE looker_instance = 'bf' AND created_time >= TIMESTAMP_MILLIS(@from) AND created_time < TIMESTAMP_MILLIS(@to)`,
    params: { from: fromMs, to: toMs },
  });
  const row = (rows as { n: number; k: number }[])[0]!;
  return { n: Number(row.n), keys: Number(row.k) };
}

describe('lsa backfill', () => {
  it('brings back rows deleted by hand, exactly once, and never moves the watermark', async () => {
    const first = await runOnce(pipeline.context, { pollMs: 50, timeoutMs: 60_000 });
    expect(first.ok, JSON.stringify(first.windows.filter((w) => w.state !== 'committed'))).toBe(true);
    const resolved = findExport(findInstance(pipeline.config, 'bf'), 'history');
    const state = pipeline.context.exportState;
    const before = {
      state: await state.get('bf', 'history'),
      plan: await state.currentPlan('bf', 'history'),
    };
    expect(before.state.watermark).not.toBeNull();

    const today = Math.floor(Date.now() / DAY) * DAY;
    const fromMs = today - 5 * DAY;
    const toMs = today - 2 * DAY;
    const loaded = await historyRows(fromMs, toMs);
    expect(loaded.n).toBeGreaterThan(0);
    expect(loaded.n).toBe(loaded.keys);
    const { projectId, dataset } = pipeline.config.bigquery;
    await pipeline.context.bigquery.query({
      query: `DELETE FROM \`${projectId}.${dataset}.history\` WHERE looker_instance = 'bf'
        AND created_time >= TIMESTAMP_MILLIS(@from) AND created_time < TIMESTAMP_MILLIS(@to)`,
      params: { from: fromMs, to: toMs },
    });
    expect((await historyRows(fromMs, toMs)).n).toBe(0);

    const backfillRange = () =>
      lsa('backfill', '--instance', 'bf', '--export', 'history', '--from', day(fromMs), '--to', day(toMs));
    const backfill = await backfillRange();
    expect(backfill.code, backfill.output).toBe(0);
    expect(backfill.output).toMatch(/backfill b1 of bf\/history: 3 window\(s\)/);
    expect(backfill.output).toMatch(/backfill: 3\/3 windows done, \d+ rows, .*ETA/);
    expect(backfill.output).toContain('3/3 windows committed');
    expect(await historyRows(fromMs, toMs)).toEqual(loaded);
    // Every row Looker has is in BigQuery once, inside and outside the range.
    const keys = await loadedKeys(pipeline.context, resolved, 'bf');
    expect(keys).toEqual([...new Set(keys)]);
    expect(keys).toEqual(expectedKeys(pipeline.stack, 'bf', resolved, Date.parse(before.state.watermark!)));

    // The regular plan's state is untouched: watermark, plan number, pending set, initial-load flag.
    expect(await state.get('bf', 'history')).toEqual(before.state);
    expect(await state.currentPlan('bf', 'history')).toBe(before.plan);

    // Its jobs live in their own id space: `b1`, never a plan's `p<n>`.
    const extracts = await pipeline.context.queues.extract.getJobs(['completed']);
    const backfillIds = extracts.map((j) => j.id!).filter((id) => id.endsWith('-b1'));
    expect(backfillIds).toHaveLength(3);
    const loads = await pipeline.context.queues.load.getJobs(['completed']);
    expect(loads.filter((j) => j.id!.endsWith('-b1'))).toHaveLength(3);

    // Again, over rows that are all there: nothing changes, one row per key.
    const again = await backfillRange();
    expect(again.code, again.output).toBe(0);
    expect(again.output).toMatch(/backfill b2 of bf\/history/);
    expect(await historyRows(fromMs, toMs)).toEqual(loaded);
    expect(await loadedKeys(pipeline.context, resolved, 'bf')).toEqual(keys);
    expect(await state.get('bf', 'history')).toEqual(before.state);

    // `_lsa_runs` names each backfill's windows apart from the plan's: one row per window and backfill.
    const [runs] = await pipeline.context.bigquery.query(
      `SELECT backfill, COUNT(*) AS n, COUNT(DISTINCT \`window\`) AS w FROM \`${projectId}.${dataset}._lsa_runs\`
        WHERE export = 'history' AND backfill IS NOT NULL GROUP BY backfill ORDER BY backfill`,
    );
    expect(
      (runs as { backfill: number; n: number; w: number }[]).map((r) => [r.backfill, r.n, r.w].map(Number)),
    ).toEqual([
      [1, 3, 3],
      [2, 3, 3],
    ]);
  });

  it('refuses what it cannot do, saying why, with exit code 2', async () => {
    const today = Math.floor(Date.now() / DAY) * DAY;
    const base = ['backfill', '--instance', 'bf'];
    const cases: { args: string[]; message: RegExp }[] = [
      {
        args: [...base, '--export', 'history', '--from', day(today - 2 * DAY), '--to', day(today - 2 * DAY)],
        message: /--from .* is not before --to/,
      },
      {
        args: [...base, '--export', 'history', '--from', day(today - DAY), '--to', day(today - 3 * DAY)],
        message: /--from .* is not before --to/,
      },
      {
        args: [...base, '--export', 'user', '--from', day(today - 3 * DAY), '--to', day(today - DAY)],
        message: /bf\/user is a snapshot export: a snapshot has no range: use lsa run/,
      },
      {
        args: [...base, '--export', 'history', '--from', day(today - 120 * DAY), '--to', day(today - DAY)],
        message: /older than Looker's retention for bf\/history \(90 days.*no longer has rows before/,
      },
      {
        args: [
          'backfill',
          '--instance',
          'nope',
          '--export',
          'history',
          '--from',
          '2024-01-01',
          '--to',
          '2024-01-02',
        ],
        message: /unknown instance "nope" \(configured: bf\)/,
      },
      {
        args: [...base, '--export', 'nope', '--from', '2024-01-01', '--to', '2024-01-02'],
        message: /instance "bf" has no export "nope"/,
      },
      {
        args: [...base, '--export', 'history', '--from', 'yesterday', '--to', '2024-01-02'],
        message: /--from "yesterday" is not a date/,
      },
      { args: [...base, '--export', 'history', '--to', '2024-01-02'], message: /--from is required/ },
    ];
    const before = await pipeline.context.redis.keys(`${pipeline.config.redis.prefix}:backfill-seq:*`);
    for (const { args, message } of cases) {
      const result = await lsa(...args);
      expect(result.code, result.output).toBe(2);
      expect(result.output).toMatch(message);
    }
    // Nothing was started by a refused backfill.
    expect(await pipeline.context.redis.keys(`${pipeline.config.redis.prefix}:backfill-seq:*`)).toEqual(
      before,
    );
  });
});
