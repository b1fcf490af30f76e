import { DelayedError, type Job } from 'bullmq';
import { dropStagingTable, loadBatch } from '../../bigquery/load.ts';
import { tableSpec } from '../../bigquery/schema.ts';
import { ensureDataset } from '../../bigquery/tables.ts';
import { findExport, findInstance } from '../../config/model.ts';
import { errorMessage, NonRetryableError } from '../../errors.ts';
import { windowId } from '../../window.ts';
import { commitBackfillWindow } from '../backfill.ts';
import type { BatchWindow } from '../batching/batch-store.ts';
import { batchesLoads, batching, batchWaitMs, joinBatch } from '../batching/batching.ts';
import { batchWindow, stagedWindow } from '../batching/staged-window.ts';
import { catalog, type LoadPayload, type LoadResult, type UploadOutcome } from '../catalog.ts';
import type { PipelineContext } from '../context.ts';
import { stagesOpenRows } from '../open-rows.ts';

// The load job of one window. With `load.batch.maxWindows: 1` it loads its window alone (one load job, one
// MERGE) and commits it. Otherwise its upload (the child in its flow) hands the window to the open batch of its
// table (`load-batch` queue; see upload.ts), and the job, added with a delay, is parked by BullMQ in the delayed
// set when the upload completes — holding no worker slot, never fetched — until the batch wakes it with the outcome:
//   committed → the job completes with its rows (the batch committed the window in Redis after its MERGE);
//   rejected  → BigQuery refused this window's object: it is loaded alone, now, so it never holds others back;
//   failed    → the batch failed for good: this attempt fails, and the retry joins a new batch.
// A job that finds its window in no batch (a retry after its batch failed for good, or an upload that ran with
// batching off) parks itself and then joins one. So Bull Board shows one load job per window, delayed while its
// batch runs, and retryable there.

/** What a window's load job returns: the catalog's LoadResult (run-once and the batch read it). */
export type LoadOutcome = LoadResult;

export async function processLoad(
  context: PipelineContext,
  job: Job,
  data: LoadPayload,
  token: string | undefined,
): Promise<LoadOutcome> {
  if (!batchesLoads(context.config)) return loadAlone(context, job, data);
  const { store } = batching(context);
  const loadJobId = job.id!;
  // Woken by its batch, a window usually finds its outcome here and needs nothing else.
  const registration = await store.registration(data.exportName, loadJobId);
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
    // Settled in the meantime (the batch's wake-up found this job running): it wakes itself.
    return park(context, job, token, `still waiting for ${batchJobId} (${state})`, async () => {
      if ((await store.registration(data.exportName, loadJobId))?.outcome !== 'pending') await job.promote();
    });
  }
  // In no batch (a retry after its batch failed for good, or an upload that ran with batching off): it joins one
  // itself, once parked.
  const window = await windowOf(job, data);
  return park(context, job, token, 'joining a batch', async () => {
    const joined = await joinBatch(context, window, true);
    await job.log(
      `waiting for batch ${joined.batchJobId} (${joined.windows} windows, ${joined.bytes} bytes so far${joined.full ? ': full, running now' : ''})`,
    );
  });
}

/**
 * Parks the load job in the delayed set until its batch wakes it (or its delay ends), and only then does `next`
 * (joining a batch, or looking at the outcome again): a batch can settle the window only after the job is parked,
 * so the batch's wake-up always finds it delayed. What `next` fails to do is done when the delay ends.
 */
async function park(
  context: PipelineContext,
  job: Job,
  token: string | undefined,
  why: string,
  next: () => Promise<void>,
): Promise<never> {
  if (!token) throw new Error(`load ${job.id} cannot wait for its batch without a worker token`);
  await job.log(why);
  await job.moveToDelayed(Date.now() + batchWaitMs(context.config), token);
  try {
    await next();
  } catch (error) {
    context.logger.warn(
      { jobId: job.id, err: errorMessage(error) },
      'a parked load job could not join or look at its batch: it does when its delay ends',
    );
  }
  throw new DelayedError();
}

/** The window as a batch holds it, from the load's payload and its upload child's return value. */
async function windowOf(job: Job, data: LoadPayload): Promise<BatchWindow> {
  const children = Object.values(await job.getChildrenValues()) as UploadOutcome[];
  const upload = children.find((value) => typeof value?.uri === 'string');
  if (!upload) throw new Error(`load ${job.id}: its upload child reported no object`);
  return batchWindow(data, upload);
}

/** One window, one load job and one MERGE (`maxWindows: 1`, or a window taken out of its batch). */
async function loadAlone(context: PipelineContext, job: Job, data: LoadPayload): Promise<LoadOutcome> {
  const instance = findInstance(context.config, data.instanceId);
  const resolved = findExport(instance, data.exportName);
  const { bigquery: bq } = context.config;
  await ensureDataset(context.bigquery, bq.dataset, bq.location);
  const window = await windowOf(job, data);
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
    ({ watermark } = await context.exportState.commitWindow(instance.id, data.exportName, id, {
      loadedRows: result.rowsLoaded,
      stagedOpenRows: stagesOpenRows(resolved, data.window),
    }));
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
