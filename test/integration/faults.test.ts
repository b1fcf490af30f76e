import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runOnce } from '../../src/pipeline/run-once.ts';
import { instanceSpec } from '../helpers/instances.ts';
import { expectedKeys, loadedKeys, startTestPipeline, type TestPipeline } from '../helpers/pipeline.ts';
import { waitFor } from '../helpers/processes.ts';

// Upstream faults, injected by the emulators: each is retried with backoff and every window is finally loaded
// exactly once (the table equals the emulator's data, no key twice).

let pipeline: TestPipeline;

beforeAll(async () => {
  pipeline = await startTestPipeline({
    instances: [
      instanceSpec('north', 31, { historyRows: 300, historyDays: 4 }),
      instanceSpec('south', 32, { historyRows: 200, historyDays: 4 }),
    ],
    exports: ['history', 'user'],
    // The horizon just covers the emulated history (4 days): the default would plan ~45 empty windows per
    // instance, work that has nothing to do with the faults.
    defaults: { window: '2d', horizon: '8d' },
    instanceYaml: '    queryTimeout: 2s',
  });
});

afterAll(async () => {
  await pipeline?.close();
});

async function reset() {
  for (const instance of pipeline.config.instances) {
    for (const e of instance.exports)
      await pipeline.context.exportState.reset(instance.id, e.definition.name);
  }
}

async function assertExact() {
  for (const instance of pipeline.config.instances) {
    for (const resolved of instance.exports) {
      const expected = expectedKeys(pipeline.stack, instance.id, resolved, Date.now());
      const loaded = await loadedKeys(pipeline.context, resolved, instance.id);
      expect(loaded, `${instance.id}/${resolved.definition.name}`).toEqual(expected);
    }
  }
}

describe('faults are retried and every window loads exactly once', () => {
  it.each([
    [
      'Looker 500s',
      () => pipeline.stack.looker.instance('north').faults.inject({ kind: 'status', status: 500, times: 3 }),
    ],
    ['a revoked Looker token', () => pipeline.stack.looker.instance('north').revokeTokens()],
    [
      'a Looker body cut off mid-stream',
      () =>
        pipeline.stack.looker.instance('north').faults.inject({ kind: 'truncate', afterRows: 2, times: 2 }),
    ],
    [
      'a Looker query that hangs',
      () => pipeline.stack.looker.instance('south').faults.inject({ kind: 'hang', times: 1 }),
    ],
    [
      'GCS 503s during upload',
      () => pipeline.stack.gcs.faults.add({ kind: 'status', status: 503, on: 'upload', times: 3 }),
    ],
    [
      'a connection reset during upload',
      () =>
        pipeline.stack.gcs.faults.add({ kind: 'reset', on: 'upload', times: 2, skip: 1, afterBytes: 200 }),
    ],
    [
      'a BigQuery backendError on a load job',
      () => pipeline.stack.bigquery.faults.add({ kind: 'backendError', on: 'load', times: 2 }),
    ],
    [
      'a BigQuery backendError on the MERGE',
      () => pipeline.stack.bigquery.faults.add({ kind: 'backendError', on: 'query', times: 2 }),
    ],
    [
      'BigQuery 503s on job insert',
      () => pipeline.stack.bigquery.faults.add({ kind: 'status', status: 503, on: 'insert', times: 2 }),
    ],
  ])('%s', async (_name, inject) => {
    await reset();
    inject();
    const report = await runOnce(pipeline.context, { timeoutMs: 60_000 });
    expect(report.windows.filter((w) => w.state !== 'committed')).toEqual([]);
    // every injected fault was actually hit
    const { looker, gcs, bigquery } = pipeline.stack;
    expect(looker.instance('north').faults.pending()).toEqual([]);
    expect(looker.instance('south').faults.pending()).toEqual([]);
    expect(gcs.faults.report().pending).toEqual([]);
    expect(bigquery.faults.snapshot().pending).toEqual([]);
    await assertExact();
  });

  it('a Looker 429 delays that instance for Retry-After without stalling the others', async () => {
    await reset();
    const { context, stack } = pipeline;
    stack.looker
      .instance('north')
      .faults.inject({ kind: 'status', status: 429, retryAfterSeconds: 3, times: 1 });
    const started = Date.now();
    const run = runOnce(context, { timeoutMs: 60_000 });
    // While north cools down, its query slots are taken until the Retry-After; south's are not.
    await waitFor(async () => (await context.leases.coolDownUntil('north')) !== null, 30_000, 'the 429');
    expect(await context.leases.coolDownUntil('north')).toBeGreaterThanOrEqual(started + 3000);
    expect(await context.leases.coolDownUntil('south')).toBeNull();
    const report = await run;
    expect(report.ok).toBe(true);
    await assertExact();
    // north waited at least its Retry-After; south, asked nothing, was done well before that
    const finished = async (instanceId: string) => {
      const ids = report.windows.filter((w) => w.instanceId === instanceId).map((w) => w.extractJobId);
      const jobs = await Promise.all(ids.map((id) => context.queues.extract.getJob(id)));
      return Math.max(...jobs.map((j) => j!.finishedOn!));
    };
    const north = await finished('north');
    const south = await finished('south');
    expect(north - started).toBeGreaterThanOrEqual(3000);
    // the cool-down is north's alone: south was never held back by it
    expect(south).toBeLessThan(north);
    expect(await context.leases.coolDownUntil('north')).toBeNull(); // it ended
    expect(stack.looker.instance('north').stats().faultsInjected.status).toBeGreaterThanOrEqual(1);
  });
});
