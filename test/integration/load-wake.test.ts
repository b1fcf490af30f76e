import { setTimeout as sleep } from 'node:timers/promises';
import { type Job, Worker } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import type { BatchWindow } from '../../src/pipeline/batching/batch-store.ts';
import { batching, wakeLoads } from '../../src/pipeline/batching/batching.ts';
import { catalog, type UploadOutcome, type UploadPayload } from '../../src/pipeline/catalog.ts';
import { wakeSettledLoad } from '../../src/pipeline/processors/upload.ts';
import type { ExtractWindow } from '../../src/window.ts';
import { instanceSpec } from '../helpers/instances.ts';
import { FAST_WORKERS, startTestPipeline, type TestPipeline } from '../helpers/pipeline.ts';

// A window's load job is parked by BullMQ (delayed) only once its upload completes; its upload joins the batch
// just before that. When the batch settles the window in between, its wake-up finds the load job not parked yet:
// the batch looks again for a few seconds, and an upload that completes later than that wakes the load job itself.
// Real Redis and BullMQ; the flows are built as the extract builds them, with no worker on the load queue, so a
// load job's state shows who woke it: its delay is two minutes.

const UPLOADS = 'wake-test-upload';
const PARKED_MS = 120_000;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function pipeline(): Promise<TestPipeline> {
  const started = await startTestPipeline({
    instances: [instanceSpec('w', 1, { historyRows: 10, historyDays: 1 })],
    exports: ['history'],
    startWorker: false,
    extraYaml: `${FAST_WORKERS}\nload:\n  batch:\n    maxWait: 60s`,
  });
  cleanups.push(() => started.close());
  return started;
}

const windowAt = (startMs: number): ExtractWindow => ({
  kind: 'range',
  startMs,
  endMs: startMs + 86_400_000,
});
const refAt = (startMs: number) => ({
  instanceId: 'w',
  exportName: 'history',
  plan: 1,
  window: windowAt(startMs),
});

/** A window's flow as the extract adds it: its load job (delayed once its upload completes) ← its upload. */
async function addFlow(p: TestPipeline, startMs: number): Promise<string> {
  const loadJobId = catalog.load.jobId(refAt(startMs));
  await p.context.flow.add({
    name: 'load',
    queueName: catalog.load.queue,
    data: {},
    opts: { jobId: loadJobId, delay: PARKED_MS },
    children: [{ name: 'upload', queueName: UPLOADS, data: {}, opts: { jobId: `upload-${startMs}` } }],
  });
  return loadJobId;
}

/** Completes every upload of the test queue, so BullMQ parks their load jobs. */
function completeUploads(p: TestPipeline): Worker {
  const worker = new Worker(UPLOADS, async () => ({}), {
    connection: p.context.redis.duplicate(),
    prefix: p.config.redis.prefix,
  });
  cleanups.push(() => worker.close());
  return worker;
}

const stateOf = (p: TestPipeline, id: string) =>
  p.context.queues.load.getJob(id).then((j?: Job) => j?.getState());

describe('waking a window whose load job was not parked yet', () => {
  it('the batch looks again until the upload completes, and wakes the load job then', async () => {
    const p = await pipeline();
    const loadJobId = await addFlow(p, 0);
    expect(await stateOf(p, loadJobId)).toBe('waiting-children');
    // The batch settled the window and wakes it while its upload has joined but not completed.
    const woken = wakeLoads(p.context, [loadJobId]);
    await sleep(150);
    completeUploads(p);
    await woken;
    expect(await stateOf(p, loadJobId)).toBe('waiting');
  });

  it('an upload that completes long after its join wakes a load job its batch committed, and only such a one', async () => {
    const p = await pipeline();
    const { store } = batching(p.context);
    const starts = [0, 86_400_000];
    const loadJobIds = await Promise.all(starts.map((s) => addFlow(p, s)));
    const windows: BatchWindow[] = starts.map((s, i) => ({
      loadJobId: loadJobIds[i]!,
      instanceId: 'w',
      exportName: 'history',
      plan: 1,
      window: windowAt(s),
      sourceUri: `gs://bucket/${s}.ndjson.gz`,
      bytes: 10,
      rows: 1,
    }));
    // One window a batch: the second window opens a batch of its own.
    const limits = { maxWaitMs: 60_000, quietMs: 2_000, maxWindows: 1, maxBytes: 1e12 };
    const joined = [];
    for (const window of windows) joined.push(await store.join(window, limits, Date.now(), false));
    // The first window's batch committed it; the second one's has not run yet.
    expect(joined.map((j) => j.batch)).toEqual([1, 2]);
    await store.done('history', 1, new Map([[loadJobIds[0]!, JSON.stringify({ rowsLoaded: 1 })]]));
    completeUploads(p);
    for (const id of loadJobIds) {
      await expect.poll(() => stateOf(p, id), { timeout: 10_000 }).toBe('delayed');
    }
    const joinedAt = Date.now() - 5_000;
    for (const [i, s] of starts.entries()) {
      await wakeSettledLoad(p.context, uploadPayload(s), uploadOutcome(joined[i]!.batch, joinedAt));
    }
    expect(await stateOf(p, loadJobIds[0]!)).toBe('waiting');
    expect(await stateOf(p, loadJobIds[1]!)).toBe('delayed');
    // An upload that completed right after its join reads nothing and wakes nothing: its batch saw it parked.
    await store.done('history', joined[1]!.batch, new Map([[loadJobIds[1]!, '{}']]));
    await wakeSettledLoad(p.context, uploadPayload(starts[1]!), uploadOutcome(joined[1]!.batch, Date.now()));
    expect(await stateOf(p, loadJobIds[1]!)).toBe('delayed');
  });
});

function uploadPayload(startMs: number): UploadPayload {
  return {
    manifest: {
      instanceId: 'w',
      exportName: 'history',
      window: windowAt(startMs),
      file: `/spool/${startMs}.ndjson.gz`,
      rows: 1,
      quarantined: 0,
      bytes: 10,
      sha256: '0'.repeat(64),
      uncompressedBytes: 20,
      columns: ['history.id'],
      extractedAt: new Date().toISOString(),
    },
    plan: 1,
    nodeId: 'n',
  };
}

function uploadOutcome(batch: number, joinedAt: number): UploadOutcome {
  return {
    uri: 'gs://bucket/object',
    bucket: 'bucket',
    object: 'object',
    bytes: 10,
    rows: 1,
    generation: '1',
    batch: { jobId: `history-${batch}`, joinedAt, outcome: 'pending' },
  };
}
