import type { Job } from 'bullmq';
import { uploadSpoolFile } from '../../gcs/upload.ts';
import type { UploadOutcome, UploadPayload } from '../catalog.ts';
import type { PipelineContext } from '../context.ts';

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
