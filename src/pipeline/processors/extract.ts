import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DelayedError, type Job } from 'bullmq';
import { findExport, findInstance } from '../../config/model.ts';
import { RetryAfterError } from '../../errors.ts';
import { extractWindow } from '../../looker/extract.ts';
import { windowId } from '../../window.ts';
import { backfillWindowCommitted, commitBackfillWindow } from '../backfill.ts';
import { batchesLoads, batchWaitMs, loadNotComing } from '../batching/batching.ts';
import { catalog, type ExtractPayload, type ExtractResult, runTag } from '../catalog.ts';
import type { PipelineContext } from '../context.ts';
import { jobName } from '../job-names.ts';
import { stagesOpenRows } from '../open-rows.ts';

// Extract one window: take one of the instance's query slots (or wait, delayed, not failed), stream the rows
// into a spool file, then enqueue the flow that stages and loads it: load (parent) ← upload (child, on this
// node's own queue, because the file is on this node's disk). A window with no rows commits right here.

const LEASE_RETRY_MS = 1_500;

/** How long an extract waits in place for a query slot before it gives its worker slot back and is delayed. A
 * slot held by a short extract frees within this; moving to delayed and back costs about 35 Redis commands
 * (moveToDelayed, the fetch that follows it, the wake-up, the promotion and the fetch of the job again), each
 * look at the lease three. A slot held longer costs at most four looks and this much time more. */
const LEASE_WAIT_MS = 1_000;
const LEASE_LOOK_FIRST_MS = 100;

/** One of the instance's query slots, looking again with doubling pauses for up to LEASE_WAIT_MS, unless the
 * instance is cooling down after a 429 (nothing frees before its end). The lease script alone decides who gets a
 * slot, so waiting here never lets more queries run. */
async function acquireWithin(context: PipelineContext, instanceId: string, limit: number) {
  const deadline = Date.now() + LEASE_WAIT_MS;
  for (let pause = LEASE_LOOK_FIRST_MS; ; pause *= 2) {
    const acquired = await context.leases.acquire(instanceId, limit);
    if (acquired.lease || acquired.coolDownUntilMs || Date.now() + pause > deadline) return acquired;
    // Jitter: extracts waiting on one instance do not all look at the same moment.
    await sleep(pause / 2 + Math.random() * pause);
  }
}

/** Progress is for someone watching Bull Board: at most one update this often, and none in an extract that ends
 * sooner (its result says it all). Each update is a Lua script and an event: about five Redis commands. */
const PROGRESS_EVERY_MS = 2_000;

/** What Bull Board shows for a finished extract: its return value says what a log line used to (a log line costs
 * a Lua script and two list commands per window). */
export interface ExtractOutcome extends ExtractResult {
  /** Rows put in quarantine (included in `rows`). */
  quarantined?: number;
  /** Rows still open, read again by a later reopen window. */
  stillOpen?: number;
  /** The watermark after a window with no rows committed here. */
  watermark?: string | null;
}

