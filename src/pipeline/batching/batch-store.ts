import type { Redis } from 'ioredis';
import type { CursorRange, ExtractWindow } from '../../window.ts';
import type { WindowOutcome } from '../catalog.ts';

// Load batches in Redis. Per target table a counter names the batch windows currently join; a batch is a hash
// (its state, timing, size, one field per window, and once it ran, what came of its windows); each window's load
// job has a small key saying which batch holds it. Joining and closing are Lua scripts, so a window either joins a
// batch before it closes (and is loaded by it) or finds it closed and opens the next one: never both, never neither.
//
// Per target table, the windows a fan-out planned are "expected" (a sorted set of their load job ids, each with
// the time after which it is no longer waited for): a batch stays open while windows of its table are still
// expected, and runs as soon as the last one joins — one batch per table per cycle when the cycle's extracts
// finish within maxWait — while an empty window, or one whose extract failed, is forgotten or outlived.
//
// Batch states: open (windows may join) → full (maxWindows/maxBytes reached: no more joins, run now) → closed (its
// job took the window list) → done | failed. A window's outcome is read from its batch: committed (an `o:` field
// with its load outcome, all written with `done` in one command), rejected (an `r:` field: BigQuery refused its
// rows, it is loaded alone), failed (the batch failed for good, `failure` says why: its job retries and joins a new
// batch), else pending. Nothing is written per window when a batch settles: at 5,000 windows a cycle, a write per
// window was three Redis commands each.

/** What a batch needs to know of a window, recorded when the window joins. */
export interface BatchWindow {
  loadJobId: string;
  instanceId: string;
  exportName: string;
  plan: number;
  /** Set for a window of a backfill: it commits to the backfill, not to the plan. */
  backfill?: number;
  window: ExtractWindow;
  sourceUri: string;
  bytes: number;
  rows: number;
  extractedAt?: string;
  /** Of `rows`, quarantined lines (from the window's manifest). */
  quarantined?: number;
  /** The cursor range of the window's good rows (from its manifest): bounds the partitions its MERGE reads. */
  cursorRange?: CursorRange | null;
  /** How long its extract and upload took, for its `_lsa_runs` row. */
  extractMs?: number;
  uploadMs?: number;
}

export interface WindowRegistration {
  exportName: string;
  batch: number;
  outcome: WindowOutcome;
  /** committed: the window's load outcome (JSON); rejected/failed: why. */
  detail: string | undefined;
}

export interface Joined {
  batch: number;
  windows: number;
  bytes: number;
  /** The batch reached maxWindows or maxBytes with this window: run it now. */
  full: boolean;
  /** The window was registered before and did not join again: its outcome then. */
  earlier: WindowOutcome | null;
}

export interface BatchLimits {
  maxWaitMs: number;
  quietMs: number;
  maxWindows: number;
  maxBytes: number;
}

export type Closing =
  | { kind: 'wait'; untilMs: number }
  | { kind: 'closed'; windows: BatchWindow[]; rejected: Set<string> };

// KEYS: table counter, window key, table's expected windows. ARGV: load job id, entry, bytes, now, maxWindows,
// maxBytes, TTL (seconds) of the batch and window keys, '1' to look for an earlier registration. Returns {batch,
// windows, bytes, full, ''}: full also when this window was the last one expected. The counter names the
// batch windows join: a batch is open exactly while the counter names it (whoever fills or closes it moves the
// counter on), so a join needs no look at the batch's state, and the window that finds it empty opens it.
// Batch keys are the counter's key and the batch number (BatchStore.batchKey). A window registered before (its
// upload run again after a crash; only a re-run looks) is not joined again: it gets its batch back, with
// 'earlier' in place of '' (BatchStore.join then reads what came of it there). A window that must join anew (its
// batch failed for good) is forgotten first.
const JOIN = `
local counter, windowKey, expected = KEYS[1], KEYS[2], KEYS[3]
local id, entry, bytes, now = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local maxWindows, maxBytes, ttl = tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7]
if ARGV[8] == '1' then
  local earlier = redis.call('GET', windowKey)
  if earlier then return {tonumber(earlier), 0, 0, 0, 'earlier'} end
end
-- Before anything is written: Redis does not undo a script's earlier writes when a later command fails.
local last = redis.call('ZREM', expected, id) == 1 and redis.call('ZCOUNT', expected, now, '+inf') == 0
local batch = tonumber(redis.call('GET', counter) or '0')
if batch == 0 then
  batch = 1
  redis.call('SET', counter, '1')
end
local key = counter .. ':' .. batch
local windows = redis.call('HINCRBY', key, 'windows', 1)
local total = redis.call('HINCRBY', key, 'bytes', bytes)
local full = 0
if windows >= maxWindows or total >= maxBytes or last then
  full = 1
  redis.call('SET', counter, tostring(batch + 1))
end
local fields = {'w:' .. id, entry, 'lastAt', now}
if windows == 1 then
  table.insert(fields, 'openedAt')
  table.insert(fields, now)
end
table.insert(fields, 'state')
table.insert(fields, full == 1 and 'full' or 'open')
redis.call('HSET', key, unpack(fields))
if windows == 1 then redis.call('EXPIRE', key, ttl) end
redis.call('SET', windowKey, tostring(batch), 'EX', ttl)
return {batch, windows, total, full, ''}
`;

