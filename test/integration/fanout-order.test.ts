import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
    const summary = await fanout(pipeline.context, undefined, { instanceIds: null, exports: null, reason: 'manual' });
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
