import type { BigQuery, Job, JobMetadata } from '@google-cloud/bigquery';
import { NonRetryableError } from '../errors.ts';

// Runs a BigQuery job under a deterministic id. If the id is already taken (a previous attempt of ours got as
// far as inserting it, HTTP 409), the existing job is awaited instead of running the work twice. Failures are
// classified by BigQuery's `reason`, not by HTTP status (a failed job's error has no status code).

const TRANSIENT_REASONS = new Set([
  'backendError',
  'internalError',
  'rateLimitExceeded',
  'jobBackendError',
  'timeout',
]);

export interface JobOutcome {
  jobId: string;
  metadata: JobMetadata;
}

export async function runJob(
  bigquery: BigQuery,
  jobId: string,
  configuration: JobMetadata['configuration'],
  location: string,
): Promise<JobOutcome> {
  let job: Job;
  try {
    [job] = await bigquery.createJob({ jobId, location, configuration });
  } catch (error) {
    if ((error as { code?: number }).code !== 409) throw classify(error, jobId);
    job = bigquery.job(jobId, { location });
  }
  try {
    await job.promise();
  } catch (error) {
    throw classify(error, jobId);
  }
  const [metadata] = await job.getMetadata();
  return { jobId, metadata };
}

/** The job's metadata if it exists and succeeded, null if it does not exist or failed. */
export async function succeededJob(
  bigquery: BigQuery,
  jobId: string,
  location: string,
): Promise<JobMetadata | null> {
  const metadata = await jobMetadata(bigquery, jobId, location);
  if (metadata?.status?.state === 'DONE' && !metadata.status.errorResult) return metadata;
  return null;
}

/** The job's metadata, null if no job has the id. */
export async function jobMetadata(
  bigquery: BigQuery,
  jobId: string,
  location: string,
): Promise<JobMetadata | null> {
  try {
    const [metadata] = await bigquery.job(jobId, { location }).getMetadata();
    return metadata;
  } catch (error) {
    if ((error as { code?: number }).code === 404) return null;
    throw error;
  }
}

function classify(error: unknown, jobId: string): Error {
  const errors = ((error as { errors?: { reason?: string; message?: string }[] }).errors ?? []).filter(
    Boolean,
  );
  const reasons = errors.map((e) => e.reason ?? '');
  const details = errors
    .map((e) => e.message)
    .filter((m): m is string => Boolean(m))
    .join(' | ');
  const message = `BigQuery job ${jobId} failed: ${details || (error as Error).message}`;
  const code = (error as { code?: number }).code;
  const transient =
    reasons.some((r) => TRANSIENT_REASONS.has(r)) ||
    (code !== undefined && (code >= 500 || code === 429)) ||
    /ECONNRESET|ETIMEDOUT|socket hang up/.test(String((error as Error).message));
  return transient ? new Error(message) : new NonRetryableError(message);
}
