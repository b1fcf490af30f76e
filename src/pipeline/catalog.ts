import type { Job, JobsOptions } from 'bullmq';
import { z } from 'zod';
import type { PipelineConfig } from '../config/model.ts';
import type { UploadResult } from '../gcs/upload.ts';
import { EXPORT_NAME_PATTERN, INSTANCE_ID_PATTERN } from '../names.ts';
import { spoolManifestSchema } from '../spool/manifest.ts';
import { type CursorRange, windowId, windowSchema } from '../window.ts';

// The job catalog: every queue's name, payload schema, result type, attempts and backoff, retention, job-id
// builder, the role whose workers consume it and their concurrency, in one place. Producers, workers and flows
// all take their options from here; nothing sets job options inline (flow children do not inherit queue
// defaults, so this is the only way they get attempts at all). The catalog stays light (declarations only: the
// dashboard and the CLI import it); each queue's processor is bound in `workers.ts`, whose handler record must
// have one entry per catalog key, taking that key's payload and returning that key's result.

const DAY_SECONDS = 86_400;

const retention = {
  removeOnComplete: { age: 7 * DAY_SECONDS, count: 5000 },
  removeOnFail: { age: 30 * DAY_SECONDS },
} satisfies JobsOptions;

const instanceId = z.string().regex(INSTANCE_ID_PATTERN);
const exportName = z.string().regex(EXPORT_NAME_PATTERN);

export const tickPayload = z.strictObject({
  /** Instances to fan out for; null means every instance that follows the global schedule. */
  instanceIds: z.array(instanceId).nullable(),
  exports: z.array(exportName).nullable(),
  reason: z.enum(['schedule', 'manual']),
});

/** The plan a window belongs to: a counter per instance × export, so a window planned again later (after a
 * reset, or after an operator removed a failed plan) gets fresh job ids instead of colliding with old jobs. */
const plan = z.int().min(1);

/** Set on the jobs of a backfill (`lsa backfill`): its number, from a counter per instance × export. It replaces
 * the plan in job ids, object names and BigQuery job ids, so a backfill never collides with the regular plan;
 * its windows commit to the backfill's own record, never to the pending set or the watermark. */
const backfill = z.int().min(1).optional();

export const extractPayload = z.strictObject({
  instanceId,
  exportName,
  plan,
  backfill,
  window: windowSchema,
  /** Written by earlier versions once the upload/load flow was enqueued; a re-run now looks for the flow. */
  flowAdded: z.boolean().optional(),
});

export const uploadPayload = z.strictObject({
  manifest: spoolManifestSchema,
  plan,
  backfill,
  nodeId: z.string().min(1),
  /** How long the window's extract took (ms): the upload hands the window to its batch with it. */
  extractMs: z.int().min(0).optional(),
});

export const loadPayload = z.strictObject({
  instanceId,
  exportName,
  plan,
  backfill,
  window: windowSchema,
  rows: z.int().min(1),
  /** How long the window's extract took (ms), for its `_lsa_runs` row. */
  extractMs: z.int().min(0).optional(),
});

/** A batch of windows of one target table (the export's table), numbered per table. */
export const loadBatchPayload = z.strictObject({
  exportName,
  batch: z.int().min(1),
});

export type TickPayload = z.infer<typeof tickPayload>;
export type ExtractPayload = z.infer<typeof extractPayload>;
export type UploadPayload = z.infer<typeof uploadPayload>;
export type LoadPayload = z.infer<typeof loadPayload>;
export type LoadBatchPayload = z.infer<typeof loadBatchPayload>;

// Results: what other code may read from a completed job's return value (run-once, a load reading its upload
// child, telemetry). A processor may return more; `workers.ts` checks that what it returns is assignable here.

export interface TickResult {
  planned: { instanceId: string; exportName: string; plan: number; windows: number }[];
  skipped: { instanceId: string; exportName: string; reason: string }[];
}

export interface ExtractResult {
  /** Rows read; -1 when a re-run found its flow already enqueued and read nothing. */
  rows: number;
  queries: number;
  /** The load job of the window's flow; null when the window had no rows and committed at extract. */
  loadJobId: string | null;
}

