import type { Job } from 'bullmq';
import { uploadSpoolFile } from '../../gcs/upload.ts';
import { batchesLoads, batching, joinBatch, LATE_COMPLETION_MS, wakeLoads } from '../batching/batching.ts';
import { batchWindow } from '../batching/staged-window.ts';
import { catalog, type LoadPayload, type UploadOutcome, type UploadPayload } from '../catalog.ts';
import type { PipelineContext } from '../context.ts';

// Stages a window's spool file in Cloud Storage and, when loads are batched, hands the staged window to its
// table's batch. The window's load job (the flow's parent, added with a delay) is parked in the delayed set by
// BullMQ when this job completes, and its batch wakes it there. A join is idempotent, so an upload run again
// after a crash gets its batch back, and with it what came of the window there. Should the batch settle the
// window before this job's completion has parked the load job, the batch looks again for a few seconds
// (wakeLoads in batching.ts); an upload whose completion came later than that, or that found its window settled
// already, wakes the load job itself once it has completed.

export async function processUpload(
  context: PipelineContext,
  job: Job,
  data: UploadPayload,
): Promise<UploadOutcome> {
  const startedMs = Date.now();
  // A backfill's objects live apart: the regular plan may stage the same window at the same time.
  const { gcs } = context.config;
  const prefix =
    data.backfill === undefined
      ? gcs.prefix
      : [gcs.prefix, 'backfill', `b${data.backfill}`].filter(Boolean).join('/');
  // No log line: the return value, which Bull Board shows, says the rows, bytes and object (a log line cost a
  // Lua script and two list commands per window).
  const uploaded = await uploadSpoolFile(context.storage, { ...gcs, prefix }, data.manifest);
  const { extractedAt, quarantined, cursorRange } = data.manifest;
  const outcome: UploadOutcome = {
    ...uploaded,
    extractedAt,
    quarantined,
    ...(cursorRange === undefined ? {} : { cursorRange }),
    uploadMs: Date.now() - startedMs,
  };
  if (!batchesLoads(context.config)) return outcome;
  // BullMQ counts every start of a job: only an upload started before may have joined already.
  const joined = await joinBatch(context, batchWindow(loadOf(data), outcome), job.attemptsStarted > 1);
  return {
    ...outcome,
    batch: { jobId: joined.batchJobId, joinedAt: Date.now(), outcome: joined.earlier ?? 'pending' },
  };
}

/**
 * Once an upload job has completed: its load job is woken when the window was settled already at the join, or
 * when the completion came so long after the join that its batch may have stopped looking for the load job.
 * An upload completed right after its join (nearly all of them) reads nothing.
 */
export async function wakeSettledLoad(
  context: PipelineContext,
  data: UploadPayload,
  result: UploadOutcome,
): Promise<void> {
  const { batch } = result;
  if (!batch) return;
  const load = loadOf(data);
  const loadJobId = catalog.load.jobId(load);
  if (batch.outcome === 'pending') {
    if (Date.now() - batch.joinedAt < LATE_COMPLETION_MS) return;
    const registration = await batching(context).store.registration(load.exportName, loadJobId);
    if (!registration || registration.outcome === 'pending') return;
  }
  await wakeLoads(context, [loadJobId]);
}

/** What the window's load job's payload says, from the upload's. */
function loadOf(data: UploadPayload): LoadPayload {
  const { manifest } = data;
  return {
    instanceId: manifest.instanceId,
    exportName: manifest.exportName,
    plan: data.plan,
    ...(data.backfill === undefined ? {} : { backfill: data.backfill }),
    window: manifest.window,
    rows: manifest.rows,
    ...(data.extractMs === undefined ? {} : { extractMs: data.extractMs }),
  };
}
