import { DelayedError, type Job } from 'bullmq';
import { dropStagingTable, loadBatch } from '../../bigquery/load.ts';
import { tableSpec } from '../../bigquery/schema.ts';
import { ensureDataset } from '../../bigquery/tables.ts';
import { findExport, findInstance } from '../../config/model.ts';
import { NonRetryableError } from '../../errors.ts';
import { windowId } from '../../window.ts';
import { commitBackfillWindow } from '../backfill.ts';
import type { BatchWindow } from '../batching/batch-store.ts';
import { batching, ensureBatchJob } from '../batching/batching.ts';
import { stagedWindow } from '../batching/staged-window.ts';
import { catalog, type LoadPayload, type LoadResult, type UploadOutcome } from '../catalog.ts';
import type { PipelineContext } from '../context.ts';

// The load job of one window. With `load.batch.maxWindows: 1` it loads its window alone (one load job, one
// MERGE) and commits it. Otherwise it hands its window to the open batch of its table (`load-batch` queue) and
// waits for it, delayed — holding no worker slot — until the batch wakes it with the outcome:
//   committed → the job completes with its rows (the batch committed the window in Redis after its MERGE);
//   rejected  → BigQuery refused this window's object: it is loaded alone, now, so it never holds others back;
//   failed    → the batch failed for good: this attempt fails, and the retry joins a new batch.
// So Bull Board shows one load job per window, waiting (delayed) while its batch runs, and retryable there.

/** What a window's load job returns: the catalog's LoadResult (run-once and the batch read it). */
export type LoadOutcome = LoadResult;

/** How long a waiting window sleeps if its batch never wakes it (a crash between two steps): then it looks. */
const RECHECK_MARGIN_MS = 5_000;

export async function processLoad(
  context: PipelineContext,
  job: Job,
  data: LoadPayload,
  token: string | undefined,
): Promise<LoadOutcome> {
  const limits = context.config.load.batch;
  if (limits.maxWindows === 1) return loadAlone(context, job, data);
  const { store } = batching(context);
  const loadJobId = job.id!;
  // Woken by its batch, a window usually finds its outcome here and needs nothing else.
  const registration = await store.registration(loadJobId);
  if (registration?.outcome === 'committed') return JSON.parse(registration.detail!) as LoadOutcome;
  if (registration?.outcome === 'rejected') {
    await job.log(`taken out of batch ${registration.batch}: ${registration.detail}; loading it alone`);
    return loadAlone(context, job, data);
  }
  if (registration?.outcome === 'failed') {
    await store.forget(loadJobId);
    const { message, final } = JSON.parse(registration.detail!) as { message: string; final: boolean };
    const text = `its batch ${registration.batch} failed: ${message}`;
    throw final ? new NonRetryableError(text) : new Error(text);
  }
  if (registration?.outcome === 'pending') {
    // Woken before the outcome: the batch may have died for good without settling its windows.
    const batchJobId = catalog.loadBatch.jobId({ exportName: data.exportName, batch: registration.batch });
    const batchJob = await batching(context).queue.getJob(batchJobId);
    const state = batchJob ? await batchJob.getState() : 'missing';
    if (state === 'failed' || state === 'missing') {
      await store.forget(loadJobId);
      throw new Error(`its batch job ${batchJobId} is ${state}: joining a new batch on retry`);
    }
    return wait(context, job, token, `still waiting for ${batchJobId} (${state})`);
  }
  const joined = await store.join(await batchWindow(job, data), limits, Date.now());
  // The window that opened the batch adds its job; one that fills it runs it now; one joining again (after a
  // crash, perhaps before the job was added) makes sure it exists. The others find it there.
  const batchJobId =
    joined.windows === 1 || joined.full || joined.again
      ? await ensureBatchJob(
          context,
          data.exportName,
          joined.batch,
          Math.min(limits.quietMs, limits.maxWaitMs),
          joined.full,
        )
      : catalog.loadBatch.jobId({ exportName: data.exportName, batch: joined.batch });
  return wait(
    context,
    job,
    token,
    `waiting for batch ${batchJobId} (${joined.windows} windows, ${joined.bytes} bytes so far${joined.full ? ': full, running now' : ''})`,
  );
}

