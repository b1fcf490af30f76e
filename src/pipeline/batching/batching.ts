import { Queue } from 'bullmq';
import { catalog, type WindowRef } from '../catalog.ts';
import type { PipelineContext } from '../context.ts';
import { BatchStore } from './batch-store.ts';

// The batching side of a process: the batch store and the `load-batch` queue on the context's shared Redis
// connection (a Queue on a given connection opens none of its own), made once per context.

export interface Batching {
  store: BatchStore;
  queue: Queue;
}

const perContext = new WeakMap<PipelineContext, Batching>();

export function batching(context: PipelineContext): Batching {
  let found = perContext.get(context);
  if (!found) {
    const queue = new Queue(catalog.loadBatch.queue, {
      connection: context.redis,
      prefix: context.config.redis.prefix,
    });
    queue.on('error', (error) => context.logger.warn({ err: error.message }, 'queue load-batch error'));
    found = { store: new BatchStore(context.redis, context.config.redis.prefix), queue };
    perContext.set(context, found);
  }
  return found;
}

/** Adds the batch's job unless it exists: at once when the batch is full, otherwise after `delayMs`. */
export async function ensureBatchJob(
  context: PipelineContext,
  exportName: string,
  batch: number,
  delayMs: number,
  runNow: boolean,
): Promise<string> {
  const { queue } = batching(context);
  const payload = { exportName, batch };
  const jobId = catalog.loadBatch.jobId(payload);
  await queue.add('load-batch', payload, {
    ...catalog.loadBatch.options(context.config.workers.backoffMs),
    jobId,
    delay: runNow ? 0 : delayMs,
  });
  // A job added earlier (when the batch opened) is still waiting out its delay: a full batch need not.
  if (runNow) {
    await (await queue.getJob(jobId))?.promote().catch(() => undefined);
  }
  return jobId;
}

/**
 * The table's open load batch waits for windows just planned (up to maxWait), so one cycle's windows of a table
 * load as one batch instead of in pieces as they trickle in.
 */
export async function expectLoads(
  context: PipelineContext,
  exportName: string,
  windows: WindowRef[],
): Promise<void> {
  const { maxWindows, maxWaitMs } = context.config.load.batch;
  if (maxWindows === 1) return;
  await batching(context).store.expect(
    exportName,
    windows.map((w) => catalog.load.jobId(w)),
    Date.now() + maxWaitMs,
  );
}

/** A planned window that will not load (its extract found no rows): its table's batch stops waiting for it. */
export async function loadNotComing(context: PipelineContext, window: WindowRef): Promise<void> {
  if (context.config.load.batch.maxWindows === 1) return;
  await batching(context).store.unexpect(window.exportName, catalog.load.jobId(window));
}
