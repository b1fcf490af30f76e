import { createServer, type Server } from 'node:http';
import { type Job, Worker, type WorkerOptions } from 'bullmq';
import type { z } from 'zod';
import { verifyExportFieldsAtWorkerStart } from '../doctor/worker-start.ts';
import { errorMessage } from '../errors.ts';
import { warnThrottled } from '../logging.ts';
import { createNotifier, type Notifier } from '../notify/webhook.ts';
import { loadNotComing } from './batching/batching.ts';
import {
  catalog,
  type Payload,
  type QueueKey,
  queueName,
  queuesOfRole,
  type Result,
  type Role,
  type UploadPayload,
  type WindowRef,
} from './catalog.ts';
import { connectRedis, type PipelineContext } from './context.ts';
import { flushJobTelemetry, isFinalFailure, observeJobs } from './job-telemetry.ts';
import { recoverDeadNodes } from './node-recovery.ts';
import { validatedProcessor } from './processor.ts';
import { reconcileSchedulers } from './schedulers.ts';
import { notifyStaleExports } from './stale-watch.ts';
import { type AfterCompletion, afterCompletion, type Handler, handlers } from './workers.ts';

// The process roles. A worker consumes the shared extract, load and load-batch queues plus its own node's upload
// queue; the scheduler reconciles job schedulers, runs the fan-out and watches node heartbeats. Which queues a
// role consumes, and with what concurrency, is the catalog's word: a role starts one Worker per catalog entry of
// its role, running that entry's handler. Both stop gracefully: stop taking jobs, let running ones finish within
// the grace period, then hand the rest back (they are recovered as stalled jobs by another worker).

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
    // An idle Worker blocks on its queue's marker this many seconds, then looks for a job anyway (a script of about
    // eight commands). New, retried, promoted and due delayed jobs all wake it through the marker, so the look only
    // matters for a marker another Worker took and dropped; BullMQ's default (5) doubled the idle cost of every
    // Worker. 10 is the longest block BullMQ itself allows for delayed jobs (longer ones misbehave on reconnect).
    drainDelay: 10,
    autorun: true,
  };
}

async function closeWorkers(context: PipelineContext, workers: Worker[]): Promise<void> {
  // The whole close fits in the grace period: running jobs get it but the last moments, which hand them back.
  const total = context.config.workers.shutdownGraceMs;
  const grace = Math.max(total - FORCED_CLOSE_MS, Math.floor(total / 2));
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
    // With Redis unreachable even a forced close waits for it: bounded, so SIGTERM always ends the process.
    await withinMs(Promise.all(workers.map((w) => w.close(true))), Math.min(FORCED_CLOSE_MS, total - grace));
  }
  // The steps after the last completed jobs (waking a load job its batch settled early) finish, and the figures of the last
  // jobs, still gathered in memory, go to Redis before the process ends.
  await withinMs(Promise.all([...afterSteps]), FORCED_CLOSE_MS);
  await withinMs(flushJobTelemetry(context), FORCED_CLOSE_MS);
  await Promise.all(
    workers.map(async (w) => {
      const connection = w.opts.connection as unknown as {
        status: string;
        quit(): Promise<unknown>;
        disconnect(): void;
      };
      // QUIT would wait for a Redis that is not there.
      if (connection.status !== 'ready') connection.disconnect();
      else if (
        (await withinMs(
          connection.quit().catch(() => undefined),
          1_000,
        )) === 'timeout'
      )
        connection.disconnect();
    }),
  );
}

/** How long a forced close may wait for Redis before connections are dropped. */
const FORCED_CLOSE_MS = 2_000;

