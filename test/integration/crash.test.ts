import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { LookerInstanceSpec } from 'lsa-emulators/looker';
import { describe, type ExpectStatic, it, type OnTestFinishedHandler, type TestContext } from 'vitest';
import { type RoleHandle, startSchedulerRole, startWorkerRole } from '../../src/pipeline/roles.ts';
import { runOnce } from '../../src/pipeline/run-once.ts';
import { startPrivateRedis } from '../../src/state/private-redis.ts';
import { instanceSpec } from '../helpers/instances.ts';
import { expectedKeys, loadedKeys, startTestPipeline, type TestPipeline } from '../helpers/pipeline.ts';
import { type LsaProcess, spawnLsa, waitFor, workerArgs } from '../helpers/processes.ts';

// Real processes killed, stopped and disconnected mid-run: nothing is lost, nothing is loaded twice.
//
// The scenarios run side by side: each spends most of its time waiting (for a dead worker's lock to expire, a
// node to be declared dead, a process to start), and each has its own emulators, key prefix (or Redis) and
// worker processes, which get their own pipeline's environment rather than whatever another scenario last put
// in this process's.

function instance(id: string, seed: number): LookerInstanceSpec {
  return instanceSpec(id, seed, { historyRows: 120, historyDays: 2 });
}

/** What one scenario starts, stopped in reverse order when its test ends (passed or not). */
function scenario(onTestFinished: TestContext['onTestFinished']) {
  const cleanups: (() => Promise<void>)[] = [];
  const finished: OnTestFinishedHandler = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  };
  onTestFinished(finished);
  return {
    defer(cleanup: () => Promise<void>) {
      cleanups.push(cleanup);
    },
    async pipelineFor(options: Parameters<typeof startTestPipeline>[0]): Promise<TestPipeline> {
      const pipeline = await startTestPipeline({
        startWorker: false,
        defaults: { window: '30d' },
        ...options,
      });
      cleanups.push(() => pipeline.close());
      return pipeline;
    },
    spawnWorker(pipeline: TestPipeline, nodeId: string): LsaProcess {
      const worker = spawnLsa(workerArgs(pipeline.configFile, pipeline.envFile, nodeId), pipeline.env);
      cleanups.push(async () => {
        worker.kill('SIGKILL');
        await worker.exited;
      });
      return worker;
    },
  };
}

async function assertExact(expect: ExpectStatic, pipeline: TestPipeline) {
  for (const i of pipeline.config.instances) {
    for (const resolved of i.exports) {
      expect(
        await loadedKeys(pipeline.context, resolved, i.id),
        `${i.id}/${resolved.definition.name}`,
      ).toEqual(expectedKeys(pipeline.stack, i.id, resolved, Date.now()));
    }
  }
}