/**
 * An upload's result: its object, and what the window's load needs of its manifest (rows' extraction time,
 * quarantined lines, cursor range) and for its `_lsa_runs` row — so the load reads its child's return value only.
 */
/** What came of a window in its load batch: committed, rejected (loaded alone), failed (joins a new batch). */
export type WindowOutcome = 'pending' | 'committed' | 'rejected' | 'failed';

export interface UploadOutcome extends UploadResult {
  extractedAt?: string;
  quarantined?: number;
  cursorRange?: CursorRange | null;
  uploadMs?: number;
  /** With batched loads: the batch the window joined, when (epoch ms), and what had come of it there by then. */
  batch?: { jobId: string; joinedAt: number; outcome: WindowOutcome };
}

export interface LoadResult {
  uri: string;
  rowsLoaded: number;
  quarantined: number;
  inserted: number;
  updated: number;
  watermark: string | null;
  /** The `load-batch` job that loaded the window; absent when it was loaded alone. */
  batchJobId?: string;
}

export interface LoadBatchResult {
  windows: number;
  committed: number;
  rejected: number;
  rowsLoaded: number;
  quarantined: number;
  bytesProcessed: number;
  jobIds: string[];
}

/** Names an entry's result type; nothing is stored at run time (the field is always absent). */
function returns<R>(): { readonly result?: R } {
  return {};
}

/** The process role whose workers consume a queue (`lsa start --role`). */
export type Role = 'scheduler' | 'worker';

type WorkersConfig = PipelineConfig['workers'];

/**
 * Exponential backoff with jitter; `base` is `workers.backoff` from config (default 5s), scaled per queue: an
 * extract waits 2×, a load 3× (BigQuery transients last longer), an upload 1×.
 */
const backoff = (base: number, scale: number) =>
  ({ type: 'exponential', delay: base * scale, jitter: 0.5 }) as const;

/** Job ids: deterministic, never containing `:` (BullMQ refuses it) and never all digits. */
export type WindowRef = Pick<LoadPayload, 'instanceId' | 'exportName' | 'plan' | 'window' | 'backfill'>;

/** `p<plan>` for a window of the regular plan, `b<n>` for one of backfill n: the two id spaces never meet. */
export function runTag(data: Pick<WindowRef, 'plan' | 'backfill'>): string {
  return data.backfill === undefined ? `p${data.plan}` : `b${data.backfill}`;
}

function windowKey(data: WindowRef) {
  return `${data.instanceId}-${data.exportName}-${windowId(data.window)}-${runTag(data)}`;
}

/** Upload queues are `upload-<nodeId>`: this prefix builds and recognises them everywhere. */
export const UPLOAD_QUEUE_PREFIX = 'upload-';

export const catalog = {
  scheduler: {
    queue: 'scheduler',
    schema: tickPayload,
    ...returns<TickResult>(),
    role: 'scheduler',
    /** One tick at a time per scheduler: fan-outs of the same export would only skip each other. */
    concurrency: (_workers: WorkersConfig) => 1,
    options: (base: number): JobsOptions => ({ attempts: 3, backoff: backoff(base, 1), ...retention }),
  },
  extract: {
    queue: 'extract',
    schema: extractPayload,
    ...returns<ExtractResult>(),
    role: 'worker',
    concurrency: (workers: WorkersConfig) => workers.extractConcurrency,
    options: (base: number): JobsOptions => ({ attempts: 6, backoff: backoff(base, 2), ...retention }),
    jobId: (data: WindowRef) => `extract-${windowKey(data)}`,
  },
  upload: {
    /** One upload queue per node: the spool file lives on the disk of the node that extracted it. */
    queue: (nodeId: string) => `${UPLOAD_QUEUE_PREFIX}${nodeId}`,
    schema: uploadPayload,
    ...returns<UploadOutcome>(),
    role: 'worker',
    concurrency: (workers: WorkersConfig) => workers.uploadConcurrency,
    options: (base: number): JobsOptions => ({ attempts: 8, backoff: backoff(base, 1), ...retention }),
    jobId: (data: WindowRef) => `upload-${windowKey(data)}`,
  },
  load: {
    queue: 'load',
    schema: loadPayload,
    ...returns<LoadResult>(),
    role: 'worker',
    concurrency: (workers: WorkersConfig) => workers.loadConcurrency,
    options: (base: number): JobsOptions => ({ attempts: 6, backoff: backoff(base, 3), ...retention }),
    jobId: (data: WindowRef) => `load-${windowKey(data)}`,
  },
  loadBatch: {
    /** One load job and one MERGE for many windows of one table; each window's load job waits for it. */
    queue: 'load-batch',
    schema: loadBatchPayload,
    ...returns<LoadBatchResult>(),
    role: 'worker',
    /** Batches share the load concurrency: both hold BigQuery jobs. */
    concurrency: (workers: WorkersConfig) => workers.loadConcurrency,
    options: (base: number): JobsOptions => ({ attempts: 6, backoff: backoff(base, 3), ...retention }),
    jobId: (data: LoadBatchPayload) => `load-batch-${data.exportName}-b${data.batch}`,
  },
} as const;

