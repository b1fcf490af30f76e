import { DelayedError, UnrecoverableError } from 'bullmq';

// One small error vocabulary for the whole pipeline, and the one place that says what BullMQ does with each
// (`classifyError`): the processor wrapper, job telemetry and the batch job all ask here, by class, never by
// comparing `error.name` strings. Anything not named here is retryable with backoff.

/** Retrying cannot help: bad config, invalid payload, a 4xx validation error, a schema mismatch, bad data. */
export class NonRetryableError extends UnrecoverableError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message);
    this.name = 'NonRetryableError';
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

/** The upstream asked us to come back later (HTTP 429 Retry-After): wait that long, without using an attempt. */
export class RetryAfterError extends Error {
  constructor(
    message: string,
    readonly retryAfterMs: number,
  ) {
    super(message);
    this.name = 'RetryAfterError';
  }
}

/**
 * What BullMQ does with a thrown error:
 * - `delayed`: the job moved itself to delayed (a busy query slot, a batch to wait for); not a failure;
 * - `retry-after`: park the job until the upstream's Retry-After, without using an attempt;
 * - `permanent`: fail the job now, whatever attempts are left (NonRetryableError and BullMQ's own
 *   UnrecoverableError, e.g. a job started too many times);
 * - `retryable`: anything else, retried with the queue's backoff until its attempts are used up.
 */
export type ErrorClass = 'delayed' | 'retry-after' | 'permanent' | 'retryable';

export function classifyError(error: unknown): ErrorClass {
  if (error instanceof DelayedError) return 'delayed';
  if (error instanceof RetryAfterError) return 'retry-after';
  // NonRetryableError is an UnrecoverableError: one test covers both.
  if (error instanceof UnrecoverableError) return 'permanent';
  return 'retryable';
}

/** True when retrying cannot help: the job fails for good at this attempt. */
export function isPermanent(error: unknown): boolean {
  return classifyError(error) === 'permanent';
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