describe.concurrent('crashes', () => {
  it('a worker killed (SIGKILL) mid-extract, twice for the same job: another picks it up, loaded exactly once', async ({
    expect,
    onTestFinished,
  }) => {
    const { pipelineFor, spawnWorker } = scenario(onTestFinished);
    const pipeline = await pipelineFor({ instances: [instance('k', 71)], exports: ['user'] });
    const looker = pipeline.stack.looker.instance('k');
    looker.faults.inject({ kind: 'latency', ms: 4000, times: 2 });
    const run = runOnce(pipeline.context, { timeoutMs: 90_000 });
    for (const node of ['kill-a', 'kill-b']) {
      const worker = spawnWorker(pipeline, node);
      const before = looker.stats().queries;
      await waitFor(
        () => looker.stats().activeQueries > 0 && looker.stats().queries > before,
        30_000,
        `${node} to start the query`,
      );
      worker.kill('SIGKILL');
      await worker.exited;
    }
    spawnWorker(pipeline, 'kill-c');
    const report = await run;
    expect(report.windows.map((w) => w.state)).toEqual(['committed']);
    const job = await pipeline.context.queues.extract.getJob(report.windows[0]!.extractJobId);
    expect(job!.attemptsStarted).toBeGreaterThanOrEqual(3);
    await assertExact(expect, pipeline);
  }, 120_000);

  it('SIGTERM during an upload: the process finishes it within its grace period and exits cleanly', async ({
    expect,
    onTestFinished,
  }) => {
    const { pipelineFor, spawnWorker } = scenario(onTestFinished);
    const pipeline = await pipelineFor({ instances: [instance('t', 72)], exports: ['user'] });
    pipeline.stack.gcs.faults.add({ kind: 'latency', ms: 2500, on: 'upload', times: 1 });
    const run = runOnce(pipeline.context, { timeoutMs: 60_000 });
    const worker = spawnWorker(pipeline, 'term-a');
    const uploads = pipeline.context.queues.upload('term-a');
    await waitFor(async () => (await uploads.getActiveCount()) > 0, 30_000, 'the upload to start');
    const signalled = Date.now();
    worker.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    expect(Date.now() - signalled).toBeLessThan(10_000 + 3_000); // the grace period, plus start-up slack
    const counts = await uploads.getJobCounts('completed', 'active', 'failed', 'wait');
    expect(counts).toMatchObject({ completed: 1, active: 0, failed: 0 });
    expect(worker.output()).toContain('shutting down');
    // nothing half-done on its disk
    const spool = join(pipeline.config.spool.dir, 'term-a');
    const leftovers = (dir: string): string[] => {
      try {
        return readdirSync(dir, { recursive: true })
          .map(String)
          .filter((f) => f.endsWith('.gz') || f.endsWith('.partial'));
      } catch {
        return [];
      }
    };
    expect(leftovers(spool)).toEqual([]);
    spawnWorker(pipeline, 'term-b'); // someone runs the load
    expect((await run).ok).toBe(true);
    await assertExact(expect, pipeline);
  });

  it('a node that dies for good after extracting: its windows are extracted again elsewhere, its queue removed', async ({
    expect,
    onTestFinished,
  }) => {
    const { pipelineFor, spawnWorker, defer } = scenario(onTestFinished);
    const pipeline = await pipelineFor({ instances: [instance('d', 73)], exports: ['user', 'history'] });
    const scheduler: RoleHandle = await startSchedulerRole(pipeline.context);
    defer(() => scheduler.close());
    // the dying node's first upload hangs long enough to kill it mid-upload
    pipeline.stack.gcs.faults.add({ kind: 'latency', ms: 60_000, on: 'upload', times: 1 });
    const run = runOnce(pipeline.context, { timeoutMs: 90_000 });
    const doomed = spawnWorker(pipeline, 'doomed');
    // kill it once its upload request has reached GCS and is held there (else the survivor would get the delay)
    await waitFor(
      () => pipeline.stack.gcs.faults.report().injected.latency === 1,
      30_000,
      'an upload on the doomed node',
    );
    doomed.kill('SIGKILL');
    await doomed.exited;
    spawnWorker(pipeline, 'survivor');
    const report = await run;
    expect(report.windows.filter((w) => w.state !== 'committed')).toEqual([]);
    await assertExact(expect, pipeline);
    expect((await pipeline.context.nodes.list()).map((n) => n.nodeId)).not.toContain('doomed');
    expect(await pipeline.context.redis.exists(`${pipeline.config.redis.prefix}:upload-doomed:meta`)).toBe(0);
  }, 120_000);

  it('Redis restarted mid-run (with persistence): workers reconnect and the run completes', async ({
    expect,
    onTestFinished,
  }) => {
    const { pipelineFor, defer } = scenario(onTestFinished);
    const dir = join(await import('node:os').then((os) => os.tmpdir()), `lsa-redis-restart-${process.pid}`);
    let redis = await startPrivateRedis({ persistence: true, dir });
    const port = redis.port;
    defer(async () => {
      await redis.stop();
      await import('node:fs/promises').then((fs) => fs.rm(dir, { recursive: true, force: true }));
    });
    const pipeline = await pipelineFor({
      redisUrl: redis.url,
      instances: [instance('r1', 74), instance('r2', 75)],
      exports: ['history', 'user', 'event'],
      defaults: { window: '6h', horizon: '3d' },
    });
    for (const id of ['r1', 'r2'])
      pipeline.stack.looker.instance(id).faults.inject({ kind: 'latency', ms: 150, times: 1000 });
    const worker = await startWorkerRole(pipeline.context);
    defer(() => worker.close());
    const run = runOnce(pipeline.context, { timeoutMs: 90_000 });
    await waitFor(
      async () => (await pipeline.context.queues.load.getCompletedCount()) >= 2,
      30_000,
      'a few loads',
    );
    await redis.stop();
    await new Promise((r) => setTimeout(r, 1000));
    redis = await startPrivateRedis({ persistence: true, dir, port });
    const report = await run;
    expect(report.windows.filter((w) => w.state !== 'committed')).toEqual([]);
    await assertExact(expect, pipeline);
  }, 120_000);
});
