import { DelayedError, Queue, QueueEvents, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifyError, isPermanent, NonRetryableError, RetryAfterError } from '../../src/errors.ts';
import {
  catalog,
  extractPayload,
  loadBatchPayload,
  loadPayload,
  parseChildKey,
  QUEUE_KEYS,
  queueKeyOf,
  queueName,
  queuesOfRole,
  resultOf,
  tickPayload,
  UPLOAD_QUEUE_PREFIX,
  uploadPayload,
  uploadQueueNode,
} from '../../src/pipeline/catalog.ts';
import { parseWindowId, windowId } from '../../src/window.ts';
import { connectRedis, uniquePrefix } from '../helpers/redis.ts';

const range = {
  kind: 'range' as const,
  startMs: Date.parse('2026-11-28T00:00:00Z'),
  endMs: Date.parse('2026-11-29T00:00:00Z'),
};
const snapshot = { kind: 'snapshot' as const, atMs: Date.parse('2026-11-29T10:05:07Z') };
const reopen = { kind: 'reopen' as const, atMs: Date.parse('2026-11-29T10:05:07Z'), keys: [4, 8, 15] };
const ref = { instanceId: 'prod-eu', exportName: 'history', plan: 7, window: range };

const windowJobIds = {
  extract: catalog.extract.jobId,
  upload: catalog.upload.jobId,
  load: catalog.load.jobId,
};

describe('job ids', () => {
  it.each(Object.entries(windowJobIds))(
    '%s: deterministic, with instance, export, window and plan',
    (_, jobId) => {
      expect(jobId(ref)).toBe(jobId({ ...ref, window: { ...range } }));
      expect(jobId(ref)).toContain('prod-eu');
      expect(jobId(ref)).toContain('history');
      expect(jobId(ref)).toContain(windowId(range));
      expect(jobId(ref)).toMatch(/-p7$/);
    },
  );

  it('never contain ":" (BullMQ refuses it) and are never all digits, for every kind of window', () => {
    for (const window of [range, { ...range, startMs: null }, snapshot, reopen]) {
      for (const jobId of [...Object.values(windowJobIds)]) {
        const id = jobId({ ...ref, window });
        expect(id).not.toContain(':');
        expect(id).not.toMatch(/^\d+$/);
      }
    }
    const batchId = catalog.loadBatch.jobId({ exportName: 'history', batch: 3 });
    expect(batchId).toBe('load-batch-history-b3');
    expect(batchId).not.toContain(':');
  });

  it('differ between stages, plans, windows, instances and exports', () => {
    const ids = new Set([
      ...Object.values(windowJobIds).map((jobId) => jobId(ref)),
      catalog.extract.jobId({ ...ref, plan: 8 }),
      catalog.extract.jobId({ ...ref, window: snapshot }),
      catalog.extract.jobId({ ...ref, window: { ...range, endMs: range.endMs + 1000 } }),
      catalog.extract.jobId({ ...ref, instanceId: 'prod-us' }),
      catalog.extract.jobId({ ...ref, exportName: 'event' }),
    ]);
    expect(ids.size).toBe(8);
  });

  it('name the window so that it can be read back from the id', () => {
    const id = catalog.extract.jobId(ref);
    const window = id.slice('extract-prod-eu-history-'.length, -'-p7'.length);
    expect(parseWindowId(window)).toEqual(range);
  });
});

describe('job options per queue', () => {
  const BASE = 5_000;

  it.each([
    ['scheduler', 3, 1],
    ['extract', 6, 2],
    ['upload', 8, 1],
    ['load', 6, 3],
    ['loadBatch', 6, 3],
  ] as const)('%s: %i attempts, exponential backoff at %i× the base, with jitter', (key, attempts, scale) => {
    const options = catalog[key].options(BASE);
    expect(options.attempts).toBe(attempts);
    expect(options.backoff).toEqual({ type: 'exponential', delay: BASE * scale, jitter: 0.5 });
  });

  it('every queue keeps completed jobs a week (at most 5000) and failed ones 30 days', () => {
    for (const key of QUEUE_KEYS) {
      const options = catalog[key].options(BASE);
      expect(options.removeOnComplete, key).toEqual({ age: 7 * 86_400, count: 5000 });
      expect(options.removeOnFail, key).toEqual({ age: 30 * 86_400 });
    }
  });
});

