import type { Job, Worker } from 'bullmq';
import { isPermanent } from '../errors.ts';
import type { Notifier } from '../notify/webhook.ts';
import { CompletedJobFigures, type Stage, StageMetrics } from '../state/stage-metrics.ts';
import { windowId } from '../window.ts';
import { queueKeyOf, resultOf } from './catalog.ts';
import type { PipelineContext } from './context.ts';
import { isConnectionError } from './health.ts';

// What a worker's job events tell operators, recorded where every process can read it: stage durations and
// failures by kind for /metrics, Looker queries per instance, an instance marked unreachable when an extract
// could not connect at all, and a notification when a window fails for good. Recording never fails a job: an
// error here is logged and dropped.

/** The stage a queue's jobs are measured as; the scheduler and load-batch queues are not stages. */
function stageOf(queueName: string): Stage | null {
  const key = queueKeyOf(queueName);
  return key === 'extract' || key === 'load' || key === 'upload' ? key : null;
}

/** A failed attempt is final when no attempt follows: attempts used up, or an error retrying cannot fix. */
export function isFinalFailure(job: Job, error: Error): boolean {
  return job.attemptsMade >= (job.opts.attempts ?? 1) || isPermanent(error);
}

function windowRef(job: Job): { instanceId: string; exportName: string; window: string } | null {
  const data = job.data as {
    instanceId?: string;
    exportName?: string;
    window?: unknown;
    manifest?: { instanceId: string; exportName: string; window: unknown };
  };
  const source = data.manifest ?? data;
  if (!source.instanceId || !source.exportName || !source.window) return null;
  try {
    return {
      instanceId: source.instanceId,
      exportName: source.exportName,
      window: windowId(source.window as Parameters<typeof windowId>[0]),
    };
  } catch {
    return null;
  }
}

/** How often a process adds its completed jobs' figures to Redis (see CompletedJobFigures). */
const FIGURES_FLUSH_MS = 1_000;

const figuresPerContext = new WeakMap<PipelineContext, CompletedJobFigures>();

/** The completed jobs' figures of this process: one gathering for all its workers. */
function completedJobFigures(context: PipelineContext): CompletedJobFigures {
  let figures = figuresPerContext.get(context);
  if (!figures) {
    figures = new CompletedJobFigures(
      new StageMetrics(context.redis, context.keys),
      FIGURES_FLUSH_MS,
      (error) => context.logger.warn({ err: String(error) }, 'could not record stage durations'),
    );
    figuresPerContext.set(context, figures);
  }
  return figures;
}

/** Adds the completed jobs' figures gathered so far to Redis: when the process closes its workers. */
export async function flushJobTelemetry(context: PipelineContext): Promise<void> {
  await figuresPerContext.get(context)?.flush();
}

export function observeJobs(context: PipelineContext, worker: Worker, notifier: Notifier): void {
  const stage = stageOf(worker.name);
  if (!stage) return;
  const metrics = new StageMetrics(context.redis, context.keys);
  const figures = completedJobFigures(context);
  const quietly = (what: string, work: Promise<unknown>) =>
    work.catch((error) => context.logger.warn({ err: String(error) }, `could not record ${what}`));

  worker.on('completed', (job: Job) => {
    if (!job.processedOn || !job.finishedOn) return;
    const ref = stage === 'extract' ? windowRef(job) : null;
    const lookerQueries = ref
      ? { instanceId: ref.instanceId, queries: resultOf(job, 'extract')?.queries ?? 0 }
      : undefined;
    figures.record(stage, job.finishedOn - job.processedOn, lookerQueries);
  });

  worker.on('failed', (job: Job | undefined, error: Error) => {
    if (!job) return;
    const final = isFinalFailure(job, error);
    quietly('a failure', metrics.recordFailure(stage, final ? 'final' : 'retry'));
    const ref = windowRef(job);
    if (!ref) return;
    if (stage === 'extract' && isConnectionError(error)) {
      quietly('an unreachable instance', context.runStatus.recordUnreachable(ref.instanceId, error.message));
    }
    if (final) {
      void notifier.send({
        kind: 'window-failed',
        ...ref,
        queue: worker.name,
        jobId: job.id ?? '?',
        error: error.message,
      });
    }
  });

  worker.on('stalled', () => {
    quietly('a stall', metrics.recordFailure(stage, 'stalled'));
  });
}
