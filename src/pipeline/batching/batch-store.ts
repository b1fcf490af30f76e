import type { Redis } from 'ioredis';
import type { CursorRange, ExtractWindow } from '../../window.ts';

// Load batches in Redis. Per target table a counter names the batch windows currently join; a batch is a hash
// (its state, timing, size, and one field per window); each window's load job has a small hash saying which batch
// holds it and what came of it. Joining and closing are Lua scripts, so a window either joins a batch before it
// closes (and is loaded by it) or finds it closed and opens the next one: never both, never neither.
//
// Per target table, the windows a fan-out planned are "expected" (a sorted set of their load job ids, each with
// the time after which it is no longer waited for): a batch stays open while windows of its table are still
// expected, and runs as soon as the last one joins — one batch per table per cycle when the cycle's extracts
// finish within maxWait — while an empty window, or one whose extract failed, is forgotten or outlived.
//
// Batch states: open (windows may join) → full (maxWindows/maxBytes reached: no more joins, run now) → closed (its
// job took the window list) → done. Window outcomes: pending → committed | rejected (BigQuery refused its rows: it
// is loaded alone) | failed (its batch failed for good: its job retries and joins a new batch).

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

export type WindowOutcome = 'pending' | 'committed' | 'rejected' | 'failed';

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

// KEYS: table counter, batch n, batch n+1, window hash, table's expected windows. ARGV: n, load job id, entry,
// bytes, now, maxWindows, maxBytes, export, TTL (seconds) of the batch and window hashes. Returns {-1} when the
// counter moved since it was read (the caller reads it again), else {batch, windows, bytes, full, earlier}: full
// also when this window was the last one expected. A window registered before (its upload re-run after a crash,
// or its load job woken without an outcome) is not joined again: it gets its batch and outcome back (earlier).
// A window that must join anew (its batch failed for good) is forgotten first.
const JOIN = `
local counter, current, nextBatch, windowKey, expected = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local n, id, entry, bytes, now = tonumber(ARGV[1]), ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
local maxWindows, maxBytes = tonumber(ARGV[6]), tonumber(ARGV[7])
local earlier = redis.call('HMGET', windowKey, 'batch', 'outcome')
if earlier[2] then return {tonumber(earlier[1]), 0, 0, 0, earlier[2]} end
if tonumber(redis.call('GET', counter) or '0') ~= n then return {-1} end
-- Before anything is written: Redis does not undo a script's earlier writes when a later command fails.
local last = redis.call('ZREM', expected, id) == 1 and redis.call('ZCOUNT', expected, now, '+inf') == 0
local batch, key = n, current
if n == 0 or redis.call('HGET', current, 'state') ~= 'open' then
  batch, key = n + 1, nextBatch
  redis.call('SET', counter, tostring(batch))
  redis.call('HSET', key, 'state', 'open', 'openedAt', now, 'windows', 0, 'bytes', 0)
  redis.call('EXPIRE', key, ARGV[9])
end
redis.call('HSET', key, 'w:' .. id, entry, 'lastAt', now)
local windows = redis.call('HINCRBY', key, 'windows', 1)
local total = redis.call('HINCRBY', key, 'bytes', bytes)
local full = 0
if windows >= maxWindows or total >= maxBytes or last then
  redis.call('HSET', key, 'state', 'full')
  full = 1
end
redis.call('HSET', windowKey, 'export', ARGV[8], 'batch', tostring(batch), 'outcome', 'pending')
redis.call('EXPIRE', windowKey, ARGV[9])
return {batch, windows, total, full, ''}
`;

// KEYS: batch, table's expected windows. ARGV: now, maxWait, quiet. Returns {'wait', until} while an open batch
// may still grow, else {'closed', field, value, …} with every field of the batch (it is closed from now on). While
// windows are expected, the batch does not close for being quiet: it looks again every quiet interval (an empty
// window leaves the expected set without joining), and closes at maxWait at the latest.
const CLOSE = `
local batch, expected = KEYS[1], KEYS[2]
local now, maxWait, quiet = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local state = redis.call('HGET', batch, 'state')
if state == 'open' then
  local deadline = tonumber(redis.call('HGET', batch, 'openedAt')) + maxWait
  local closeAt = math.min(deadline, tonumber(redis.call('HGET', batch, 'lastAt')) + quiet)
  redis.call('ZREMRANGEBYSCORE', expected, '-inf', '(' .. now)
  if now < deadline and redis.call('ZCARD', expected) > 0 then closeAt = math.min(deadline, now + quiet) end
  if now < closeAt then return {'wait', tostring(closeAt)} end
end
if state == 'open' or state == 'full' then redis.call('HSET', batch, 'state', 'closed') end
local all = redis.call('HGETALL', batch)
table.insert(all, 1, 'closed')
return all
`;

