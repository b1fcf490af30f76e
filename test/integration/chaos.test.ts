import type { LookerInstanceSpec } from 'lsa-emulators/looker';
import { afterAll, describe, expect, it } from 'vitest';
import { startSchedulerRole } from '../../src/pipeline/roles.ts';
import { runOnce } from '../../src/pipeline/run-once.ts';
import { expectedKeys, loadedKeys, startTestPipeline, type TestPipeline } from '../helpers/pipeline.ts';
import { type LsaProcess, spawnLsa, waitFor, workerArgs } from '../helpers/processes.ts';

// The worst day: 3 instances × 4 exports with every kind of fault at once, and a worker process killed mid-run.
// At the end every table equals the emulator's data exactly, every window has committed, and every watermark
// is at its plan's end. The figures are printed (docs/failure-modes.md quotes a run).
//
// Fault budget (count-based, so the run is reproducible; a run makes roughly 150 Looker queries, 60 uploads
// and 120 BigQuery jobs):
//   Looker, per instance: 3 × HTTP 500, 1 × 429 (Retry-After 1 s), 2 × body cut off, 1 × hung query,
//                          tokens revoked once mid-run, 60 ms added latency on every query
//   GCS: 4 × HTTP 503 and 2 × connection reset on uploads
//   BigQuery: 3 × backendError on load jobs, 3 × backendError on MERGE jobs, 2 × HTTP 503 on job insert
//   Processes: one of the two worker processes is killed with SIGKILL once mid-run, a new one started

const INSTANCES: LookerInstanceSpec[] = ['c1', 'c2', 'c3'].map((id, i) => ({
  id,
  clientId: `${id}-id`,
  clientSecret: `${id}-secret-value`,
  seed: 80 + i,
  historyRows: 300 + 200 * i,
  historyDays: 6,
  maxRowLimit: 100,
}));

let pipeline: TestPipeline;
const processes: LsaProcess[] = [];

afterAll(async () => {
  for (const p of processes) p.kill('SIGKILL');
  await Promise.all(processes.map((p) => p.exited));
  await pipeline?.close();
});

describe('chaos run', () => {
  it('loses nothing and duplicates nothing', async () => {
    pipeline = await startTestPipeline({
      instances: INSTANCES,
      exports: ['history', 'content_usage', 'user', 'event'],
      defaults: { window: '2d', horizon: '8d', pageSize: '100' },
      instanceYaml: '    queryTimeout: 2s',
    });
    const { stack, context } = pipeline;
    for (const { id } of INSTANCES) {
      const faults = stack.looker.instance(id).faults;
      faults.inject({ kind: 'latency', ms: 60, times: 10_000 });
      faults.inject({ kind: 'status', status: 500, times: 3 });
      faults.inject({ kind: 'status', status: 429, retryAfterSeconds: 1, times: 1 });
      faults.inject({ kind: 'truncate', afterRows: 5, times: 2 });
      faults.inject({ kind: 'hang', times: 1 });
    }
    stack.gcs.faults.add({ kind: 'status', status: 503, on: 'upload', times: 4 });
    stack.gcs.faults.add({ kind: 'reset', on: 'upload', times: 2, skip: 3, afterBytes: 100 });
    stack.bigquery.faults.add({ kind: 'backendError', on: 'load', times: 3 });
    stack.bigquery.faults.add({ kind: 'backendError', on: 'query', times: 3 });
    stack.bigquery.faults.add({ kind: 'status', status: 503, on: 'insert', times: 2 });

    // a scheduler runs too: it is what notices the killed node and re-extracts the windows stuck in its queue
    const scheduler = await startSchedulerRole(context);
    const started = Date.now();
    const victim = spawnLsa(workerArgs(pipeline.configFile, pipeline.envFile, 'chaos-victim'));
    processes.push(victim);
    const run = runOnce(context, { timeoutMs: 150_000 });
    await waitFor(
      async () => (await context.queues.extract.getCompletedCount()) >= 5,
      60_000,
      'the run to get going',
    );
    for (const { id } of INSTANCES) stack.looker.instance(id).revokeTokens();
    victim.kill('SIGKILL');
    await victim.exited;
    processes.push(spawnLsa(workerArgs(pipeline.configFile, pipeline.envFile, 'chaos-replacement')));
    const report = await run;
    await scheduler.close();
    const seconds = (Date.now() - started) / 1000;

    let rows = 0;
    let duplicates = 0;
    let lost = 0;
    let extra = 0;
    for (const instance of pipeline.config.instances) {
      for (const resolved of instance.exports) {
        const expected = expectedKeys(stack, instance.id, resolved, Date.now());
        const loaded = await loadedKeys(context, resolved, instance.id);
        const loadedSet = new Set(loaded);
        rows += loaded.length;
        duplicates += loaded.length - loadedSet.size;
        lost += expected.filter((k) => !loadedSet.has(k)).length;
        const expectedSet = new Set(expected);
        extra += [...loadedSet].filter((k) => !expectedSet.has(k)).length;
        const state = await context.exportState.get(instance.id, resolved.definition.name);
        expect(state, `${instance.id}/${resolved.definition.name}`).toMatchObject({
          initialLoad: false,
          pendingWindows: 0,
        });
      }
    }
    let retries = 0;
    for (const queue of [
      context.queues.extract,
      context.queues.load,
      context.queues.upload(context.nodeId),
      context.queues.upload('chaos-victim'),
      context.queues.upload('chaos-replacement'),
    ]) {
      for (const job of await queue.getJobs(['completed'])) retries += Math.max(0, job.attemptsMade - 1);
    }
    const lookerFaults: Record<string, number> = {};
    for (const { id } of INSTANCES) {
      for (const [kind, n] of Object.entries(stack.looker.instance(id).stats().faultsInjected))
        lookerFaults[kind] = (lookerFaults[kind] ?? 0) + n;
    }
    const figures = {
      seconds: Math.round(seconds),
      windows: report.windows.length,
      committed: report.windows.filter((w) => w.state === 'committed').length,
      rows,
      duplicates,
      lost,
      extra,
      retries,
      faults: {
        looker: lookerFaults,
        gcs: stack.gcs.faults.report().injected,
        bigquery: stack.bigquery.faults.snapshot().injected,
        workersKilled: 1,
      },
    };
    console.log(`chaos figures: ${JSON.stringify(figures)}`);
    expect(report.windows.filter((w) => w.state !== 'committed')).toEqual([]);
    expect({ duplicates, lost, extra }).toEqual({ duplicates: 0, lost: 0, extra: 0 });
    expect(retries).toBeGreaterThan(0);
    expect(lookerFaults.status).toBeGreaterThanOrEqual(9);
  }, 180_000);
});