async function withinMs<T>(work: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The catalog seen per key (a mapped type), so a generic key reads its own entry, not the union of all. */
const schemas: { readonly [K in QueueKey]: { readonly schema: z.ZodType<Payload<K>> } } = catalog;

/** Steps after completed jobs still running in this process: closing the workers waits for them. */
const afterSteps = new Set<Promise<void>>();

/** The Worker of one catalog queue on this node, running the queue's handler on validated payloads. */
function workerFor<K extends QueueKey>(context: PipelineContext, key: K): Worker {
  const name = queueName(key, context.nodeId);
  const { schema } = schemas[key];
  const handler: Handler<K> = handlers[key];
  const worker = new Worker(
    name,
    validatedProcessor(context, name, schema, (job, data, token) => handler(context, job, data, token)),
    workerOptions(context, catalog[key].concurrency(context.config.workers)),
  );
  const after = afterCompletion[key] as AfterCompletion<K> | undefined;
  if (after) {
    worker.on('completed', (job: Job, result: Result<K>) => {
      const parsed = schema.safeParse(job.data);
      if (!parsed.success) return; // it could not have completed
      const step = after(context, parsed.data, result).catch((error) =>
        context.logger.warn(
          { queue: name, jobId: job.id, err: errorMessage(error) },
          'the step after a completed job failed: its load job wakes when its delay ends',
        ),
      );
      afterSteps.add(step);
      void step.finally(() => afterSteps.delete(step));
    });
  }
  return worker;
}

function startWorkers(context: PipelineContext, role: Role, notifier: Notifier): Worker[] {
  return queuesOfRole(role).map((key) => track(context, workerFor(context, key), notifier));
}

function track(context: PipelineContext, worker: Worker, notifier: Notifier): Worker {
  // A worker's errors are its Redis connection's while Redis is down: one warning per 10 s per process.
  worker.on('error', (error) =>
    warnThrottled(context.logger, 'redis', { queue: worker.name, err: error.message }, 'worker error'),
  );
  worker.on('failed', (job: Job | undefined, error: Error) => {
    if (!job || !isFinalFailure(job, error)) return;
    context.logger.error({ queue: worker.name, jobId: job.id, err: error.message }, 'job failed for good');
    // Its window will not load until an operator retries it: its table's next batch does not wait for it.
    const window = plannedWindow(job.data);
    if (window) loadNotComing(context, window).catch(() => undefined);
  });
  observeJobs(context, worker, notifier);
  return worker;
}

/** The window a failed extract, upload or load job was for, from its payload. */
function plannedWindow(data: unknown): WindowRef | undefined {
  const payload = data as Partial<UploadPayload & WindowRef>;
  const source = payload.manifest ? { ...payload.manifest, plan: payload.plan } : payload;
  const { instanceId, exportName, plan, window } = source;
  if (!instanceId || !exportName || plan === undefined || !window) return undefined;
  return {
    instanceId,
    exportName,
    plan,
    window,
    ...(payload.backfill ? { backfill: payload.backfill } : {}),
  };
}

/** A tiny /healthz server for container health checks of processes that have no dashboard. */
async function startHealthServer(context: PipelineContext, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '0.0.0.0', () => resolve());
  });
  context.logger.info({ port }, 'worker health endpoint listening on /healthz');
  return server;
}

export async function startWorkerRole(context: PipelineContext): Promise<RoleHandle> {
  const { config } = context;
  const notifier = createNotifier(config, context.logger);
  // A field a custom export names that Looker lacks fails now, not after every retry; a Looker down only warns.
  await verifyExportFieldsAtWorkerStart(config.instances, context.looker, context.logger);
  await context.nodes.register(context.nodeId, context.spoolDir);
  const heartbeat = setInterval(() => {
    context.nodes.heartbeat(context.nodeId).catch(() => undefined);
  }, config.workers.heartbeatMs);
  const workers = startWorkers(context, 'worker', notifier);
  const health = config.workers.healthPort
    ? await startHealthServer(context, config.workers.healthPort)
    : undefined;
  context.logger.info({ node: context.nodeId, spool: context.spoolDir }, 'worker started');
  return {
    name: 'worker',
    async close() {
      clearInterval(heartbeat);
      await closeWorkers(context, workers);
      health?.closeAllConnections();
      await new Promise<void>((resolve) => (health ? health.close(() => resolve()) : resolve()));
    },
  };
}

export async function startSchedulerRole(context: PipelineContext): Promise<RoleHandle> {
  const notifier = createNotifier(context.config, context.logger);
  const reconciled = await reconcileSchedulers(context);
  context.logger.info(reconciled, 'job schedulers reconciled with config');
  const schedulerWorkers = startWorkers(context, 'scheduler', notifier);
  let reaping = false;
  const reaper = setInterval(
    () => {
      if (reaping) return;
      reaping = true;
      recoverDeadNodes(context, context.config.workers.deadNodeAfterMs)
        .then(async (nodes) => {
          for (const nodeId of nodes) await notifier.send({ kind: 'node-dead', nodeId });
        })
        .catch((error) => context.logger.warn({ err: String(error) }, 'dead-node check failed'))
        .finally(() => {
          reaping = false;
        });
    },
    Math.max(1_000, Math.floor(context.config.workers.deadNodeAfterMs / 4)),
  );
  // Stale exports are looked for only when someone is there to hear about it.
  let watching = false;
  const staleWatch = context.config.notify
    ? setInterval(() => {
        if (watching) return;
        watching = true;
        notifyStaleExports(context, notifier)
          .catch((error) => context.logger.warn({ err: String(error) }, 'stale-export check failed'))
          .finally(() => {
            watching = false;
          });
      }, context.config.notify.checkIntervalMs)
    : undefined;
  return {
    name: 'scheduler',
    async close() {
      clearInterval(reaper);
      clearInterval(staleWatch);
      await closeWorkers(context, schedulerWorkers);
    },
  };
}
