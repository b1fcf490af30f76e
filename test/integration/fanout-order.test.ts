import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatchWindow } from '../../src/pipeline/batching/batch-store.ts';
import { batching, holdBatchesForFanout } from '../../src/pipeline/batching/batching.ts';
import { catalog, type ExtractPayload } from '../../src/pipeline/catalog.ts';
import { fanout } from '../../src/pipeline/processors/fanout.ts';
import { instanceSpec } from '../helpers/instances.ts';
import { startTestPipeline, type TestPipeline } from '../helpers/pipeline.ts';

// The order a fan-out queues its extracts in: export by export across instances, so the workers' next extracts
// belong to different instances (each with a few query slots) instead of queueing behind one instance's.

let pipeline: TestPipeline;

beforeAll(async () => {
  pipeline = await startTestPipeline({
    instances: ['a', 'b', 'c'].map((id, i) => instanceSpec(id, i + 1, { historyRows: 20, historyDays: 1 })),
    exports: ['history', 'user', 'event'],
    defaults: { window: '7d', horizon: '2d' },
    startWorker: false,
  });
}, 120_000);

afterAll(async () => {
  await pipeline?.close();
});

describe('fan-out order', () => {
  it("queues the instances' extracts export by export, alternating instances", async () => {
    const summary = await fanout(pipeline.context, undefined, {
      instanceIds: null,
      exports: null,
      reason: 'manual',
    });
    expect(summary.skipped).toEqual([]);
    const waiting = await pipeline.context.queues.extract.getJobs(['waiting'], 0, -1, true);
    const order = waiting.map((j) => {
      const data = catalog.extract.schema.parse(j.data) as ExtractPayload;
      return `${data.exportName}@${data.instanceId}`;
    });
    expect(order).toEqual(
      ['history', 'user', 'event'].flatMap((exportName) =>
        ['a', 'b', 'c'].map((id) => `${exportName}@${id}`),
      ),
    );
  });
});

describe('a fan-out still planning', () => {
  it("keeps its tables' batches open until it is done, then lets them close", async () => {
    const { context } = pipeline;
    const { store } = batching(context);
    const limits = context.config.load.batch;
    const expected = `${context.config.redis.prefix}:batch-expected:user`;
    // While it plans (seen from inside: each export's planning starts with `ensure`), it stands in the table's
    // expected windows; once done, it no longer does.
    const seen: string[][] = [];
    const ensure = context.exportState.ensure.bind(context.exportState);
    context.exportState.ensure = async (instanceId, exportName) => {
      seen.push(await context.redis.zrange(expected, 0, -1));
      return ensure(instanceId, exportName);
    };
    try {
      await fanout(context, undefined, { instanceIds: null, exports: ['user'], reason: 'manual' });
    } finally {
      context.exportState.ensure = ensure;
    }
    expect(seen.length).toBe(3);
    for (const members of seen) expect(members.some((m) => m.startsWith('fan-out:'))).toBe(true);
    expect((await context.redis.zrange(expected, 0, -1)).some((m) => m.startsWith('fan-out:'))).toBe(false);

    // A window that is the last one expected closes its batch at once, unless a fan-out still plans its table.
    const table = 'dashboard';
    const window = (n: number): BatchWindow => ({
      loadJobId: `load-${table}-${n}`,
      instanceId: 'a',
      exportName: table,
      plan: 1,
      window: { kind: 'range', startMs: n, endMs: n + 1 },
      sourceUri: `gs://b/${n}`,
      bytes: 1,
      rows: 1,
    });
    await store.expect(table, ['load-dashboard-1'], Date.now() + 60_000);
    const hold = await holdBatchesForFanout(context, [table]);
    const joined = await store.join(window(1), limits, Date.now(), false);
    expect(joined.full).toBe(false);
    expect((await store.close(table, joined.batch, limits, Date.now() + limits.quietMs)).kind).toBe('wait');
    await hold.done();
    expect((await store.close(table, joined.batch, limits, Date.now() + limits.quietMs)).kind).toBe('closed');
    await store.expect(table, ['load-dashboard-2'], Date.now() + 60_000);
    expect((await store.join(window(2), limits, Date.now(), false)).full).toBe(true);
  });
});
