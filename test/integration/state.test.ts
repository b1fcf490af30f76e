import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiCallStore } from '../../src/state/api-calls.ts';
import { ExportStateStore } from '../../src/state/export-state.ts';
import { StateKeys } from '../../src/state/keys.ts';
import { PlanLocks } from '../../src/state/plan-lock.ts';
import { QueryLeases } from '../../src/state/query-lease.ts';
import { RunStatusStore } from '../../src/state/run-status.ts';
import { CompletedJobFigures, StageMetrics } from '../../src/state/stage-metrics.ts';
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
    await state.commitWindow('a', 'history', 'w1000', { stagedOpenRows: false });
    expect((await state.get('a', 'history')).initialLoad).toBe(true);
    await state.commitWindow('a', 'history', 'w2000', { stagedOpenRows: false });
    await state.commitWindow('a', 'history', 'w3000', { stagedOpenRows: false });
    const after = await state.get('a', 'history');
    expect(after).toEqual({ initialLoad: false, watermark: new Date(4000).toISOString(), pendingWindows: 0 });
  });

  it('never lets the watermark jump over a window that has not committed', async () => {
    await state.plan('b', 'history', windows([1000, 2000, 3000]), 4000);
    // the last window commits first: the watermark may only reach the start of the earliest pending one
    expect(await state.commitWindow('b', 'history', 'w3000', { stagedOpenRows: false })).toEqual({
      moved: true,
      openRowsDropped: 0,
      watermark: new Date(1000).toISOString(),
    });
    expect(await state.commitWindow('b', 'history', 'w2000', { stagedOpenRows: false })).toEqual({
      moved: false,
      openRowsDropped: 0,
      watermark: new Date(1000).toISOString(),
    });
    expect(await state.commitWindow('b', 'history', 'w1000', { stagedOpenRows: false })).toEqual({
      moved: true,
      openRowsDropped: 0,
      watermark: new Date(4000).toISOString(),
    });
  });

  it('ignores a replayed or late commit and never moves the watermark backwards', async () => {
    await state.plan('c', 'history', windows([1000]), 5000);
    await state.commitWindow('c', 'history', 'w1000', { stagedOpenRows: false });
    // a replay of the same window changes nothing
    expect(await state.commitWindow('c', 'history', 'w1000', { stagedOpenRows: false })).toEqual({
      moved: false,
      openRowsDropped: 0,
      watermark: new Date(5000).toISOString(),
    });
    // a new plan with a look-back starts before the watermark: committing its first window does not move it back
    await state.plan('c', 'history', windows([4000, 6000]), 7000);
    expect(await state.commitWindow('c', 'history', 'w6000', { stagedOpenRows: false })).toEqual({
      moved: false,
      openRowsDropped: 0,
      watermark: new Date(5000).toISOString(),
    });
    expect(await state.commitWindow('c', 'history', 'w4000', { stagedOpenRows: false })).toEqual({
      moved: true,
      openRowsDropped: 0,
      watermark: new Date(7000).toISOString(),
    });
  });

  it('resets to initial load', async () => {
    await state.plan('d', 'user', windows([1]), 10);
    await state.commitWindow('d', 'user', 'w1', { stagedOpenRows: false });
    await state.reset('d', 'user');
    expect(await state.get('d', 'user')).toEqual({ initialLoad: true, watermark: null, pendingWindows: 0 });
  });
});