export type Catalog = typeof catalog;
export type QueueKey = keyof Catalog;
export type Payload<K extends QueueKey> = z.output<Catalog[K]['schema']>;
export type Result<K extends QueueKey> = Exclude<Catalog[K]['result'], undefined>;

/** Every catalog key, in the order workers are started. */
export const QUEUE_KEYS = Object.keys(catalog) as QueueKey[];

/** The catalog keys whose workers a role runs. */
export function queuesOfRole(role: Role): QueueKey[] {
  return QUEUE_KEYS.filter((key) => catalog[key].role === role);
}

/** The queue a key names on a node: only upload queues are per node (the spool file is on that node's disk). */
export function queueName(key: QueueKey, nodeId: string): string {
  const { queue } = catalog[key];
  return typeof queue === 'function' ? queue(nodeId) : queue;
}

/** The node whose upload queue this is, or null when the queue is not an upload queue. */
export function uploadQueueNode(queue: string): string | null {
  return queue.startsWith(UPLOAD_QUEUE_PREFIX) ? queue.slice(UPLOAD_QUEUE_PREFIX.length) : null;
}

/** The catalog key of a queue name (`upload-<node>` is `upload`), or null for a queue the catalog lacks. */
export function queueKeyOf(queue: string): QueueKey | null {
  if (uploadQueueNode(queue) !== null) return 'upload';
  return QUEUE_KEYS.find((key) => catalog[key].queue === queue) ?? null;
}

/**
 * The typed return value of a completed job of a catalog queue; undefined for no job or one not completed. A job
 * of another queue is refused, naming both: its return value has another shape.
 */
export function resultOf<K extends QueueKey>(job: Job | null | undefined, key: K): Result<K> | undefined {
  if (!job) return undefined;
  if (queueKeyOf(job.queueName) !== key)
    throw new Error(
      `job ${job.id} is in queue "${job.queueName}", not a ${key} queue: no ${key} result to read`,
    );
  // BullMQ keeps the processor's return value as JSON; the handler record in workers.ts typed what it returns.
  const value: Result<K> | null | undefined = job.returnvalue;
  return value ?? undefined;
}

/**
 * A flow child's key as BullMQ lists it (`getChildrenValues`, `getDependencies`): `<prefix>:<queue>:<job id>`,
 * split into queue and job id. Queue names never contain `:`; the prefix may (`{lsa}` does not, but a custom
 * one could), so it is cut by length, not by splitting.
 */
export function parseChildKey(redisPrefix: string, childKey: string): { queue: string; jobId: string } {
  if (!childKey.startsWith(`${redisPrefix}:`))
    throw new Error(`flow child key "${childKey}" does not start with the Redis prefix "${redisPrefix}:"`);
  const rest = childKey.slice(redisPrefix.length + 1);
  const colon = rest.indexOf(':');
  if (colon <= 0) throw new Error(`flow child key "${childKey}" names no queue and job id`);
  return { queue: rest.slice(0, colon), jobId: rest.slice(colon + 1) };
}
