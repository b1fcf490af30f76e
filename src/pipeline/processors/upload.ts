import type { Job } from 'bullmq';
import { uploadSpoolFile } from '../../gcs/upload.ts';
import { batchesLoads, joinBatch } from '../batching/batching.ts';
import { batchWindow } from '../batching/staged-window.ts';
import type { UploadOutcome, UploadPayload } from '../catalog.ts';
import type { PipelineContext } from '../context.ts';

// Stages a window's spool file in Cloud Storage. When loads are batched, the window then joins its table's batch —
// after the upload job has completed, not inside it: completing is what makes BullMQ park the window's load job
// (the flow's parent, added with a delay) in the delayed set, so a batch can never commit a window whose load job
// is not parked yet, and its wake-up always finds it there. A process that dies between the completion and the
// join leaves the window out: its load job joins a batch itself when its delay ends.

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
  return {
    ...uploaded,
    extractedAt,
    quarantined,
    ...(cursorRange === undefined ? {} : { cursorRange }),
    uploadMs: Date.now() - startedMs,
  };
}

/** Once an upload job has completed: its window joins its table's batch (when loads are batched). */
export async function joinUploadedWindow(
  context: PipelineContext,
  data: UploadPayload,
  outcome: UploadOutcome,
): Promise<void> {
  if (!batchesLoads(context.config)) return;
  const { manifest } = data;
  const load = {
    instanceId: manifest.instanceId,
    exportName: manifest.exportName,
    plan: data.plan,
    ...(data.backfill === undefined ? {} : { backfill: data.backfill }),
    window: manifest.window,
    rows: manifest.rows,
    ...(data.extractMs === undefined ? {} : { extractMs: data.extractMs }),
  };
  await joinBatch(context, batchWindow(load, outcome));
}