describe('queues', () => {
  const workers = {
    extractConcurrency: 4,
    uploadConcurrency: 3,
    loadConcurrency: 2,
  } as Parameters<typeof catalog.extract.concurrency>[0];

  it('each role runs the workers of its own queues, with the concurrency config gives them', () => {
    expect(queuesOfRole('scheduler')).toEqual(['scheduler']);
    expect(queuesOfRole('worker')).toEqual(['extract', 'upload', 'load', 'loadBatch']);
    expect(QUEUE_KEYS.map((key) => catalog[key].concurrency(workers))).toEqual([1, 4, 3, 2, 2]);
  });

  it('upload queues are per node, built from one prefix and read back from it', () => {
    expect(queueName('upload', 'node-a')).toBe(`${UPLOAD_QUEUE_PREFIX}node-a`);
    expect(catalog.upload.queue('node-a')).toBe(queueName('upload', 'node-a'));
    expect(uploadQueueNode(queueName('upload', 'node-a'))).toBe('node-a');
    expect(uploadQueueNode('load')).toBeNull();
    expect(queueName('extract', 'node-a')).toBe('extract');
  });

  it('a queue name maps back to its catalog key', () => {
    for (const key of QUEUE_KEYS) expect(queueKeyOf(queueName(key, 'node-a'))).toBe(key);
    expect(queueKeyOf('load-batch')).toBe('loadBatch');
    expect(queueKeyOf('nothing')).toBeNull();
  });

  it('a flow child key splits into queue and job id, and a foreign key is refused, naming it', () => {
    expect(parseChildKey('{lsa}', '{lsa}:upload-node-a:upload-prod-eu-history-x-p1')).toEqual({
      queue: 'upload-node-a',
      jobId: 'upload-prod-eu-history-x-p1',
    });
    expect(() => parseChildKey('{lsa}', '{other}:load:1')).toThrow(/"\{other\}:load:1".*"\{lsa\}:"/);
    expect(() => parseChildKey('{lsa}', '{lsa}:load')).toThrow(/names no queue and job id/);
  });
});

/** The first issue's path and message, as the processor wrapper reports a refused payload. */
function refusal(
  schema: { safeParse(data: unknown): { success: boolean; error?: { issues: unknown[] } } },
  data: unknown,
) {
  const parsed = schema.safeParse(data);
  expect(parsed.success).toBe(false);
  const issue = parsed.error!.issues[0] as { path: PropertyKey[]; message: string };
  return issue.path.join('.');
}

describe('payload schemas', () => {
  const manifest = {
    instanceId: 'prod-eu',
    exportName: 'history',
    window: range,
    file: '/spool/n/prod-eu/history.ndjson.gz',
    rows: 10,
    bytes: 200,
    sha256: 'a'.repeat(64),
    uncompressedBytes: 900,
    columns: ['looker_instance'],
    extractedAt: '2026-11-29T10:00:00.000Z',
  };

  it('accept what producers send', () => {
    expect(tickPayload.safeParse({ instanceIds: null, exports: null, reason: 'schedule' }).success).toBe(
      true,
    );
    expect(extractPayload.safeParse(ref).success).toBe(true);
    expect(extractPayload.safeParse({ ...ref, window: reopen }).success).toBe(true);
    expect(uploadPayload.safeParse({ manifest, plan: 1, nodeId: 'node-a' }).success).toBe(true);
    expect(loadPayload.safeParse({ ...ref, rows: 1 }).success).toBe(true);
    expect(loadBatchPayload.safeParse({ exportName: 'history', batch: 1 }).success).toBe(true);
  });

  it.each([
    ['an instance id with a colon', extractPayload, { ...ref, instanceId: 'prod:eu' }, 'instanceId'],
    ['an export name with a dash', extractPayload, { ...ref, exportName: 'his-tory' }, 'exportName'],
    ['plan 0', extractPayload, { ...ref, plan: 0 }, 'plan'],
    ['a fractional window end', extractPayload, { ...ref, window: { ...range, endMs: 1.5 } }, 'window.endMs'],
    ['an unknown window kind', extractPayload, { ...ref, window: { kind: 'week', atMs: 1 } }, 'window.kind'],
    ['a field nobody declared', extractPayload, { ...ref, secret: 'x' }, ''],
    ['a load of no rows', loadPayload, { ...ref, rows: 0 }, 'rows'],
    [
      'a manifest with a short digest',
      uploadPayload,
      { manifest: { ...manifest, sha256: 'ab' }, plan: 1, nodeId: 'n' },
      'manifest.sha256',
    ],
    ['an upload for no node', uploadPayload, { manifest, plan: 1, nodeId: '' }, 'nodeId'],
    ['batch 0', loadBatchPayload, { exportName: 'history', batch: 0 }, 'batch'],
    ['a tick of unknown reason', tickPayload, { instanceIds: null, exports: null, reason: 'cron' }, 'reason'],
  ] as const)('refuse %s, naming the field', (_, schema, data, field) => {
    expect(refusal(schema, data)).toBe(field);
  });

  it('refuse a field nobody declared by its name (strict objects: a secret cannot ride along)', () => {
    const parsed = extractPayload.safeParse({ ...ref, clientSecret: 'x' });
    expect(parsed.success).toBe(false);
    expect(JSON.stringify(parsed.error!.issues)).toContain('clientSecret');
  });
});

