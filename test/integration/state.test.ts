import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExportStateStore } from '../../src/state/export-state.ts';
import { StateKeys } from '../../src/state/keys.ts';
import { QueryLeases } from '../../src/state/query-lease.ts';
import { connectRedis, uniquePrefix } from '../helpers/redis.ts';

// Export state and query leases against a real Redis.

let redis: Redis;
let keys: StateKeys;
let state: ExportStateStore;

beforeAll(() => {
  redis = connectRedis();
  keys = new StateKeys(uniquePrefix());
  state = new ExportStateStore(redis, keys);
});

afterAll(async () => {
  await redis.quit();
});

const windows = (starts: number[]) => starts.map((s) => ({ id: `w${s}`, startMs: s }));

describe('export state', () => {
  it('keeps the initial-load flag on until the last window of the plan commits', async () => {
    await state.ensure('a', 'history');
    expect(await redis.hget(keys.instance('a'), 'history.initialLoad')).toBe('true');
    await state.plan('a', 'history', windows([1000, 2000, 3000]), 4000);
    await state.commitWindow('a', 'history', 'w1000');
    expect((await state.get('a', 'history')).initialLoad).toBe(true);
    await state.commitWindow('a', 'history', 'w2000');
    await state.commitWindow('a', 'history', 'w3000');
    const after = await state.get('a', 'history');
    expect(after).toEqual({ initialLoad: false, watermark: new Date(4000).toISOString(), pendingWindows: 0 });
  });

  it('never lets the watermark jump over a window that has not committed', async () => {
    await state.plan('b', 'history', windows([1000, 2000, 3000]), 4000);
    // the last window commits first: the watermark may only reach the start of the earliest pending one
    expect(await state.commitWindow('b', 'history', 'w3000')).toEqual({
      moved: true,
      watermark: new Date(1000).toISOString(),
    });
    expect(await state.commitWindow('b', 'history', 'w2000')).toEqual({
      moved: false,
      watermark: new Date(1000).toISOString(),
    });
    expect(await state.commitWindow('b', 'history', 'w1000')).toEqual({
      moved: true,
      watermark: new Date(4000).toISOString(),
    });
  });

  it('ignores a replayed or late commit and never moves the watermark backwards', async () => {
    await state.plan('c', 'history', windows([1000]), 5000);
    await state.commitWindow('c', 'history', 'w1000');
    // a replay of the same window changes nothing
    expect(await state.commitWindow('c', 'history', 'w1000')).toEqual({
      moved: false,
      watermark: new Date(5000).toISOString(),
    });
    // a new plan with a look-back starts before the watermark: committing its first window does not move it back
    await state.plan('c', 'history', windows([4000, 6000]), 7000);
    expect(await state.commitWindow('c', 'history', 'w6000')).toEqual({
      moved: false,
      watermark: new Date(5000).toISOString(),
    });
    expect(await state.commitWindow('c', 'history', 'w4000')).toEqual({
      moved: true,
      watermark: new Date(7000).toISOString(),
    });
  });

  it('resets to initial load', async () => {
    await state.plan('d', 'user', windows([1]), 10);
    await state.commitWindow('d', 'user', 'w1');
    await state.reset('d', 'user');
    expect(await state.get('d', 'user')).toEqual({ initialLoad: true, watermark: null, pendingWindows: 0 });
  });
});

describe('query leases', () => {
  it('grants at most the limit, frees a released slot, and expires the lease of a dead holder', async () => {
    const leases = new QueryLeases(redis, keys, 300);
    const a = await leases.acquire('looker-1', 2);
    const b = await leases.acquire('looker-1', 2);
    expect(a && b).toBeTruthy();
    expect(await leases.acquire('looker-1', 2)).toBeNull();
    // another instance has its own slots
    expect(await leases.acquire('looker-2', 2)).not.toBeNull();
    await a!.release();
    const c = await leases.acquire('looker-1', 2);
    expect(c).not.toBeNull();
    // b's holder "dies" (stops renewing) while c's keeps renewing: after the TTL only b's slot is free again
    await new Promise((r) => setTimeout(r, 200));
    expect(await c!.renew()).toBe(true);
    await new Promise((r) => setTimeout(r, 150));
    expect(await leases.acquire('looker-1', 2)).not.toBeNull();
    expect(await leases.acquire('looker-1', 2)).toBeNull();
  });
});
