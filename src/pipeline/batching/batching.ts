import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Job, Queue } from 'bullmq';
import type { PipelineConfig } from '../../config/model.ts';
import { catalog, type WindowOutcome, type WindowRef } from '../catalog.ts';
import type { PipelineContext } from '../context.ts';
import { BatchStore, type BatchWindow } from './batch-store.ts';

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
async function ensureBatchJob(
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
  if (!batchesLoads(context.config)) return;
  const { maxWaitMs } = context.config.load.batch;
  await batching(context).store.expect(
    exportName,
    windows.map((w) => catalog.load.jobId(w)),
    Date.now() + maxWaitMs,
  );
}

/**
 * While a fan-out plans, the open batches of the tables it plans keep waiting (up to maxWait) for windows not
 * planned yet: a fan-out of many instances queues the first instances' extracts while it still plans the others,
 * and without this a table whose expected windows had all joined would run a batch for each part of the fan-out.
 * The fan-out stands in each table's expected set as one member until `done`; a fan-out that dies is outlived.
 */
export async function holdBatchesForFanout(
  context: PipelineContext,
  exportNames: string[],
): Promise<{ done(): Promise<void> }> {
  if (!batchesLoads(context.config) || exportNames.length === 0) return { done: async () => undefined };
  const { store } = batching(context);
  const member = `fan-out:${randomUUID()}`;
  const until = Date.now() + context.config.load.batch.maxWaitMs;
  for (const exportName of exportNames) await store.expect(exportName, [member], until);
  return {
    async done() {
      for (const exportName of exportNames) {
        // The plan is made and its jobs queued: a table that keeps waiting for this fan-out (Redis refused the
        // removal) closes its batch at maxWait, which is no reason to fail the fan-out.
        await store.unexpect(exportName, member).catch((error) => {
          context.logger.warn(
            { export: exportName, err: String(error) },
            "a fan-out could not stop its table's batch waiting for it: the batch closes at maxWait",
          );
        });
      }
    },
  };
}

/** A planned window that will not load (its extract found no rows): its table's batch stops waiting for it. */
export async function loadNotComing(context: PipelineContext, window: WindowRef): Promise<void> {
  if (!batchesLoads(context.config)) return;
  await batching(context).store.unexpect(window.exportName, catalog.load.jobId(window));
}

/** Whether windows load in batches (`load.batch.maxWindows` above 1) or each alone, by its own load job. */
export function batchesLoads(config: PipelineConfig): boolean {
  return config.load.batch.maxWindows > 1;
}

/** How long a waiting window sleeps if its batch never wakes it (a crash between two steps): then it looks. */
const RECHECK_MARGIN_MS = 5_000;

/**
 * How long a window's load job waits, delayed, for its batch to wake it: longer than any batch stays open, so it
 * wakes by itself only when its batch never did (a crash between two steps), and then looks at its window.
 */
export function batchWaitMs(config: PipelineConfig): number {
  const { maxWaitMs, quietMs } = config.load.batch;
  return maxWaitMs + quietMs + RECHECK_MARGIN_MS;
}

export interface JoinedBatch {
  /** The `load-batch` job that loads the window. */
  batchJobId: string;
  windows: number;
  bytes: number;
  full: boolean;
  /** The window was already registered (a re-run): with what outcome. */
  earlier: WindowOutcome | null;
}

/**
 * Hands a staged window to the open batch of its table. The window that opens a batch adds its job; one that
 * fills it runs it now; one joining again while pending (after a crash, perhaps before the job was added) makes
 * sure it exists. A window registered before (pending, committed, rejected or failed) is not joined again: only a
 * `rerun` (a job that may have joined in an earlier attempt) looks, because a window's first join cannot find one.
 */
export async function joinBatch(
  context: PipelineContext,
  window: BatchWindow,
  rerun: boolean,
): Promise<JoinedBatch> {
  const limits = context.config.load.batch;
  const joined = await batching(context).store.join(window, limits, Date.now(), rerun);
  const addsJob =
    joined.earlier === null ? joined.windows === 1 || joined.full : joined.earlier === 'pending';
  const batchJobId = addsJob
    ? await ensureBatchJob(
        context,
        window.exportName,
        joined.batch,
        Math.min(limits.quietMs, limits.maxWaitMs),
        joined.full,
      )
    : catalog.loadBatch.jobId({ exportName: window.exportName, batch: joined.batch });
  return {
    batchJobId,
    windows: joined.windows,
    bytes: joined.bytes,
    full: joined.full,
    earlier: joined.earlier,
  };
}

/**
 * Pauses between a batch's looks at load jobs it could not wake because they were not parked yet: their upload
 * had joined the batch but not completed (BullMQ parks a load job when its upload completes). Four looks over
 * about 4 s; an upload that completes later than LATE_COMPLETION_MS after its join wakes its load job itself.
 */
const WAKE_AGAIN_AFTER_MS = [50, 200, 1_000, 3_000];
export const LATE_COMPLETION_MS = 1_000;

/**
 * Wakes the windows' load jobs, all at once, by id, in one round trip: they reach the load queue together, and a
 * worker fetches each after the one before (each completion fetches the next) instead of waking for each; a handle
 * by id is all promote needs. A job not in the delayed set is running (its delay ran out, or it was woken and
 * reads its outcome itself) or finished, or is not parked yet: those the batch looks at again a few times.
 */
export async function wakeLoads(context: PipelineContext, loadJobIds: string[]): Promise<void> {
  const handle = (id: string) => new Job(context.queues.load, 'load', {}, {}, id);
  let left = loadJobIds;
  for (const pause of [0, ...WAKE_AGAIN_AFTER_MS]) {
    if (left.length === 0) return;
    if (pause > 0) await sleep(pause);
    const missed = await Promise.all(
      left.map((id) =>
        handle(id)
          .promote()
          .then(() => null)
          .catch(() => id),
      ),
    );
    const notWoken = missed.filter((id): id is string => id !== null);
    const states = await Promise.all(notWoken.map((id) => handle(id).getState()));
    left = notWoken.filter((_, i) => states[i] === 'waiting-children' || states[i] === 'delayed');
  }
  if (left.length > 0) {
    context.logger.warn(
      { loadJobs: left.length },
      'load jobs whose upload has not completed: each wakes once its upload completes, or when its delay ends',
    );
  }
}
