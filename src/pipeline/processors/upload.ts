import type { Job } from 'bullmq';
import { type UploadResult, uploadSpoolFile } from '../../gcs/upload.ts';
import type { UploadPayload } from '../catalog.ts';
import type { PipelineContext } from '../context.ts';

export async function processUpload(
  context: PipelineContext,
  job: Job,
  data: UploadPayload,
): Promise<UploadResult> {
  const result = await uploadSpoolFile(context.storage, context.config.gcs, data.manifest);
  await job.log(`uploaded ${result.rows} rows (${result.bytes} bytes) to ${result.uri}`);
  return result;
}
