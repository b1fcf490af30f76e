import { UnrecoverableError } from 'bullmq';

// One small error vocabulary for the whole pipeline, mapped to BullMQ behaviour in one place (pipeline/
// processors): anything else thrown is retryable with backoff.

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

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
