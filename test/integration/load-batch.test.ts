import { gzipSync } from 'node:zlib';
import { Queue } from 'bullmq';
import type { LookerInstanceSpec } from 'lsa-emulators/looker';
import { afterEach, describe, expect, it } from 'vitest';
import { catalog } from '../../src/pipeline/catalog.ts';
import type { LoadOutcome } from '../../src/pipeline/processors/load.ts';
import type { BatchOutcome } from '../../src/pipeline/processors/load-batch.ts';
import { runOnce } from '../../src/pipeline/run-once.ts';
import {
  expectedKeys,
  FAST_WORKERS,
  loadedKeys,
  startTestPipeline,
  type TestPipeline,
} from '../helpers/pipeline.ts';
import { waitFor } from '../helpers/processes.ts';

// Batched loads through the whole pipeline: real Redis, BullMQ workers, the emulators and the real clients. The
// windows of one table ready together are loaded by one load job and one MERGE; each window's own load job
// completes with its rows once its batch committed it.

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function instance(id: string, seed: number, historyDays = 4): LookerInstanceSpec {
  return { id, clientId: `${id}-id`, clientSecret: `${id}-secret-value`, seed, historyRows: 60, historyDays };
}

async function pipelineWith(instances: LookerInstanceSpec[], batchYaml: string): Promise<TestPipeline> {
  const pipeline = await startTestPipeline({
    instances,
    exports: ['history'],
    defaults: { window: '1d', horizon: '6d' },
    extraYaml: `${FAST_WORKERS}\nload:\n  batch:\n${batchYaml}`,
  });
  cleanups.push(() => pipeline.close());
  return pipeline;
}

async function jobIds(pipeline: TestPipeline, prefix: string): Promise<string[]> {
  const [jobs] = await pipeline.context.bigquery.getJobs({ allUsers: true });
  return jobs.map((j) => j.id ?? '').filter((id) => id.startsWith(prefix));
}

async function assertExact(pipeline: TestPipeline, instanceIds: string[]) {
  for (const id of instanceIds) {
    const resolved = pipeline.config.instances.find((i) => i.id === id)!.exports[0]!;
    expect(await loadedKeys(pipeline.context, resolved, id), id).toEqual(
      expectedKeys(pipeline.stack, id, resolved, Date.now()),
    );
  }
}

async function loadOutcomes(pipeline: TestPipeline): Promise<LoadOutcome[]> {
  const jobs = await pipeline.context.queues.load.getJobs(['completed']);
  return jobs.map((j) => j.returnvalue as LoadOutcome);
}

describe('batched loads', () => {
  it('loads the windows of a table ready together with one load job and one MERGE; each window job completes with its rows', async () => {
    const pipeline = await pipelineWith(
      [instance('a', 11), instance('b', 12), instance('c', 13)],
      '    maxWait: 30s\n    quiet: 5s',
    );
    const started = Date.now();
    const report = await runOnce(pipeline.context, { timeoutMs: 90_000 });
    expect(report.windows.filter((w) => w.state !== 'committed')).toEqual([]);
    const loaded = await loadOutcomes(pipeline);
    expect(loaded.length).toBeGreaterThanOrEqual(6);
    expect(await jobIds(pipeline, 'lsa_stage_history_')).toHaveLength(1);
    expect(await jobIds(pipeline, 'lsa_merge_history_')).toHaveLength(1);
    const batchJobIds = new Set(loaded.map((o) => o.batchJobId));
    expect(batchJobIds).toEqual(new Set([catalog.loadBatch.jobId({ exportName: 'history', batch: 1 })]));
    const batchJob = await pipeline.context.queues.load.getJob(loaded[0]!.batchJobId!);
    expect(batchJob).toBeUndefined(); // it lives in its own queue, visible as such
    const batches = new Queue(catalog.loadBatch.queue, {
      connection: pipeline.context.redis,
      prefix: pipeline.config.redis.prefix,
    });
    cleanups.push(() => batches.close());
    const [done] = await batches.getJobs(['completed']);
    const outcome = done!.returnvalue as BatchOutcome;
    expect(outcome).toMatchObject({ windows: loaded.length, committed: loaded.length, rejected: 0 });
    expect(outcome.rowsLoaded).toBe(loaded.reduce((sum, o) => sum + o.rowsLoaded, 0));
    await assertExact(pipeline, ['a', 'b', 'c']);
    for (const id of ['a', 'b', 'c']) {
      const state = await pipeline.context.exportState.get(id, 'history');
      expect(state).toMatchObject({ initialLoad: false, pendingWindows: 0 });
      expect(Date.parse(state.watermark!)).toBeGreaterThan(started - 86_400_000);
    }
  }, 120_000);

  it('a window whose object BigQuery refuses leaves the batch; the others commit; it fails alone, naming the problem', async () => {
    const pipeline = await pipelineWith(
      [instance('good', 21), instance('bad', 22, 1)],
      '    maxWait: 30s\n    quiet: 5s',
    );
    const run = runOnce(pipeline.context, { timeoutMs: 90_000 });
    // Once the bad instance's window waits in its batch, its object is replaced by one BigQuery refuses.
    const { store } = pipeline.stack.gcs;
    const { bucket, prefix } = pipeline.config.gcs;
    await waitFor(
      async () =>
        (await pipeline.context.queues.load.getJobs(['delayed'])).some((j) => j.data.instanceId === 'bad'),
      60_000,
      'the bad window to wait in its batch',
    );
    const objects = store.listObjects(bucket, `${prefix}/bad/`);
    expect(objects.length).toBeGreaterThan(0);
    for (const object of objects) {
      store.putObject({
        bucket,
        name: object.name,
        bytes: gzipSync('{"looker_instance":"bad","surprise":1,"_extracted_at":"2026-01-01T00:00:00Z"}\n'),
        contentType: 'application/gzip',
        metadata: object.metadata,
      });
    }
    const report = await run;
    const bad = report.windows.filter((w) => w.instanceId === 'bad' && w.state !== 'committed');
    expect(bad.length).toBeGreaterThan(0);
    for (const w of bad) expect(w.state).toBe('failed');
    expect(report.windows.filter((w) => w.instanceId === 'good' && w.state !== 'committed')).toEqual([]);
    await assertExact(pipeline, ['good']);
    const failed = await pipeline.context.queues.load.getJobs(['failed']);
    expect(failed.length).toBe(objects.length);
    for (const job of failed) expect(job.failedReason).toMatch(/No such field: surprise/);
    expect((await pipeline.context.exportState.get('bad', 'history')).pendingWindows).toBeGreaterThan(0);
  }, 120_000);

  it('maxWindows: 1 loads every window alone, as before batching', async () => {
    const pipeline = await pipelineWith([instance('solo', 31)], '    maxWindows: 1');
    const report = await runOnce(pipeline.context, { timeoutMs: 60_000 });
    expect(report.ok).toBe(true);
    const loaded = await loadOutcomes(pipeline);
    expect(loaded.length).toBeGreaterThanOrEqual(2);
    expect(loaded.every((o) => o.batchJobId === undefined)).toBe(true);
    expect(await jobIds(pipeline, 'lsa_stage_history_')).toHaveLength(loaded.length);
    expect(await jobIds(pipeline, 'lsa_merge_history_')).toHaveLength(loaded.length);
    await assertExact(pipeline, ['solo']);
  }, 90_000);
});