// KEYS: batch, table's expected windows, table counter. ARGV: now, maxWait, quiet, the batch's number. Returns
// {'wait', until} while an open batch may still grow, else {'closed', field, value, …} with every field of the
// batch (it is closed from now on, and the counter names the next one). While windows are expected, the batch
// does not close for being quiet: it looks again every quiet interval (an empty window leaves the expected set
// without joining), and closes at maxWait at the latest.
const CLOSE = `
local batch, expected, counter = KEYS[1], KEYS[2], KEYS[3]
local now, maxWait, quiet, n = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local state = redis.call('HGET', batch, 'state')
if state == 'open' then
  local deadline = tonumber(redis.call('HGET', batch, 'openedAt')) + maxWait
  local closeAt = math.min(deadline, tonumber(redis.call('HGET', batch, 'lastAt')) + quiet)
  redis.call('ZREMRANGEBYSCORE', expected, '-inf', '(' .. now)
  if now < deadline and redis.call('ZCARD', expected) > 0 then closeAt = math.min(deadline, now + quiet) end
  if now < closeAt then return {'wait', tostring(closeAt)} end
  if redis.call('GET', counter) == n then redis.call('SET', counter, tostring(tonumber(n) + 1)) end
end
if state == 'open' or state == 'full' then redis.call('HSET', batch, 'state', 'closed') end
local all = redis.call('HGETALL', batch)
table.insert(all, 1, 'closed')
return all
`;

/** Batches live a week after they opened, windows' registrations a week after they joined, like completed jobs. */
const TTL_SECONDS = 7 * 86_400;

type Scripts = {
  lsaBatchJoin(...args: string[]): Promise<(number | string)[]>;
  lsaBatchClose(...args: string[]): Promise<string[]>;
};

