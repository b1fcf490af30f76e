import { Job } from 'bullmq';
import { uploadSpoolFile } from '../../gcs/upload.ts';
import { batchesLoads, batching, joinBatch } from '../batching/batching.ts';
import { batchWindow } from '../batching/staged-window.ts';
import { catalog, type LoadPayload, type UploadOutcome, type UploadPayload } from '../catalog.ts';
import type { PipelineContext } from '../context.ts';

// Stages a window's spool file in Cloud Storage and, when loads are batched, hands the staged window to its
// table's batch. The window's load job (the flow's parent, added with a delay) is parked in the delayed set by
// BullMQ when this job completes, and its batch wakes it there with the outcome. A join is idempotent, so an
// upload run again after a crash gets its batch back; and should the batch settle the window in the milliseconds
// before this job's completion has parked the load job (its wake-up then finds the job not parked yet), the step
// after the completion wakes the load job itself.

export async function processUpload(
  context: PipelineContext,
  _job: Job,
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
  if (batchesLoads(context.config)) await joinBatch(context, batchWindow(loadOf(data), outcome));
  return outcome;
}

/** Once an upload job has completed: its load job is woken if its batch settled the window already. */
export async function wakeSettledLoad(context: PipelineContext, data: UploadPayload): Promise<void> {
  if (!batchesLoads(context.config)) return;
  const loadJobId = catalog.load.jobId(loadOf(data));
  const registration = await batching(context).store.registration(loadJobId);
  if (registration && registration.outcome !== 'pending') {
    await new Job(context.queues.load, 'load', {}, {}, loadJobId).promote().catch(() => undefined);
  }
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