describe('query leases', () => {
  it('grants at most the limit, frees a released slot, and expires the lease of a dead holder', async () => {
    const leases = new QueryLeases(redis, keys, 300);
    const a = (await leases.acquire('looker-1', 2)).lease;
    const b = (await leases.acquire('looker-1', 2)).lease;
    expect(a && b).toBeTruthy();
    expect(await leases.acquire('looker-1', 2)).toEqual({ lease: null, coolDownUntilMs: null });
    // another instance has its own slots
    expect((await leases.acquire('looker-2', 2)).lease).not.toBeNull();
    await a!.release();
    const c = (await leases.acquire('looker-1', 2)).lease;
    expect(c).not.toBeNull();
    // b's holder "dies" (stops renewing) while c's keeps renewing: after the TTL only b's slot is free again
    await new Promise((r) => setTimeout(r, 200));
    expect(await c!.renew()).toBe(true);
    await new Promise((r) => setTimeout(r, 150));
    expect((await leases.acquire('looker-1', 2)).lease).not.toBeNull();
    expect((await leases.acquire('looker-1', 2)).lease).toBeNull();
  });

  it("a Looker 429's cool-down takes every slot of its instance until it ends, and only ever extends", async () => {
    const leases = new QueryLeases(redis, keys, 60_000);
    const running = (await leases.acquire('hot', 3)).lease;
    expect(running).not.toBeNull();
    const until = Date.now() + 400;
    await leases.coolDown('hot', until, 3);
    await leases.coolDown('hot', until - 200, 3); // an earlier end never shortens it
    expect(await leases.acquire('hot', 3)).toEqual({ lease: null, coolDownUntilMs: until });
    expect(await leases.coolDownUntil('hot')).toBe(until);
    // a running query's release frees no slot while the cool-down lasts; other instances are not held back
    await running!.release();
    expect(await leases.acquire('hot', 3)).toEqual({ lease: null, coolDownUntilMs: until });
    expect((await leases.acquire('cold', 3)).lease).not.toBeNull();
    await new Promise((r) => setTimeout(r, until - Date.now() + 10));
    expect(await leases.coolDownUntil('hot')).toBeNull();
    for (let i = 0; i < 3; i++) expect((await leases.acquire('hot', 3)).lease).not.toBeNull();
    expect((await leases.acquire('hot', 3)).lease).toBeNull();
  });

  it('re-reads open rows until a committed window has seen them final, however old', async () => {
    // window [1000, 5000) found keys 7 and 9 still open (a running query, a job in progress)
    await state.plan('o', 'history', windows([1000]), 5000);
    await state.stageOpenRows('o', 'history', 'w1000', {
      from: 1000,
      to: 5000,
      open: [
        { key: 7, cursorMs: 1500 },
        { key: 9, cursorMs: 4000 },
      ],
    });
    // nothing applies before the window commits: the load may still fail
    expect(await state.openRowKeys('o', 'history', null, 10)).toEqual([]);
    await state.commitWindow('o', 'history', 'w1000', { stagedOpenRows: true });
    expect(await state.openRowKeys('o', 'history', null, 10)).toEqual([7, 9]);
    expect(await state.openRowKeys('o', 'history', 4000, 10)).toEqual([7]);
    // a later reopen window read 7 and 9 again: 9 is final now, 7 still running
    await state.plan('o', 'history', windows([9000]), 9000);
    await state.stageOpenRows('o', 'history', 'w9000', { keys: [7, 9], open: [{ key: 7, cursorMs: 1500 }] });
    await state.commitWindow('o', 'history', 'w9000', { stagedOpenRows: true });
    expect(await state.openRowKeys('o', 'history', null, 10)).toEqual([7]);
    // a range window that re-reads [1000, 2000) and sees 7 final removes it; a replayed commit changes nothing
    await state.plan('o', 'history', windows([1000]), 9000);
    await state.stageOpenRows('o', 'history', 'w1000', { from: 1000, to: 2000, open: [] });
    await state.commitWindow('o', 'history', 'w1000', { stagedOpenRows: true });
    expect(await state.openRowCount('o', 'history')).toBe(0);
    await state.stageOpenRows('o', 'history', 'w1000', { from: 0, to: 1, open: [{ key: 3, cursorMs: 0 }] });
    await state.commitWindow('o', 'history', 'w1000', { stagedOpenRows: true });
    expect(await state.openRowCount('o', 'history')).toBe(0);
  });
});

describe('plan locks', () => {
  it("lets one fan-out plan an instance's exports at a time, and only the holder release the lock", async () => {
    const locks = new PlanLocks(redis, keys, 200);
    const first = await locks.acquire('l');
    expect(first).not.toBeNull();
    expect(await locks.acquire('l')).toBeNull();
    expect(await locks.acquire('other')).not.toBeNull();
    // the first holder stalls past the lock's life; a second fan-out takes it; the first's late release
    // must not free the second's lock
    await redis.pexpire(keys.planLock('l'), 1);
    await new Promise((r) => setTimeout(r, 20));
    const second = await locks.acquire('l');
    expect(second).not.toBeNull();
    await first!.release();
    expect(await locks.acquire('l')).toBeNull();
    await second!.release();
    expect(await locks.acquire('l')).not.toBeNull();
  });
});