async function wait(
  context: PipelineContext,
  job: Job,
  token: string | undefined,
  why: string,
): Promise<never> {
  if (!token) throw new Error(`load ${job.id} cannot wait for its batch without a worker token`);
  const { maxWaitMs, quietMs } = context.config.load.batch;
  await job.log(why);
  await job.moveToDelayed(Date.now() + maxWaitMs + quietMs + RECHECK_MARGIN_MS, token);
  throw new DelayedError();
}

/**
 * The window as a batch holds it: its object, from the upload child's return value (which also carries what the
 * extract's manifest says of its rows, and the upload's duration), and what the load job's payload says.
 */
async function batchWindow(job: Job, data: LoadPayload): Promise<BatchWindow> {
  const children = Object.values(await job.getChildrenValues()) as UploadOutcome[];
  const upload = children.find((value) => typeof value?.uri === 'string');
  if (!upload) throw new Error(`load ${job.id}: its upload child reported no object`);
  return {
    loadJobId: job.id!,
    instanceId: data.instanceId,
    exportName: data.exportName,
    plan: data.plan,
    ...(data.backfill === undefined ? {} : { backfill: data.backfill }),
    window: data.window,
    sourceUri: upload.uri,
    bytes: upload.bytes,
    rows: data.rows,
    ...(upload.extractedAt === undefined ? {} : { extractedAt: upload.extractedAt }),
    ...(upload.quarantined === undefined ? {} : { quarantined: upload.quarantined }),
    ...(upload.cursorRange === undefined ? {} : { cursorRange: upload.cursorRange }),
    ...(data.extractMs === undefined ? {} : { extractMs: data.extractMs }),
    ...(upload.uploadMs === undefined ? {} : { uploadMs: upload.uploadMs }),
  };
}

/** One window, one load job and one MERGE (`maxWindows: 1`, or a window taken out of its batch). */
async function loadAlone(context: PipelineContext, job: Job, data: LoadPayload): Promise<LoadOutcome> {
  const instance = findInstance(context.config, data.instanceId);
  const resolved = findExport(instance, data.exportName);
  const { bigquery: bq } = context.config;
  await ensureDataset(context.bigquery, bq.dataset, bq.location);
  const window = await batchWindow(job, data);
  const staged = stagedWindow(window, {
    attempts: job.attemptsMade + 1,
    startedMs: job.processedOn ?? Date.now(),
  });
  const result = await loadBatch({
    bigquery: context.bigquery,
    projectId: bq.projectId,
    datasetId: bq.dataset,
    location: bq.location,
    spec: tableSpec(resolved.definition),
    strategy: resolved.settings.loadStrategy,
    batchKey: `${instance.id}_${staged.windowId}`,
    windows: [staged],
    attempt: job.attemptsMade,
  });
  const id = windowId(data.window);
  let watermark: string | null = null;
  if (data.backfill === undefined) {
    ({ watermark } = await context.exportState.commitWindow(instance.id, data.exportName, id));
    await context.runStatus.recordLoad(instance.id, data.exportName, result.rowsLoaded);
  } else {
    // A backfill commits to its own record: the pending set, the watermark and freshness stay the plan's.
    await commitBackfillWindow(context, { ...data, backfill: data.backfill }, result.rowsLoaded);
  }
  await dropStagingTable(context.bigquery, bq.dataset, result.stagingTable);
  await job.log(
    `loaded ${result.rowsLoaded} rows (${result.inserted} inserted, ${result.updated} updated, ${result.quarantined} quarantined) by ${result.jobIds.join(', ')}; watermark ${watermark ?? 'unchanged'}`,
  );
  return {
    uri: window.sourceUri,
    rowsLoaded: result.rowsLoaded,
    quarantined: result.quarantined,
    inserted: result.inserted,
    updated: result.updated,
    watermark,
  };
}
