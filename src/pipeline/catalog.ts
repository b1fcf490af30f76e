import type { JobsOptions } from 'bullmq';
import { z } from 'zod';
import { EXPORT_NAME_PATTERN, INSTANCE_ID_PATTERN } from '../names.ts';
import { spoolManifestSchema } from '../spool/manifest.ts';
import { windowId, windowSchema } from '../window.ts';

// The job catalog: every queue's name, payload schema, attempts and backoff, retention and job-id builder, in
// one place. Producers, workers and flows all take their options from here; nothing sets job options inline
// (flow children do not inherit queue defaults, so this is the only way they get attempts at all).

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
  /** Set once the upload/load flow is enqueued, so a re-run after a crash does not extract again. */
  flowAdded: z.boolean().optional(),
});

export const uploadPayload = z.strictObject({
  manifest: spoolManifestSchema,
  plan,
  backfill,
  nodeId: z.string().min(1),
});

export const loadPayload = z.strictObject({
  instanceId,
  exportName,
  plan,
  backfill,
  window: windowSchema,
  rows: z.int().min(1),
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

export const catalog = {
  scheduler: {
    queue: 'scheduler',
    schema: tickPayload,
    options: (base: number): JobsOptions => ({ attempts: 3, backoff: backoff(base, 1), ...retention }),
  },
  extract: {
    queue: 'extract',
    schema: extractPayload,
    options: (base: number): JobsOptions => ({ attempts: 6, backoff: backoff(base, 2), ...retention }),
    jobId: (data: WindowRef) => `extract-${windowKey(data)}`,
  },
  upload: {
    /** One upload queue per node: the spool file lives on the disk of the node that extracted it. */
    queue: (nodeId: string) => `upload-${nodeId}`,
    schema: uploadPayload,
    options: (base: number): JobsOptions => ({ attempts: 8, backoff: backoff(base, 1), ...retention }),
    jobId: (data: WindowRef) => `upload-${windowKey(data)}`,
  },
  load: {
    queue: 'load',
    schema: loadPayload,
    options: (base: number): JobsOptions => ({ attempts: 6, backoff: backoff(base, 3), ...retention }),
    jobId: (data: WindowRef) => `load-${windowKey(data)}`,
  },
  loadBatch: {
    /** One load job and one MERGE for many windows of one table; each window's load job waits for it. */
    queue: 'load-batch',
    schema: loadBatchPayload,
    options: (base: number): JobsOptions => ({ attempts: 6, backoff: backoff(base, 3), ...retention }),
    jobId: (data: LoadBatchPayload) => `load-batch-${data.exportName}-b${data.batch}`,
  },
} as const;

export const UPLOAD_QUEUE_PREFIX = 'upload-';
