import type { Job } from 'bullmq';
import { uploadSpoolFile } from '../../gcs/upload.ts';
import { batchesLoads, joinBatch } from '../batching/batching.ts';
import { batchWindow } from '../batching/staged-window.ts';
import type { UploadOutcome, UploadPayload } from '../catalog.ts';
import type { PipelineContext } from '../context.ts';

/** What Bull Board shows for a finished upload: its object and, when loads are batched, the batch it joined. */
export interface UploadJobOutcome extends UploadOutcome {
  batchJobId?: string;
}

// Stages a window's spool file in Cloud Storage. When loads are batched, the upload also hands the staged window
// to its table's open batch, so its load job (the parent in the flow, added delayed) is never fetched to join:
// it waits delayed from the moment this job completes until the batch wakes it with the outcome.
export async function processUpload(
  context: PipelineContext,
  _job: Job,
  data: UploadPayload,
): Promise<UploadJobOutcome> {
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
  const { manifest } = data;
  const outcome: UploadOutcome = {
    ...uploaded,
    extractedAt: manifest.extractedAt,
    quarantined: manifest.quarantined,
    ...(manifest.cursorRange === undefined ? {} : { cursorRange: manifest.cursorRange }),
    uploadMs: Date.now() - startedMs,
  };
  if (!batchesLoads(context.config)) return outcome;
  const load = {
    instanceId: manifest.instanceId,
    exportName: manifest.exportName,
    plan: data.plan,
    ...(data.backfill === undefined ? {} : { backfill: data.backfill }),
    window: manifest.window,
    rows: manifest.rows,
    ...(data.extractMs === undefined ? {} : { extractMs: data.extractMs }),
  };
  const joined = await joinBatch(context, batchWindow(load, outcome));
  return { ...outcome, batchJobId: joined.batchJobId };
}
