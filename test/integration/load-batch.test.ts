import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { Queue } from 'bullmq';
import type { LookerInstanceSpec } from 'lsa-emulators/looker';
import { afterEach, describe, expect, it } from 'vitest';
import { batching } from '../../src/pipeline/batching/batching.ts';
import { catalog, type ExtractResult } from '../../src/pipeline/catalog.ts';
import type { LoadOutcome } from '../../src/pipeline/processors/load.ts';
import type { BatchOutcome } from '../../src/pipeline/processors/load-batch.ts';
import { runOnce } from '../../src/pipeline/run-once.ts';
import { instanceSpec } from '../helpers/instances.ts';
import {
  expectedKeys,
  FAST_WORKERS,
  loadedKeys,
  startTestPipeline,
  type TestPipeline,
} from '../helpers/pipeline.ts';
import { type LsaProcess, spawnLsa, waitFor, workerArgs } from '../helpers/processes.ts';

// Batched loads through the whole pipeline: real Redis, BullMQ workers, the emulators and the real clients. The
// windows of one table ready together are loaded by one load job and one MERGE; each window's own load job
// completes with its rows once its batch committed it.

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function instance(id: string, seed: number, historyDays = 4): LookerInstanceSpec {
  return instanceSpec(id, seed, { historyRows: 60, historyDays });
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

/**
 * An HTTP pass-through to the BigQuery emulator that, when it sees the batch's MERGE inserted, waits until
 * BigQuery has run it and then calls `onMerged` (which kills the worker) before the worker can hear the answer.
 */
async function mergeTrap(target: string, onMerged: () => void): Promise<{ url: string; close(): void }> {
  let sprung = false;
  const forward = (req: IncomingMessage, body: Buffer, res: ServerResponse | undefined) =>
    new Promise<Buffer>((resolve, reject) => {
      const upstream = httpRequest(
        `${target}${req.url}`,
        { method: req.method, headers: req.headers },
        (answer) => {
          const chunks: Buffer[] = [];
          answer.on('data', (c: Buffer) => chunks.push(c));
          answer.on('end', () => {
            const bytes = Buffer.concat(chunks);
            if (res) {
              res.writeHead(answer.statusCode ?? 500, answer.headers);
              res.end(bytes);
            }
            resolve(bytes);
          });
        },
      );
      upstream.on('error', reject);
      upstream.end(body);
    });
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      const text = body.toString();
      const merge = /"jobId":"(lsa_merge_history_b[^"]+)"/.exec(text);
      if (sprung || req.method !== 'POST' || !merge) {
        await forward(req, body, res).catch(() => res.destroy());
        return;
      }
      sprung = true;
      await forward(req, body, undefined);
      // jobs.get answers once the job is done (the emulator waits for it): then BigQuery holds the MERGE.
      const project = /\/projects\/([^/]+)\/jobs/.exec(req.url ?? '')![1];
      await new Promise<void>((resolve) =>
        httpRequest(`${target}/bigquery/v2/projects/${project}/jobs/${merge[1]}`, (answer) => {
          answer.resume();
          answer.on('end', resolve);
        }).end(),
      );
      onMerged();
      res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => server.close(),
  };
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
    // Two BigQuery jobs for the table in the cycle, nothing else: the staging load and the script (MERGE into the
    // table, run records into _lsa_runs) — the staged count is checked against the extracts' without a query.
    const everyJob = await jobIds(pipeline, '');
    expect(everyJob.sort()).toEqual([
      expect.stringMatching(/^lsa_merge_history_b1_/),
      expect.stringMatching(/^lsa_stage_history_b1_/),
    ]);
    const [script] = await pipeline.context.bigquery
      .job(everyJob.find((id) => id.startsWith('lsa_merge'))!)
      .getMetadata();
    expect(script.statistics.query.statementType).toBe('SCRIPT');
    const [statements] = await pipeline.context.bigquery.getJobs({
      parentJobId: script.jobReference.jobId,
      projection: 'full',
    });
    expect(statements.map((j) => j.metadata.statistics.query.statementType).sort()).toEqual([
      'MERGE',
      'MERGE',
    ]);
    // The extracts' manifests carry their rows' cursor range: the MERGE into history reads only those partitions.
    const mergeText = statements
      .map((j) => j.metadata.configuration.query.query as string)
      .find((q) => q.includes('.history`'));
    expect(mergeText).toMatch(/T\.`created_time` >= TIMESTAMP '\d{4}-\d\d-\d\d 00:00:00\.000\+00'/);
    expect(mergeText).toMatch(/T\.`created_time` <= TIMESTAMP '\d{4}-\d\d-\d\d 23:59:59\.999\+00'/);
    const batchJobIds = new Set(loaded.map((o) => o.batchJobId));
    expect(batchJobIds).toEqual(new Set([catalog.loadBatch.jobId({ exportName: 'history', batch: 1 })]));
    // Each window joined its batch once its upload completed, so each load job waited parked from the start and
    // was started once, woken by its batch with the outcome: never started to join, never parked by itself (that
    // path logs what it does).
    const loadJobs = await pipeline.context.queues.load.getJobs(['completed']);
    expect(loadJobs.map((j) => j.attemptsStarted)).toEqual(loadJobs.map(() => 1));
    for (const job of loadJobs) {
      expect((await pipeline.context.queues.load.getJobLogs(job.id!)).logs).toEqual([]);
    }
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

  it("a batch waits for the windows the fan-out planned: a slow instance's windows still join the one batch of the cycle, and empty windows do not hold it", async () => {
    // Quiet is short: without waiting for planned windows, the slow instance's would open a second batch.
    const pipeline = await pipelineWith(
      [instance('fast', 21), instance('slow', 22)],
      '    maxWait: 60s\n    quiet: 200ms',
    );
    // Each of the slow instance's Looker queries (a count and a page per window) first waits 700 ms.
    pipeline.stack.looker.instance('slow').faults.inject({ kind: 'latency', ms: 700, times: 100 });
    const report = await runOnce(pipeline.context, { timeoutMs: 90_000 });
    expect(report.windows.filter((w) => w.state !== 'committed')).toEqual([]);
    const loaded = await loadOutcomes(pipeline);
    // Days before each instance's history are empty: they commit at extract and are not waited for.
    expect(loaded.length).toBeGreaterThanOrEqual(6);
    expect(report.windows.length).toBeGreaterThan(loaded.length);
    expect(new Set(loaded.map((o) => o.batchJobId))).toEqual(
      new Set([catalog.loadBatch.jobId({ exportName: 'history', batch: 1 })]),
    );
    expect(await jobIds(pipeline, 'lsa_stage_history_')).toHaveLength(1);
    // Nothing is left expected: every planned window joined or was let go.
    expect(await pipeline.context.redis.zcard(`${pipeline.config.redis.prefix}:batch-expected:history`)).toBe(
      0,
    );
    await assertExact(pipeline, ['fast', 'slow']);
  });

  it('a window whose object BigQuery refuses leaves the batch; the others commit; it fails alone, naming the problem', async () => {
    const pipeline = await pipelineWith(
      [instance('good', 21), instance('bad', 22, 1)],
      '    maxWait: 30s\n    quiet: 5s',
    );
    // The batch must not run before the bad window's object is replaced: a window the batch expects (as if still
    // extracting) holds it open until the test lets it go.
    const expected = `${pipeline.config.redis.prefix}:batch-expected:history`;
    await pipeline.context.redis.zadd(expected, Date.now() + 60_000, 'held-by-the-test');
    const run = runOnce(pipeline.context, { timeoutMs: 90_000 });
    // Once the bad instance's window waits in its batch, its object is replaced by one BigQuery refuses.
    const { store } = pipeline.stack.gcs;
    const { bucket, prefix } = pipeline.config.gcs;
    // Every bad window with rows waits in the batch (none is still expected: joined, or empty and let go).
    await waitFor(
      async () =>
        (await pipeline.context.queues.load.getJobs(['delayed'])).some((j) => j.data.instanceId === 'bad') &&
        !(await pipeline.context.redis.zrange(expected, 0, -1)).some((m) => m.startsWith('load-bad-')),
      60_000,
      'the bad windows to wait in their batch',
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
    await pipeline.context.redis.zrem(expected, 'held-by-the-test');
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

  it('an extract run again after its flow was added (Retry in Bull Board, a crash) reads nothing again, even once its load job is gone', async () => {
    const pipeline = await pipelineWith([instance('again', 51)], '    maxWait: 30s\n    quiet: 200ms');
    expect((await runOnce(pipeline.context, { timeoutMs: 60_000 })).ok).toBe(true);
    const extracts = await pipeline.context.queues.extract.getJobs(['completed']);
    const extract = extracts.find((j) => (j.returnvalue as ExtractResult).rows > 0)!;
    const loadJobId = (extract.returnvalue as ExtractResult).loadJobId!;
    const runAgain = async () => {
      const job = (await pipeline.context.queues.extract.getJob(extract.id!))!;
      await job.retry('completed');
      await waitFor(async () => (await job.getState()) === 'completed', 30_000, 'the extract to run again');
      return (await pipeline.context.queues.extract.getJob(extract.id!))!.returnvalue as ExtractResult;
    };
    // Its flow is there: the window is not read from Looker again.
    expect(await runAgain()).toEqual({ rows: -1, queries: 0, loadJobId });
    // Its load job removed (retention keeps 5,000): the window committed, so still nothing is read again.
    await (await pipeline.context.queues.load.getJob(loadJobId))!.remove();
    expect(await runAgain()).toEqual({ rows: -1, queries: 0, loadJobId });
    await assertExact(pipeline, ['again']);
  });

  it('an upload whose join fails fails that attempt; its retry joins, and every window commits once, woken once by its batch', async () => {
    const pipeline = await pipelineWith([instance('late', 61, 2)], '    maxWait: 30s\n    quiet: 200ms');
    const { redis } = pipeline.context;
    const expected = `${pipeline.config.redis.prefix}:batch-expected:history`;
    // Slow Looker answers leave time to break the joins once the fan-out has planned.
    pipeline.stack.looker.instance('late').faults.inject({ kind: 'latency', ms: 800, times: 4 });
    const run = runOnce(pipeline.context, { timeoutMs: 90_000 });
    // Planned: the windows are expected, and the fan-out no longer stands among them.
    await waitFor(
      async () => {
        const members = await redis.zrange(expected, 0, -1);
        return members.length > 0 && !members.some((m) => m.startsWith('fan-out:'));
      },
      30_000,
      'the fan-out to plan',
    );
    // Every join now fails: its script cannot read the table's expected windows.
    await redis.del(expected);
    await redis.set(expected, 'not a sorted set');
    const uploads = pipeline.context.queues.upload(pipeline.context.nodeId);
    await waitFor(
      async () => (await uploads.getJobs(['delayed'])).some((j) => /WRONGTYPE/.test(j.failedReason ?? '')),
      30_000,
      'an upload attempt to fail on its join',
    );
    // Nothing half-joined: no window is registered in a batch, and no batch was opened.
    const { store } = batching(pipeline.context);
    for (const job of await pipeline.context.queues.load.getJobs(['waiting-children', 'delayed'])) {
      expect(await store.registration('history', job.id!)).toBeNull();
    }
    expect(await redis.get(`${pipeline.config.redis.prefix}:batch:history`)).toBeNull();
    await redis.del(expected);
    const report = await run;
    expect(report.windows.filter((w) => w.state !== 'committed')).toEqual([]);
    const retried = (await uploads.getJobs(['completed'])).filter((j) => j.attemptsMade > 0);
    expect(retried.length).toBeGreaterThan(0);
    const loadJobs = await pipeline.context.queues.load.getJobs(['completed']);
    expect(loadJobs.map((j) => j.attemptsStarted)).toEqual(loadJobs.map(() => 1));
    await assertExact(pipeline, ['late']);
  }, 120_000);

  it('maxWindows: 1 loads every window alone, as before batching', async () => {
    const pipeline = await pipelineWith([instance('solo', 31)], '    maxWindows: 1');
    const report = await runOnce(pipeline.context, { timeoutMs: 60_000 });
    expect(report.ok).toBe(true);
    const loaded = await loadOutcomes(pipeline);
    expect(loaded.length).toBeGreaterThanOrEqual(2);
    expect(loaded.every((o) => o.batchJobId === undefined)).toBe(true);
    // One staging load and one MERGE per window: counted per window (a job id without its attempt suffix), since
    // an attempt a busy machine makes fail and retry is a new BigQuery job id for the same window.
    const perWindow = async (prefix: string) =>
      new Set((await jobIds(pipeline, prefix)).map((id) => id.replace(/_a\d+$/, ''))).size;
    expect(await perWindow('lsa_stage_history_')).toBe(loaded.length);
    expect(await perWindow('lsa_merge_history_')).toBe(loaded.length);
    await assertExact(pipeline, ['solo']);
  }, 90_000);

  it('a worker killed between the MERGE and the commits: the batch is recovered, rows land exactly once, watermarks move', async () => {
    const pipeline = await startTestPipeline({
      instances: [instance('x', 41), instance('y', 42)],
      exports: ['history'],
      defaults: { window: '1d', horizon: '6d' },
      extraYaml: `${FAST_WORKERS}\nload:\n  batch:\n    maxWait: 30s\n    quiet: 3s`,
      startWorker: false,
    });
    cleanups.push(() => pipeline.close());
    const workers: LsaProcess[] = [];
    cleanups.push(async () => {
      for (const w of workers) {
        w.kill('SIGKILL');
        await w.exited;
      }
    });
    let killed = false;
    const trap = await mergeTrap(pipeline.stack.bigquery.url, () => {
      workers[0]!.kill('SIGKILL');
      killed = true;
    });
    cleanups.push(async () => trap.close());
    const trappedConfig = pipeline.configFile.replace(/\.yaml$/, '-trapped.yaml');
    writeFileSync(
      trappedConfig,
      readFileSync(pipeline.configFile, 'utf8').replaceAll(pipeline.stack.bigquery.url, trap.url),
    );
    workers.push(spawnLsa(workerArgs(trappedConfig, pipeline.envFile, 'doomed')));
    const run = runOnce(pipeline.context, { timeoutMs: 100_000 });
    await waitFor(() => killed, 80_000, 'the MERGE to run and the worker to be killed');
    await workers[0]!.exited;
    // Nothing committed yet: the MERGE is in BigQuery, the windows are still pending.
    expect((await pipeline.context.exportState.get('x', 'history')).pendingWindows).toBeGreaterThan(0);
    workers.push(spawnLsa(workerArgs(pipeline.configFile, pipeline.envFile, 'rescuer')));
    const report = await run;
    expect(report.windows.filter((w) => w.state !== 'committed')).toEqual([]);
    await assertExact(pipeline, ['x', 'y']);
    // The re-run awaited the MERGE it found under the same job id instead of running another.
    expect(await jobIds(pipeline, 'lsa_merge_history_')).toHaveLength(1);
    expect(await jobIds(pipeline, 'lsa_stage_history_')).toHaveLength(1);
    for (const id of ['x', 'y']) {
      expect(await pipeline.context.exportState.get(id, 'history')).toMatchObject({
        initialLoad: false,
        pendingWindows: 0,
      });
    }
  }, 150_000);
});