// KEYS: window hash. ARGV: export, batch, outcome, detail. Sets the outcome only if the window is still pending
// in that batch (a window that moved on is not touched).
const SETTLE = `
local w = redis.call('HMGET', KEYS[1], 'outcome', 'batch', 'export')
if w[1] ~= 'pending' or w[2] ~= ARGV[2] or w[3] ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'outcome', ARGV[3], 'detail', ARGV[4])
return 1
`;

/** Batches live a week after they opened, window outcomes a week after they joined, like completed jobs. */
const TTL_SECONDS = 7 * 86_400;

type Scripts = {
  lsaBatchJoin(...args: string[]): Promise<(number | string)[]>;
  lsaBatchClose(...args: string[]): Promise<string[]>;
  lsaBatchSettle(...args: string[]): Promise<number>;
};

export class BatchStore {
  /** The batch number each table's windows last joined here: the join script checks it, so it is only a guess. */
  private readonly lastBatch = new Map<string, number>();

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {
    redis.defineCommand('lsaBatchJoin', { numberOfKeys: 5, lua: JOIN });
    redis.defineCommand('lsaBatchClose', { numberOfKeys: 2, lua: CLOSE });
    redis.defineCommand('lsaBatchSettle', { numberOfKeys: 1, lua: SETTLE });
  }

  private get scripts(): Scripts {
    return this.redis as unknown as Scripts;
  }

  /** The number of the batch windows of this table join now (0 before the first). */
  private counterKey(exportName: string): string {
    return `${this.prefix}:batch:${exportName}`;
  }

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

  async join(window: BatchWindow, limits: BatchLimits, nowMs: number): Promise<Joined> {
    const counter = this.counterKey(window.exportName);
    // Most windows join the batch the previous one joined: start from it, and read the counter only when the
    // script says it moved.
    let guess = this.lastBatch.get(window.exportName);
    for (;;) {
      const n = guess ?? Number((await this.redis.get(counter)) ?? 0);
      guess = undefined;
      const result = await this.scripts.lsaBatchJoin(
        counter,
        this.batchKey(window.exportName, n),
        this.batchKey(window.exportName, n + 1),
        this.windowKey(window.loadJobId),
        this.expectedKey(window.exportName),
        String(n),
        window.loadJobId,
        JSON.stringify(window),
        String(window.bytes),
        String(nowMs),
        String(limits.maxWindows),
        String(limits.maxBytes),
        window.exportName,
        String(TTL_SECONDS),
      );
      if (Number(result[0]) === -1) continue; // another window opened a batch in between
      const [batch, windows, bytes, full] = result.slice(0, 4).map(Number) as [
        number,
        number,
        number,
        number,
      ];
      const earlier = String(result[4] ?? '');
      if (earlier === '') this.lastBatch.set(window.exportName, batch);
      return {
        batch,
        windows,
        bytes,
        full: full === 1,
        earlier: earlier === '' ? null : (earlier as WindowOutcome),
      };
    }
  }

  /**
   * Closes the batch when it is due: full (or its last expected window joined), maxWait since it opened, or quiet
   * since the last join with no window of its table still expected.
   */
  async close(exportName: string, batch: number, limits: BatchLimits, nowMs: number): Promise<Closing> {
    const reply = await this.scripts.lsaBatchClose(
      this.batchKey(exportName, batch),
      this.expectedKey(exportName),
      String(nowMs),
      String(limits.maxWaitMs),
      String(limits.quietMs),
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
    await this.redis.hset(
      this.batchKey(exportName, batch),
      Object.fromEntries(windows.map((w) => [`r:${w.loadJobId}`, '1'])),
    );
    for (const window of windows) await this.settle(window, batch, 'rejected', reason);
  }

  async settle(window: BatchWindow, batch: number, outcome: WindowOutcome, detail: string): Promise<boolean> {
    const set = await this.scripts.lsaBatchSettle(
      this.windowKey(window.loadJobId),
      window.exportName,
      String(batch),
      outcome,
      detail.slice(0, 4000),
    );
    return set === 1;
  }

  async markBatch(exportName: string, batch: number, state: 'done' | 'failed'): Promise<void> {
    await this.redis.hset(this.batchKey(exportName, batch), 'state', state);
  }

  async registration(loadJobId: string): Promise<WindowRegistration | null> {
    const [exportName, batch, outcome, detail] = await this.redis.hmget(
      this.windowKey(loadJobId),
      'export',
      'batch',
      'outcome',
      'detail',
    );
    if (!exportName || !batch || !outcome) return null;
    return {
      exportName,
      batch: Number(batch),
      outcome: outcome as WindowOutcome,
      detail: detail ?? undefined,
    };
  }

  /** Forgets the window's registration, so its next attempt joins a new batch. */
  async forget(loadJobId: string): Promise<void> {
    await this.redis.del(this.windowKey(loadJobId));
  }
}
