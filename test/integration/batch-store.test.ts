import { Redis } from 'ioredis';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { type BatchLimits, BatchStore, type BatchWindow } from '../../src/pipeline/batching/batch-store.ts';
import { redisUrl, uniquePrefix } from '../helpers/redis.ts';

// The batch store's scripts on a real Redis: which batch a window joins, when a batch stops taking windows, and
// what a window's load job reads back once its batch ran.

const redis = new Redis(redisUrl());
let store: BatchStore;
beforeEach(() => {
  store = new BatchStore(redis, uniquePrefix());
});
afterAll(async () => {
  await redis.quit();
});

const limits: BatchLimits = { maxWaitMs: 60_000, quietMs: 1_000, maxWindows: 3, maxBytes: 1_000 };

function window(n: number, bytes = 10): BatchWindow {
  return {
    loadJobId: `load-${n}`,
    instanceId: 'i',
    exportName: 'history',
    plan: 1,
    window: { kind: 'range', startMs: n * 1000, endMs: (n + 1) * 1000 },
    sourceUri: `gs://b/${n}`,
    bytes,
    rows: 1,
  };
}

describe('batch store', () => {
  it('fills a batch up to maxWindows, then opens the next; a batch closed for being due takes no more', async () => {
    const joined = [];
    for (const n of [1, 2, 3, 4]) joined.push(await store.join(window(n), limits, 0, false));
    expect(joined.map((j) => [j.batch, j.windows, j.full])).toEqual([
      [1, 1, false],
      [1, 2, false],
      [1, 3, true],
      [2, 1, false],
    ]);
    // Batch 2 is quiet past its interval: it closes, and the next window opens batch 3.
    const closing = await store.close('history', 2, limits, 5_000);
    expect(closing.kind === 'closed' && closing.windows.map((w) => w.loadJobId)).toEqual(['load-4']);
    expect((await store.join(window(5), limits, 5_000, false)).batch).toBe(3);
    // A batch not due yet says when to look again, and keeps taking windows.
    expect(await store.close('history', 3, limits, 5_100)).toEqual({ kind: 'wait', untilMs: 6_000 });
    expect((await store.join(window(6), limits, 5_200, false)).batch).toBe(3);
  });

  it('a window over maxBytes fills its batch at once', async () => {
    expect(await store.join(window(1, 2_000), limits, 0, false)).toMatchObject({ batch: 1, full: true });
    expect(await store.join(window(2), limits, 0, false)).toMatchObject({ batch: 2, full: false });
  });

  it('a re-run gets its batch and outcome back instead of joining again; the load job reads its outcome from the batch', async () => {
    for (const n of [1, 2, 3]) await store.join(window(n), limits, 0, false);
    expect(await store.join(window(2), limits, 0, true)).toMatchObject({ batch: 1, earlier: 'pending' });
    expect(await store.registration('history', 'load-2')).toMatchObject({ batch: 1, outcome: 'pending' });
    await store.reject('history', 1, [window(3)], 'BigQuery refused gs://b/3');
    await store.done('history', 1, new Map([['load-1', '{"rowsLoaded":1}']]));
    expect(await store.registration('history', 'load-1')).toEqual({
      exportName: 'history',
      batch: 1,
      outcome: 'committed',
      detail: '{"rowsLoaded":1}',
    });
    expect(await store.registration('history', 'load-3')).toMatchObject({
      outcome: 'rejected',
      detail: 'BigQuery refused gs://b/3',
    });
    expect(await store.join(window(1), limits, 0, true)).toMatchObject({ batch: 1, earlier: 'committed' });
    // Done without a word on load-2 (part of its state lost): it is failed, so its job joins a new batch.
    expect(await store.registration('history', 'load-2')).toMatchObject({ outcome: 'failed' });
    // A re-run of its upload reads the same outcome: no batch job is added again for a batch that is done.
    expect(await store.join(window(2), limits, 0, true)).toMatchObject({ batch: 1, earlier: 'failed' });
    await store.forget('load-2');
    expect(await store.registration('history', 'load-2')).toBeNull();
    expect(await store.join(window(2), limits, 0, true)).toMatchObject({ batch: 2, earlier: null });
  });

  it('a batch that failed for good fails the windows it did not commit', async () => {
    await store.join(window(1), limits, 0, false);
    await store.failed('history', 1, JSON.stringify({ message: 'the MERGE failed', final: true }));
    expect(await store.registration('history', 'load-1')).toMatchObject({
      outcome: 'failed',
      detail: JSON.stringify({ message: 'the MERGE failed', final: true }),
    });
  });
});