export async function processExtract(
  context: PipelineContext,
  job: Job,
  data: ExtractPayload,
  token: string | undefined,
): Promise<ExtractOutcome> {
  const instance = findInstance(context.config, data.instanceId);
  const resolved = findExport(instance, data.exportName);
  const loadJobId = catalog.load.jobId(data);
  // A re-run (its worker died after adding the flow, before the job completed; or Retry in Bull Board) must not
  // extract the window again. A first start needs no look: BullMQ counts every start of a job.
  if (data.flowAdded || (job.attemptsStarted > 1 && (await handedOn(context, data, loadJobId)))) {
    return { rows: -1, queries: 0, loadJobId };
  }

  const acquired = await acquireWithin(context, instance.id, instance.maxConcurrentQueries);
  if (!acquired.lease) {
    const { coolDownUntilMs } = acquired;
    const why = coolDownUntilMs
      ? `instance ${instance.id} is cooling down after a Looker 429 until ${new Date(coolDownUntilMs).toISOString()}`
      : `no query slot free on instance ${instance.id}`;
    if (!token) throw new Error(why);
    // All of this instance's query slots are taken, by queries (come back shortly) or by a Looker 429's
    // cool-down (come back when it ends). Not a failure, not an attempt.
    const jitter = Math.floor(Math.random() * (coolDownUntilMs ? 500 : LEASE_RETRY_MS));
    await job.moveToDelayed((coolDownUntilMs ?? Date.now() + LEASE_RETRY_MS) + jitter, token);
    throw new DelayedError();
  }
  const { lease } = acquired;
  const renewal = setInterval(() => {
    lease
      .renew()
      .then((held) => {
        if (!held)
          context.logger.warn(
            { instance: instance.id },
            'query lease expired before renewal (worker stalled?)',
          );
      })
      .catch((error) => context.logger.warn({ err: String(error) }, 'lease renewal failed'));
  }, context.leases.ttlMs / 3);
  let result: Awaited<ReturnType<typeof extractWindow>>;
  let progressAt = Date.now();
  try {
    result = await extractWindow({
      client: context.looker.get(instance),
      instance,
      export: resolved,
      window: data.window,
      // A backfill's spool files live apart: the regular plan may extract the same window at the same time.
      spoolDir:
        data.backfill === undefined ? context.spoolDir : join(context.spoolDir, 'backfill', runTag(data)),
      hashKey: () => {
        if (!context.config.masking.hashKey) throw new Error('masking.hashKey is not configured');
        return context.config.masking.hashKey.resolve();
      },
      onProgress: (progress) => {
        if (Date.now() - progressAt < PROGRESS_EVERY_MS) return;
        progressAt = Date.now();
        return job.updateProgress({ phase: 'extract', ...progress });
      },
    });
  } catch (error) {
    if (error instanceof RetryAfterError) {
      // No query starts on the instance before its Retry-After, from any worker.
      await context.leases.coolDown(
        instance.id,
        Date.now() + error.retryAfterMs,
        instance.maxConcurrentQueries,
      );
    }
    throw error;
  } finally {
    clearInterval(renewal);
    await lease.release();
    // The attempt's Looker query calls go to the month's count before its job completes or fails; should Redis
    // refuse them now, they stay counted in this process for its next flush.
    await context.apiCalls
      .flush(instance.id)
      .catch((error) =>
        context.logger.warn(
          { instance: instance.id, err: String(error) },
          'Looker query calls not counted yet',
        ),
      );
  }

  await context.runStatus.recordExtract(instance.id, data.exportName, result.rows, result.quarantined);
  // Open rows are the regular plan's business: a backfill neither records nor clears them.
  if (stagesOpenRows(resolved, data.window) && data.backfill === undefined) {
    const coverage =
      data.window.kind === 'reopen'
        ? { keys: data.window.keys }
        : { from: data.window.startMs ?? 0, to: data.window.endMs };
    await context.exportState.stageOpenRows(instance.id, data.exportName, windowId(data.window), {
      ...coverage,
      open: result.openRows,
    });
  }
  // No log line: the return value (below) says how many rows, queries, quarantined and still open.
  const counts = {
    queries: result.queries,
    quarantined: result.quarantined,
    stillOpen: result.openRows.length,
  };
  if (!result.manifest) {
    // A window with no rows is a success: nothing to upload or load, and the watermark moves on.
    if (data.backfill !== undefined) {
      await commitBackfillWindow(context, { ...data, backfill: data.backfill }, 0);
      return { rows: 0, ...counts, loadJobId: null };
    }
    const { watermark } = await context.exportState.commitWindow(
      instance.id,
      data.exportName,
      windowId(data.window),
      { stagedOpenRows: stagesOpenRows(resolved, data.window) },
    );
    await loadNotComing(context, data);
    return { rows: 0, ...counts, loadJobId: null, watermark };
  }
  const loadData = {
    instanceId: instance.id,
    exportName: data.exportName,
    plan: data.plan,
    ...(data.backfill === undefined ? {} : { backfill: data.backfill }),
    window: data.window,
    rows: result.rows,
    extractMs: Date.now() - (job.processedOn ?? Date.now()),
  };
  // With batched loads the upload hands the window to its batch, and the load job waits for the batch delayed
  // from the moment its upload completes (BullMQ delays a parent whose job has a delay), woken by the batch.
  const loadOptions = catalog.load.options(context.config.workers.backoffMs);
  await context.flow.add({
    name: jobName(data),
    queueName: catalog.load.queue,
    data: loadData,
    opts: batchesLoads(context.config)
      ? { ...loadOptions, jobId: loadJobId, delay: batchWaitMs(context.config) }
      : { ...loadOptions, jobId: loadJobId },
    children: [
      {
        name: jobName(data),
        queueName: catalog.upload.queue(context.nodeId),
        data: {
          manifest: result.manifest,
          plan: data.plan,
          ...(data.backfill === undefined ? {} : { backfill: data.backfill }),
          nodeId: context.nodeId,
          extractMs: loadData.extractMs,
        },
        opts: {
          ...catalog.upload.options(context.config.workers.backoffMs),
          jobId: catalog.upload.jobId(data),
        },
      },
    ],
  });
  return { rows: result.rows, ...counts, loadJobId };
}

/**
 * Whether the window went on without this extract: its flow was added (its load job exists; the flow adds it
 * with its upload, atomically), or — the load job gone by retention — the window committed (no longer pending
 * in its plan, or committed to its backfill). No marker is written on the common path, where nothing re-runs.
 */
async function handedOn(context: PipelineContext, data: ExtractPayload, loadJobId: string): Promise<boolean> {
  if ((await context.redis.exists(context.queues.load.toKey(loadJobId))) === 1) return true;
  if (data.backfill !== undefined) {
    return backfillWindowCommitted(context, { ...data, backfill: data.backfill });
  }
  return !(await context.exportState.isPending(data.instanceId, data.exportName, windowId(data.window)));
}
