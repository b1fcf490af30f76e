import { DelayedError, type Job, UnrecoverableError } from 'bullmq';
import type { z } from 'zod';
import { classifyError, errorMessage, RetryAfterError } from '../errors.ts';
import type { PipelineContext } from './context.ts';

// How every processor is wrapped, in one place (what each error means to BullMQ is `classifyError`'s word):
// - the payload is checked against the catalog's schema at dequeue; a payload that does not match fails at
//   once (UnrecoverableError), not after retries;
// - RetryAfterError (Looker 429) parks the job until the upstream's Retry-After, without using an attempt;
// - a DelayedError (the job moved itself to delayed) is no failure and is not recorded;
// - NonRetryableError (an UnrecoverableError) fails the job now; anything else is retried with backoff;
// - failures are recorded for the status page with the instance and export they concern.

export type Processor<T, R> = (job: Job, data: T, token: string | undefined) => Promise<R>;

export function validatedProcessor<T, R>(
  context: PipelineContext,
  queueName: string,
  schema: z.ZodType<T>,
  handler: Processor<T, R>,
): (job: Job, token?: string) => Promise<R> {
  return async (job, token) => {
    const parsed = schema.safeParse(job.data);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new UnrecoverableError(
        `job ${job.id} in queue ${queueName} has an invalid payload: ${issue.path.join('.') || '(root)'}: ${issue.message}`,
      );
    }
    try {
      return await handler(job, parsed.data, token);
    } catch (error) {
      if (error instanceof RetryAfterError && token) {
        await job.log(`${error.message}; waiting ${Math.round(error.retryAfterMs / 1000)}s (Retry-After)`);
        await job.moveToDelayed(Date.now() + error.retryAfterMs, token);
        throw new DelayedError();
      }
      if (classifyError(error) !== 'delayed') {
        const data = parsed.data as {
          instanceId?: string;
          exportName?: string;
          manifest?: { instanceId: string; exportName: string };
        };
        const instanceId = data.instanceId ?? data.manifest?.instanceId;
        const exportName = data.exportName ?? data.manifest?.exportName;
        const message = errorMessage(error);
        if (instanceId && exportName) await context.runStatus.recordError(instanceId, exportName, message);
        context.logger.warn(
          { queue: queueName, jobId: job.id, attempt: job.attemptsMade + 1, err: message },
          'job failed',
        );
      }
      throw error;
    }
  };
}
