import { type Job, Worker, type WorkerOptions } from 'bullmq';
import { catalog } from './catalog.ts';
import { connectRedis, type PipelineContext } from './context.ts';
import { recoverDeadNodes } from './node-recovery.ts';
import { validatedProcessor } from './processor.ts';
import { processExtract } from './processors/extract.ts';
import { fanout } from './processors/fanout.ts';
import { processLoad } from './processors/load.ts';
import { processUpload } from './processors/upload.ts';
import { reconcileSchedulers } from './schedulers.ts';

// The process roles. A worker consumes the shared extract and load queues plus its own node's upload queue; the
// scheduler reconciles job schedulers, runs the fan-out and watches node heartbeats. Both stop gracefully:
// stop taking jobs, let running ones finish within the grace period, then hand the rest back (they are
// recovered as stalled jobs by another worker).

/** Two stalls (a worker killed twice mid-job) must not fail a job for good: the third stall does. */
export const MAX_STALLED_COUNT = 3;

export interface RoleHandle {
  name: string;
  close(): Promise<void>;
}

function workerOptions(context: PipelineContext, concurrency: number): WorkerOptions {
  const { workers } = context.config;
  return {
    // Workers get their own connection: BullMQ duplicates it for blocking reads.
    connection: connectRedis(context.config.redis.url, `worker-${context.nodeId}`, context.logger),
    prefix: context.config.redis.prefix,
    concurrency,
    lockDuration: workers.lockDurationMs,
    stalledInterval: workers.stalledIntervalMs,
    maxStalledCount: MAX_STALLED_COUNT,
    // Delays waiting for a query slot or a Retry-After do not use attempts; this bounds them.
    maxStartedAttempts: 5000,
    autorun: true,
  };
}

async function closeWorkers(context: PipelineContext, workers: Worker[]): Promise<void> {
  const grace = context.config.workers.shutdownGraceMs;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), grace);
  });
  const graceful = Promise.all(workers.map((w) => w.close())).then(() => 'closed' as const);
  const outcome = await Promise.race([graceful, deadline]);
  clearTimeout(timer);
  if (outcome === 'timeout') {
    context.logger.warn(
      { graceMs: grace },
      'jobs still running at the end of the grace period: handing them back',
    );
    for (const worker of workers) worker.cancelAllJobs('shutdown');
    await Promise.all(workers.map((w) => w.close(true)));
  }
  await Promise.all(
    workers.map(async (w) => {
      const connection = (w.opts.connection as unknown as { quit(): Promise<unknown> }) ?? null;
      await connection?.quit().catch(() => undefined);
    }),
  );
}

function track(context: PipelineContext, worker: Worker): Worker {
  worker.on('error', (error) =>
    context.logger.warn({ queue: worker.name, err: error.message }, 'worker error'),
  );
  worker.on('failed', (job: Job | undefined, error: Error) => {
    if (!job) return;
    const final =
      job.attemptsMade >= (job.opts.attempts ?? 1) ||
      error.name === 'UnrecoverableError' ||
      error.name === 'NonRetryableError';
    if (final)
      context.logger.error({ queue: worker.name, jobId: job.id, err: error.message }, 'job failed for good');
  });
  return worker;
}

export async function startWorkerRole(context: PipelineContext): Promise<RoleHandle> {
  const { config } = context;
  await context.nodes.register(context.nodeId, context.spoolDir);
  const heartbeat = setInterval(() => {
    context.nodes.heartbeat(context.nodeId).catch(() => undefined);
  }, config.workers.heartbeatMs);
  const workers = [
    new Worker(
      catalog.extract.queue,
      validatedProcessor(context, catalog.extract.queue, catalog.extract.schema, (job, data, token) =>
        processExtract(context, job, data, token),
      ),
      workerOptions(context, config.workers.extractConcurrency),
    ),
    new Worker(
      catalog.upload.queue(context.nodeId),
      validatedProcessor(context, 'upload', catalog.upload.schema, (job, data) =>
        processUpload(context, job, data),
      ),
      workerOptions(context, config.workers.uploadConcurrency),
    ),
    new Worker(
      catalog.load.queue,
      validatedProcessor(context, catalog.load.queue, catalog.load.schema, (job, data) =>
        processLoad(context, job, data),
      ),
      workerOptions(context, config.workers.loadConcurrency),
    ),
  ].map((w) => track(context, w));
  context.logger.info({ node: context.nodeId, spool: context.spoolDir }, 'worker started');
  return {
    name: 'worker',
    async close() {
      clearInterval(heartbeat);
      await closeWorkers(context, workers);
    },
  };
}

export async function startSchedulerRole(context: PipelineContext): Promise<RoleHandle> {
  const reconciled = await reconcileSchedulers(context);
  context.logger.info(reconciled, 'job schedulers reconciled with config');
  const worker = track(
    context,
    new Worker(
      catalog.scheduler.queue,
      validatedProcessor(context, catalog.scheduler.queue, catalog.scheduler.schema, (job, data) =>
        fanout(context, job, data),
      ),
      workerOptions(context, 1),
    ),
  );
  let reaping = false;
  const reaper = setInterval(
    () => {
      if (reaping) return;
      reaping = true;
      recoverDeadNodes(context, context.config.workers.deadNodeAfterMs)
        .catch((error) => context.logger.warn({ err: String(error) }, 'dead-node check failed'))
        .finally(() => {
          reaping = false;
        });
    },
    Math.max(1_000, Math.floor(context.config.workers.deadNodeAfterMs / 4)),
  );
  return {
    name: 'scheduler',
    async close() {
      clearInterval(reaper);
      await closeWorkers(context, [worker]);
    },
  };
}