describe('run status', () => {
  it('adds up extracted, quarantined and loaded rows, keeps the last window, and clears errors on success', async () => {
    const status = new RunStatusStore(redis, keys);
    expect(await status.get('s', 'history')).toEqual({
      lastRunAt: null,
      lastRows: null,
      lastLoadedAt: null,
      lastError: null,
      rowsExtracted: 0,
      rowsQuarantined: 0,
      rowsLoaded: 0,
    });
    await status.recordUnreachable('s', 'connect ECONNREFUSED 127.0.0.1:1');
    await status.recordError('s', 'history', 'the load failed');
    await status.recordExtract('s', 'history', 10, 2);
    await status.recordExtract('s', 'history', 5);
    await status.recordExtract('s', 'user', 7);
    const extracted = await status.get('s', 'history');
    expect(extracted).toMatchObject({ lastRows: 5, rowsExtracted: 15, rowsQuarantined: 2, rowsLoaded: 0 });
    expect(extracted.lastError).toBe('the load failed');
    expect(Date.parse(extracted.lastRunAt!)).toBeGreaterThan(Date.now() - 60_000);
    // Looker answered, so the instance is reachable again
    expect(await status.reachability('s')).toEqual({ unreachableSince: null, unreachableError: null });
    // Unreachable again: the first failure's time is kept while failures go on, the last message shown
    await status.recordUnreachable('s', 'connect ECONNREFUSED 127.0.0.1:2');
    const since = (await status.reachability('s')).unreachableSince;
    expect(since).not.toBeNull();
    await new Promise((r) => setTimeout(r, 5));
    await status.recordUnreachable('s', 'getaddrinfo ENOTFOUND looker.example');
    expect(await status.reachability('s')).toEqual({
      unreachableSince: since,
      unreachableError: 'getaddrinfo ENOTFOUND looker.example',
    });
    await status.recordExtract('s', 'event', 0);
    expect(await status.reachability('s')).toEqual({ unreachableSince: null, unreachableError: null });
    // A load is recorded by the commit of its window, in the same script, and counted once: a replayed commit
    // (a batch re-run after a crash) and the commit of a window that loaded nothing count no rows.
    await state.plan('s', 'history', windows([1000, 2000]), 3000);
    await state.commitWindow('s', 'history', 'w1000', { loadedRows: 13, stagedOpenRows: false });
    await state.commitWindow('s', 'history', 'w1000', { loadedRows: 13, stagedOpenRows: false });
    const loaded = await status.get('s', 'history');
    expect(loaded).toMatchObject({ lastError: null, rowsLoaded: 13, rowsExtracted: 15 });
    expect(Date.parse(loaded.lastLoadedAt!)).toBeGreaterThan(Date.now() - 60_000);
    await state.commitWindow('s', 'history', 'w2000', { stagedOpenRows: false });
    expect(await status.get('s', 'history')).toMatchObject({
      rowsLoaded: 13,
      lastLoadedAt: loaded.lastLoadedAt,
    });
    expect(await status.get('s', 'user')).toMatchObject({ lastRows: 7, rowsExtracted: 7, rowsLoaded: 0 });
  });
});

describe('stage metrics', () => {
  it("gathers completed jobs' figures in memory and adds them to Redis in one go: on flush, or by itself soon after", async () => {
    const metrics = new StageMetrics(redis, keys);
    const errors: unknown[] = [];
    const figures = new CompletedJobFigures(metrics, 60_000, (error) => errors.push(error));
    figures.record('extract', 1500, { instanceId: 'i', queries: 3 });
    figures.record('extract', 400, { instanceId: 'i', queries: 0 });
    expect((await metrics.read()).durations.extract.count).toBe(0);
    await figures.flush();
    const read = await metrics.read();
    expect(read.durations.extract.count).toBe(2);
    expect(read.durations.extract.sumSeconds).toBeCloseTo(1.9);
    expect(read.durations.extract.buckets.find((b) => b.le === '0.5')!.count).toBe(1);
    expect(read.durations.extract.buckets.find((b) => b.le === '2')!.count).toBe(2);
    expect(read.lookerQueries).toEqual({ i: 3 });
    // A second flush with nothing gathered adds nothing.
    await figures.flush();
    expect((await metrics.read()).durations.extract.count).toBe(2);

    const soon = new CompletedJobFigures(metrics, 50, (error) => errors.push(error));
    soon.record('load', 10);
    const deadline = Date.now() + 10_000;
    while ((await metrics.read()).durations.load.count === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect((await metrics.read()).durations.load.count).toBe(1);
    expect(errors).toEqual([]);
  });
});

describe('Looker query calls', () => {
  it('counts the calls in the process until a flush adds them to their months; calls Redis refused are kept', async () => {
    const calls = new ApiCallStore(redis, keys);
    const key = (month: string) => `${keys.prefix}:api-calls:q:${month}`;
    for (let i = 0; i < 3; i++) calls.tally('q', '2026-11');
    calls.tally('q', '2026-12');
    calls.tally('other', '2026-11');
    expect(await redis.get(key('2026-11'))).toBeNull();
    await calls.flush('q');
    expect((await calls.usage('q', '2026-11')).used).toBe(3);
    expect((await calls.usage('q', '2026-12')).used).toBe(1);
    expect(await redis.ttl(key('2026-11'))).toBeGreaterThan(30 * 86_400);
    expect((await calls.usage('other', '2026-11')).used).toBe(0);
    // Redis refuses the next add (the month's key is not a counter): the calls stay counted here
    calls.tally('q', '2026-11');
    await redis.set(key('2026-11'), 'not a number');
    await expect(calls.flush()).rejects.toThrow();
    await redis.set(key('2026-11'), '3');
    await calls.flush();
    expect((await calls.usage('q', '2026-11')).used).toBe(4);
    expect((await calls.usage('other', '2026-11')).used).toBe(1);
  });
});
