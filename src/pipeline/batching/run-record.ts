import type { Job } from 'bullmq';
import type { RunRecord } from '../../bigquery/statements.ts';
import { windowId } from '../../window.ts';
import { catalog, UPLOAD_QUEUE_PREFIX, type WindowRef } from '../catalog.ts';
import type { PipelineContext } from '../context.ts';

// What a window's `_lsa_runs` row says beyond its rows: its spool bytes, how long its extract and upload took
// (from their jobs' processedOn/finishedOn), which batch loaded it and in which attempt. Read from Redis when the
// batch loads; a job already gone (retention) leaves its duration empty rather than failing the load.

export interface RunSource extends WindowRef {
  loadJobId: string;
  bytes: number;
}

const took = (job: Job | undefined) =>
  job?.processedOn && job.finishedOn ? Math.max(0, job.finishedOn - job.processedOn) : undefined;

async function uploadJob(context: PipelineContext, loadJobId: string): Promise<Job | undefined> {
  const load = await context.queues.load.getJob(loadJobId);
  if (!load) return undefined;
  const { processed = {} } = await load.getDependencies({ processed: { count: 10 } });
  for (const childKey of Object.keys(processed)) {
    const [queueName, jobId] = childKey.slice(context.config.redis.prefix.length + 1).split(/:(.*)/s) as [
      string,
      string,
    ];
    if (!queueName?.startsWith(UPLOAD_QUEUE_PREFIX)) continue;
    return context.queues.upload(queueName.slice(UPLOAD_QUEUE_PREFIX.length)).getJob(jobId);
  }
  return undefined;
}

export async function runRecord(
  context: PipelineContext,
  source: RunSource,
  load: { batch?: string; attempts: number; startedMs: number },
): Promise<RunRecord> {
  const [extract, upload] = await Promise.all([
    context.queues.extract.getJob(catalog.extract.jobId(source)),
    uploadJob(context, source.loadJobId),
  ]);
  const extractMs = took(extract);
  const uploadMs = took(upload);
  return {
    exportName: source.exportName,
    window: windowId(source.window),
    plan: source.plan,
    ...(source.backfill === undefined ? {} : { backfill: source.backfill }),
    bytes: source.bytes,
    ...(extractMs === undefined ? {} : { extractMs }),
    ...(uploadMs === undefined ? {} : { uploadMs }),
    loadStartedMs: load.startedMs,
    ...(load.batch === undefined ? {} : { batch: load.batch }),
    attempts: load.attempts,
  };
}
