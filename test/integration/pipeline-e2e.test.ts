import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResolvedExport } from '../../src/config/model.ts';
import { runOnce } from '../../src/pipeline/run-once.ts';
import { instanceSpec } from '../helpers/instances.ts';
import { expectedKeys, loadedKeys, startTestPipeline, type TestPipeline } from '../helpers/pipeline.ts';

// The product end to end: real Redis, the three emulators, the real clients, BullMQ workers. Three instances ×
// five exports, an initial load, new activity, an incremental load; then a load that cannot commit.

const EXPORTS = ['history', 'content_usage', 'user', 'event', 'scheduled_job'];
let pipeline: TestPipeline;

const exportsOf = (instanceId: string): ResolvedExport[] =>
  pipeline.config.instances.find((i) => i.id === instanceId)!.exports;

async function assertTablesEqualEmulator(beforeMs: number) {
  for (const instance of pipeline.config.instances) {
    for (const resolved of instance.exports) {
      const expected = expectedKeys(pipeline.stack, instance.id, resolved, beforeMs);
      const loaded = await loadedKeys(pipeline.context, resolved, instance.id);
      expect.soft(loaded.length, `${instance.id}/${resolved.definition.name} rows`).toBe(expected.length);
      expect.soft(loaded, `${instance.id}/${resolved.definition.name} keys`).toEqual(expected);
    }
  }
}

beforeAll(async () => {
  pipeline = await startTestPipeline({
    instances: [
      instanceSpec('alpha', 1, { historyRows: 400, historyDays: 20 }),
      instanceSpec('beta', 2, { historyRows: 1200, historyDays: 40, maxRowLimit: 500 }),
      instanceSpec('gamma', 3, { historyRows: 50, historyDays: 5 }),
    ],
    exports: EXPORTS,
    defaults: { window: '30d', pageSize: '500' },
  });
});

afterAll(async () => {
  await pipeline?.close();
});

describe('a full run, then an incremental run', () => {
  it('loads every export of every instance; the initial-load flags turn off only once loaded', async () => {
    const { context } = pipeline;
    const report = await runOnce(context, { timeoutMs: 120_000 });
    const failures = report.windows.filter((w) => w.state !== 'committed');
    expect(failures).toEqual([]);
    expect(new Set(report.windows.map((w) => `${w.instanceId}/${w.exportName}`)).size).toBe(15);
    await assertTablesEqualEmulator(report.fanout.planned.length ? Date.now() : 0);
    for (const instance of pipeline.config.instances) {
      for (const name of EXPORTS) {
        const flag = await context.redis.hget(context.keys.instance(instance.id), `${name}.initialLoad`);
        expect(flag, `${instance.id}/${name}`).toBe('false');
        const state = await context.exportState.get(instance.id, name);
        expect(state.watermark).not.toBeNull();
      }
    }
  });

  it('after new activity, loads only the new and changed rows, and no key appears twice', async () => {
    const { context, stack } = pipeline;
    const before = await context.runStatus.get('beta', 'history');
    stack.looker.instance('beta').simulateActivity(120);
    stack.looker.instance('alpha').simulateActivity(30);
    await new Promise((r) => setTimeout(r, 1100)); // the new rows' second is now in the past (windows are closed)
    const report = await runOnce(context, { timeoutMs: 120_000 });
    expect(report.windows.filter((w) => w.state !== 'committed')).toEqual([]);
    const after = await context.runStatus.get('beta', 'history');
    const extractedNow = after.rowsExtracted - before.rowsExtracted;
    // the 120 new rows plus the 10-minute look-back, not the 1200 already loaded
    expect(extractedNow).toBeGreaterThanOrEqual(120);
    expect(extractedNow).toBeLessThan(400);
    await assertTablesEqualEmulator(Date.now());
    // content_usage changed rows are updated in place: counts equal the emulator's now
    const resolved = exportsOf('beta').find((e) => e.definition.name === 'content_usage')!;
    const truth = stack.looker.instance('beta').runQuery({
      model: 'system__activity',
      view: 'content_usage',
      fields: ['content_usage.id', 'content_usage.other_count', 'content_usage.api_count'],
      sorts: ['content_usage.id'],
    });
    const { projectId, dataset } = context.config.bigquery;
    const [rows] = await context.bigquery.query(
      `SELECT id, other_count, api_count FROM \`${projectId}.${dataset}.content_usage\` WHERE looker_instance = 'beta' ORDER BY id`,
    );
    expect(rows).toEqual(
      truth.map((r) => ({
        id: r['content_usage.id'],
        other_count: r['content_usage.other_count'],
        api_count: r['content_usage.api_count'],
      })),
    );
    expect(resolved.settings.loadStrategy).toBe('merge');
  });

  it('a load that cannot commit leaves the initial-load flag on and the watermark where it was', async () => {
    const { context } = pipeline;
    await context.exportState.reset('gamma', 'user');
    const watermarkBefore = await context.exportState.get('gamma', 'user');
    expect(watermarkBefore).toMatchObject({ initialLoad: true, watermark: null });
    // An operator changed the target table by hand: the load refuses it (schema mismatch, not retryable).
    const { dataset } = context.config.bigquery;
    await context.bigquery.dataset(dataset).table('user').delete();
    await context.bigquery
      .dataset(dataset)
      .createTable('user', { schema: 'looker_instance:string,id:string' });
    const report = await runOnce(context, { instanceIds: ['gamma'], exports: ['user'], timeoutMs: 60_000 });
    expect(report.ok).toBe(false);
    expect(report.windows[0]!.error).toMatch(
      /does not match the export's schema: .*column id is STRING, expected INTEGER/,
    );
    expect(await context.exportState.get('gamma', 'user')).toMatchObject({
      initialLoad: true,
      watermark: null,
      pendingWindows: 1,
    });
    expect(await context.redis.hget(context.keys.instance('gamma'), 'user.initialLoad')).toBe('true');
  });
});
