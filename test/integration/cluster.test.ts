import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalog } from '../../src/pipeline/catalog.ts';
import { fanout } from '../../src/pipeline/processors/fanout.ts';
import { runOnce } from '../../src/pipeline/run-once.ts';
import { GLOBAL_SCHEDULER_ID, reconcileSchedulers } from '../../src/pipeline/schedulers.ts';
import { instanceSpec } from '../helpers/instances.ts';
import { expectedKeys, loadedKeys, startTestPipeline, type TestPipeline } from '../helpers/pipeline.ts';
import { type LsaProcess, spawnLsa, workerArgs } from '../helpers/processes.ts';

// Several processes on one Redis: two worker processes (two nodes, two spool folders), the per-instance query
// cap across them, and two schedulers booting at once.

let pipeline: TestPipeline;
const workers: LsaProcess[] = [];

beforeAll(async () => {
  pipeline = await startTestPipeline({
    instances: [
      instanceSpec('one', 7, { historyRows: 3000, historyDays: 30, maxRowLimit: 200 }),
      instanceSpec('two', 8, { historyRows: 1000, historyDays: 10 }),
    ],
    exports: ['history', 'user', 'event', 'content_usage'],
    defaults: { window: '2d', pageSize: '200' },
    extraYaml: `workers:
  extractConcurrency: 8
  uploadConcurrency: 4
  loadConcurrency: 4
  lockDuration: 5s
  stalledInterval: 2s
  heartbeat: 1s
  deadNodeAfter: 30s
  backoff: 200ms`,
    startWorker: false,
  });
});

afterAll(async () => {
  for (const w of workers) w.kill('SIGKILL');
  await Promise.all(workers.map((w) => w.exited));
  await pipeline?.close();
});

describe('two worker processes', () => {
  it('complete every flow with no file-not-found, and never run more than 2 queries at once on an instance', async () => {
    const { stack, context, configFile, envFile } = pipeline;
    // Slow queries make overlapping extracts visible to the emulator's concurrency gauge.
    stack.looker.instance('one').faults.inject({ kind: 'latency', ms: 60, times: 1000 });
    stack.looker.instance('two').faults.inject({ kind: 'latency', ms: 60, times: 1000 });
    workers.push(
      spawnLsa(workerArgs(configFile, envFile, 'node-a')),
      spawnLsa(workerArgs(configFile, envFile, 'node-b')),
    );
    const report = await runOnce(context, { timeoutMs: 120_000 });
    expect(report.windows.filter((w) => w.state !== 'committed')).toEqual([]);
    expect(report.windows.length).toBeGreaterThan(20);

    for (const id of ['one', 'two']) {
      const stats = stack.looker.instance(id).stats();
      expect(stats.maxConcurrentQueries, `instance ${id}`).toBeLessThanOrEqual(2);
    }
    expect(stack.looker.instance('one').stats().maxConcurrentQueries).toBe(2);

    // Waiting for a query slot is not a retry: every extract completed on its first attempt, with no error and
    // no stack trace for Bull Board to show, however often it was delayed waiting for a slot.
    const extracts = await context.queues.extract.getJobs(['completed'], 0, -1);
    expect(extracts.length).toBe(report.windows.length);
    for (const job of extracts) {
      expect({
        id: job.id,
        attemptsMade: job.attemptsMade,
        failedReason: job.failedReason ?? null,
        stacktrace: job.stacktrace ?? [],
      }).toEqual({
        id: job.id,
        attemptsMade: 1,
        failedReason: null,
        stacktrace: [],
      });
    }

    // both nodes took part, each uploading its own files
    const a = await context.queues.upload('node-a').getJobCounts('completed', 'failed');
    const b = await context.queues.upload('node-b').getJobCounts('completed', 'failed');
    expect((a.failed ?? 0) + (b.failed ?? 0)).toBe(0);
    expect(a.completed).toBeGreaterThan(0);
    expect(b.completed).toBeGreaterThan(0);
    const logs = workers.map((w) => w.output()).join('\n');
    expect(logs).not.toMatch(/ENOENT|is missing/);

    for (const instance of pipeline.config.instances) {
      for (const resolved of instance.exports) {
        const expected = expectedKeys(stack, instance.id, resolved, Date.now());
        expect(await loadedKeys(context, resolved, instance.id)).toEqual(expected);
      }
    }
  });
});

describe('two schedulers booting at once', () => {
  it('create one scheduler per cron, and racing fan-outs add each window once', async () => {
    const first = pipeline.newContext('scheduler-1');
    const second = pipeline.newContext('scheduler-2');
    await Promise.all([reconcileSchedulers(first), reconcileSchedulers(second)]);
    const schedulers = await first.queues.scheduler.getJobSchedulers(0, -1);
    expect(schedulers.map((s) => s.key)).toEqual([GLOBAL_SCHEDULER_ID]);
    expect(await first.queues.scheduler.getDelayedCount()).toBe(1);

    await pipeline.context.exportState.reset('two', 'user');
    const tick = { instanceIds: ['two'], exports: ['user'], reason: 'manual' as const };
    const before = await first.queues.extract.getJobCountByTypes(
      'waiting',
      'active',
      'delayed',
      'completed',
      'failed',
    );
    const summaries = await Promise.all([fanout(first, undefined, tick), fanout(second, undefined, tick)]);
    expect(summaries.map((s) => s.planned.length).sort()).toEqual([0, 1]);
    const after = await first.queues.extract.getJobCountByTypes(
      'waiting',
      'active',
      'delayed',
      'completed',
      'failed',
    );
    expect(after - before).toBe(1);
    const pending = await pipeline.context.exportState.pendingWindowIds('two', 'user');
    expect(pending).toHaveLength(1);
    expect(
      catalog.extract.jobId({
        instanceId: 'two',
        exportName: 'user',
        plan: 1,
        window: { kind: 'snapshot', atMs: 0 },
      }),
    ).toMatch(/^extract-two-user-/);
  });
});