describe('resultOf', () => {
  let redis: Redis;
  const prefix = uniquePrefix('catalog');
  const closers: (() => Promise<unknown>)[] = [];

  beforeAll(() => {
    redis = connectRedis();
  });
  afterAll(async () => {
    for (const close of closers.reverse()) await close();
    await redis.quit();
  });

  /** Runs one job through a real queue and worker and returns it as read back from Redis. */
  async function completedJob(queue: string, result: unknown, fail?: Error) {
    const q = new Queue(queue, { connection: redis, prefix });
    const events = new QueueEvents(queue, { connection: redis.duplicate(), prefix });
    const worker = new Worker(
      queue,
      async () => {
        if (fail) throw fail;
        return result;
      },
      { connection: redis.duplicate(), prefix },
    );
    closers.push(
      () => q.close(),
      () => events.close(),
      () => worker.close(),
    );
    await events.waitUntilReady();
    const job = await q.add('j', {}, { attempts: 1 });
    await (fail ? job.waitUntilFinished(events).catch(() => undefined) : job.waitUntilFinished(events));
    return q.getJob(job.id!);
  }

  it('reads the typed return value of a completed job of its queue', async () => {
    const value = { rows: 12, queries: 2, loadJobId: 'load-x' };
    const job = await completedJob(catalog.extract.queue, value);
    const result = resultOf(job, 'extract');
    expect(result).toEqual(value);
    // typed: a field the catalog declares is read without a cast
    expect(result?.loadJobId).toBe('load-x');
  });

  it('is undefined for no job and for a job that did not complete', async () => {
    expect(resultOf(undefined, 'load')).toBeUndefined();
    const failed = await completedJob(catalog.load.queue, null, new NonRetryableError('no'));
    expect(await failed!.getState()).toBe('failed');
    expect(resultOf(failed, 'load')).toBeUndefined();
  });

  it('refuses a job of another queue, naming the queue', async () => {
    const job = await completedJob(queueName('upload', 'node-z'), { uri: 'gs://b/o' });
    expect(resultOf(job, 'upload')).toEqual({ uri: 'gs://b/o' });
    expect(() => resultOf(job, 'load')).toThrow(/queue "upload-node-z", not a load queue/);
  });
});

describe('classifyError: what BullMQ does with a thrown error, by class', () => {
  it.each([
    [new DelayedError(), 'delayed'],
    [new RetryAfterError('429 from prod-eu', 30_000), 'retry-after'],
    [new NonRetryableError('bad config'), 'permanent'],
    [new UnrecoverableError('started too many times'), 'permanent'],
    [new Error('socket hang up'), 'retryable'],
    ['a thrown string', 'retryable'],
  ] as const)('%s is %s', (error, kind) => {
    expect(classifyError(error)).toBe(kind);
    expect(isPermanent(error)).toBe(kind === 'permanent');
  });

  it('goes by class, not by name: an error merely named NonRetryableError is retried', () => {
    const impostor = Object.assign(new Error('x'), { name: 'NonRetryableError' });
    expect(classifyError(impostor)).toBe('retryable');
  });
});
