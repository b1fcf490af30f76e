import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import type { BigQuery } from '@google-cloud/bigquery';
import type { Storage } from '@google-cloud/storage';
import { FlowProducer, Queue } from 'bullmq';
import { Cluster, Redis } from 'ioredis';
import { createBigQuery } from '../bigquery/client.ts';
import { isClusterUrl, type PipelineConfig, seedNodeUrl } from '../config/model.ts';
import { createStorage } from '../gcs/client.ts';
import { type Logger, warnThrottled } from '../logging.ts';
import { LookerClients } from '../looker/client.ts';
import { ApiCallStore } from '../state/api-calls.ts';
import { ExportStateStore } from '../state/export-state.ts';
import { StateKeys } from '../state/keys.ts';
import { NodeRegistry } from '../state/node-registry.ts';
import { PlanLocks } from '../state/plan-lock.ts';
import { QueryLeases } from '../state/query-lease.ts';
import { RunStatusStore } from '../state/run-status.ts';
import { monthOf } from './budget/ticks.ts';
import { catalog } from './catalog.ts';

// Everything a process of the pipeline shares: config, one Redis connection for queues and state (workers
// duplicate their own blocking connections), the queues, the Google clients and the Looker sessions. The
// number of Redis connections does not grow with the number of Looker instances.

export interface PipelineContext {
  config: PipelineConfig;
  logger: Logger;
  nodeId: string;
  spoolDir: string;
  redis: Redis;
  keys: StateKeys;
  exportState: ExportStateStore;
  leases: QueryLeases;
  planLocks: PlanLocks;
  nodes: NodeRegistry;
  runStatus: RunStatusStore;
  /** Looker query calls per instance and month (the API budget); the extract flushes its instance's. */
  apiCalls: ApiCallStore;
  queues: { scheduler: Queue; extract: Queue; load: Queue; upload(nodeId: string): Queue };
  flow: FlowProducer;
  storage: Storage;
  bigquery: BigQuery;
  looker: LookerClients;
  now(): number;
  close(): Promise<void>;
}

export interface ContextOptions {
  logger: Logger;
  nodeId?: string;
  now?: () => number;
  /** Lease time to live: a killed worker's query slot frees itself after this long (default 2 × lockDuration). */
  leaseTtlMs?: number;
}

export function defaultNodeId(): string {
  return `${hostname()
    .replace(/[^A-Za-z0-9-]/g, '-')
    .slice(0, 40)}-${randomUUID().slice(0, 8)}`;
}

export function connectRedis(url: string, purpose: string, logger: Logger): Redis {
  // BullMQ workers need maxRetriesPerRequest: null (wait for Redis forever rather than fail a job mid-flight).
  // The name (`lsa-main-<node>`, `lsa-worker-<node>`; BullMQ's duplicates keep it) shows in CLIENT LIST.
  const options = { maxRetriesPerRequest: null, connectionName: `lsa-${purpose}` };
  const redis = isClusterUrl(url) ? connectCluster(url, options) : new Redis(url, options);
  // Every connection of the process retries while Redis is down: one warning per 10 s for all of them.
  redis.on('error', (error) =>
    warnThrottled(logger, 'redis', { err: error.message }, 'redis connection error'),
  );
  return redis;
}

function connectCluster(url: string, options: { maxRetriesPerRequest: null; connectionName: string }): Redis {
  const seed = new URL(seedNodeUrl(url));
  // The nodes the cluster reports are reached with redisOptions, not with the seed URL: credentials and TLS
  // go there so that every node gets them.
  const cluster = new Cluster(
    [{ host: seed.hostname.replace(/^\[|\]$/g, ''), port: Number(seed.port || 6379) }],
    {
      redisOptions: {
        ...options,
        ...(seed.username ? { username: decodeURIComponent(seed.username) } : {}),
        ...(seed.password ? { password: decodeURIComponent(seed.password) } : {}),
        ...(seed.protocol === 'rediss:' ? { tls: {} } : {}),
      },
    },
  );
  // A Cluster answers every command the pipeline and BullMQ send, Lua scripts included, because all their keys
  // share the `{prefix}` hash tag, hence one slot; its type is not a Redis subclass, hence the cast.
  return cluster as unknown as Redis;
}

export function createContext(config: PipelineConfig, options: ContextOptions): PipelineContext {
  const { logger } = options;
  const nodeId = options.nodeId ?? process.env.LSA_NODE_ID ?? defaultNodeId();
  const redis = connectRedis(config.redis.url, `main-${nodeId}`, logger);
  const keys = new StateKeys(config.redis.prefix);
  const prefix = config.redis.prefix;
  const queueOptions = { connection: redis, prefix };
  const onError = (what: string) => (error: Error) =>
    warnThrottled(logger, 'redis', { err: error.message, from: what }, 'redis connection error');
  const makeQueue = (name: string) => {
    const queue = new Queue(name, queueOptions);
    queue.on('error', onError(`queue ${name}`));
    return queue;
  };
  const scheduler = makeQueue(catalog.scheduler.queue);
  const extract = makeQueue(catalog.extract.queue);
  const load = makeQueue(catalog.load.queue);
  const uploadQueues = new Map<string, Queue>();
  const flow = new FlowProducer(queueOptions);
  flow.on('error', onError('flow producer'));
  // Every query call Looker takes counts against its instance's month (the API budget, src/pipeline/budget/).
  const apiCalls = new ApiCallStore(redis, keys);
  const looker = new LookerClients({
    onQueryCall: (id) => apiCalls.tally(id, monthOf((options.now ?? Date.now)())),
  });
  const context: PipelineContext = {
    config,
    logger,
    nodeId,
    spoolDir: resolve(config.spool.dir, nodeId),
    redis,
    keys,
    exportState: new ExportStateStore(redis, keys),
    leases: new QueryLeases(redis, keys, options.leaseTtlMs ?? 2 * config.workers.lockDurationMs),
    planLocks: new PlanLocks(redis, keys),
    nodes: new NodeRegistry(redis, keys),
    runStatus: new RunStatusStore(redis, keys),
    apiCalls,
    queues: {
      scheduler,
      extract,
      load,
      upload(id: string) {
        let queue = uploadQueues.get(id);
        if (!queue) {
          queue = makeQueue(catalog.upload.queue(id));
          uploadQueues.set(id, queue);
        }
        return queue;
      },
    },
    flow,
    storage: createStorage(config.gcs, config.bigquery.projectId),
    bigquery: createBigQuery(config.bigquery),
    looker,
    now: options.now ?? Date.now,
    async close() {
      await looker.closeAll();
      await apiCalls
        .flush()
        .catch((error) =>
          logger.warn({ err: String(error) }, 'Looker query calls could not be added to the month in Redis'),
        );
      await Promise.all([
        scheduler.close(),
        extract.close(),
        load.close(),
        flow.close(),
        ...[...uploadQueues.values()].map((q) => q.close()),
      ]);
      await redis.quit().catch(() => redis.disconnect());
    },
  };
  return context;
}