export class BatchStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {
    redis.defineCommand('lsaBatchJoin', { numberOfKeys: 3, lua: JOIN });
    redis.defineCommand('lsaBatchClose', { numberOfKeys: 3, lua: CLOSE });
  }

  private get scripts(): Scripts {
    return this.redis as unknown as Scripts;
  }

  /** The number of the batch windows of this table join now (0 before the first). */
  private counterKey(exportName: string): string {
    return `${this.prefix}:batch:${exportName}`;
  }

  /** The counter's key and the batch number: the join script builds it so from the counter. */
  batchKey(exportName: string, batch: number): string {
    return `${this.prefix}:batch:${exportName}:${batch}`;
  }

  windowKey(loadJobId: string): string {
    return `${this.prefix}:batch-window:${loadJobId}`;
  }

  /** The table's expected windows: load job ids scored by when they stop being waited for (epoch ms). */
  private expectedKey(exportName: string): string {
    return `${this.prefix}:batch-expected:${exportName}`;
  }

  /** Windows a fan-out planned: their table's open batch waits for them until `untilMs`. */
  async expect(exportName: string, loadJobIds: string[], untilMs: number): Promise<void> {
    if (loadJobIds.length === 0) return;
    await this.redis.zadd(this.expectedKey(exportName), ...loadJobIds.flatMap((id) => [untilMs, id]));
  }

  /** A planned window that will never join (its extract found no rows): its table's batch stops waiting for it. */
  async unexpect(exportName: string, loadJobId: string): Promise<void> {
    await this.redis.zrem(this.expectedKey(exportName), loadJobId);
  }

  /** Joins the window to its table's open batch; `rerun` (its upload ran before) first looks for an earlier join. */
  async join(window: BatchWindow, limits: BatchLimits, nowMs: number, rerun: boolean): Promise<Joined> {
    const result = await this.scripts.lsaBatchJoin(
      this.counterKey(window.exportName),
      this.windowKey(window.loadJobId),
      this.expectedKey(window.exportName),
      window.loadJobId,
      JSON.stringify(window),
      String(window.bytes),
      String(nowMs),
      String(limits.maxWindows),
      String(limits.maxBytes),
      String(TTL_SECONDS),
      rerun ? '1' : '',
    );
    const [batch, windows, bytes, full] = result.slice(0, 4).map(Number) as [number, number, number, number];
    const earlier =
      result[4] === 'earlier'
        ? (await this.outcomeIn(window.exportName, batch, window.loadJobId)).outcome
        : null;
    return { batch, windows, bytes, full: full === 1, earlier };
  }

  /**
   * Closes the batch when it is due: full (or its last expected window joined), maxWait since it opened, or quiet
   * since the last join with no window of its table still expected.
   */
  async close(exportName: string, batch: number, limits: BatchLimits, nowMs: number): Promise<Closing> {
    const reply = await this.scripts.lsaBatchClose(
      this.batchKey(exportName, batch),
      this.expectedKey(exportName),
      this.counterKey(exportName),
      String(nowMs),
      String(limits.maxWaitMs),
      String(limits.quietMs),
      String(batch),
    );
    if (reply[0] === 'wait') return { kind: 'wait', untilMs: Number(reply[1]) };
    const windows: BatchWindow[] = [];
    const rejected = new Set<string>();
    for (let i = 1; i < reply.length; i += 2) {
      const field = reply[i]!;
      if (field.startsWith('w:')) windows.push(JSON.parse(reply[i + 1]!) as BatchWindow);
      if (field.startsWith('r:')) rejected.add(field.slice(2));
    }
    return { kind: 'closed', windows, rejected };
  }

  /** Takes windows out of the batch (their rows were refused); a replay of the batch leaves them out too. */
  async reject(exportName: string, batch: number, windows: BatchWindow[], reason: string): Promise<void> {
    if (windows.length === 0) return;
    const detail = reason.slice(0, 4000);
    await this.redis.hset(
      this.batchKey(exportName, batch),
      Object.fromEntries(windows.map((w) => [`r:${w.loadJobId}`, detail])),
    );
  }

  /** The batch committed these windows (load job id → its load outcome, JSON): one command for all of them. */
  async done(exportName: string, batch: number, committed: ReadonlyMap<string, string>): Promise<void> {
    await this.redis.hset(this.batchKey(exportName, batch), {
      state: 'done',
      ...Object.fromEntries([...committed].map(([id, outcome]) => [`o:${id}`, outcome])),
    });
  }

  /** The batch failed for good: its windows that are neither committed nor rejected fail with it. */
  async failed(exportName: string, batch: number, failure: string): Promise<void> {
    await this.redis.hset(this.batchKey(exportName, batch), {
      state: 'failed',
      failure: failure.slice(0, 4000),
    });
  }

  /** Which batch holds the window, and what came of it there; null when it is in none. */
  async registration(exportName: string, loadJobId: string): Promise<WindowRegistration | null> {
    const batchText = await this.redis.get(this.windowKey(loadJobId));
    if (batchText === null) return null;
    const batch = Number(batchText);
    return { exportName, batch, ...(await this.outcomeIn(exportName, batch, loadJobId)) };
  }

  /** What came of the window in the batch that holds it, from the batch's fields. */
  private async outcomeIn(
    exportName: string,
    batch: number,
    loadJobId: string,
  ): Promise<Pick<WindowRegistration, 'outcome' | 'detail'>> {
    const [state, committed, rejected, failure] = await this.redis.hmget(
      this.batchKey(exportName, batch),
      'state',
      `o:${loadJobId}`,
      `r:${loadJobId}`,
      'failure',
    );
    return committed !== null
      ? { outcome: 'committed', detail: committed }
      : rejected !== null
        ? { outcome: 'rejected', detail: rejected }
        : state === 'failed'
          ? { outcome: 'failed', detail: failure ?? undefined }
          : state === 'done'
            ? // Done without a word on this window (its state in Redis was lost in part): it joins a new batch.
              {
                outcome: 'failed',
                detail: JSON.stringify({ message: 'its batch ended without it', final: false }),
              }
            : { outcome: 'pending', detail: undefined };
  }

  /** Forgets the window's registration, so its next attempt joins a new batch. */
  async forget(loadJobId: string): Promise<void> {
    await this.redis.del(this.windowKey(loadJobId));
  }
}
