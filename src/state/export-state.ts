import type { Redis } from 'ioredis';
import type { StateKeys } from './keys.ts';
import { sendPipeline } from './pipelines.ts';

// The per-instance state of each export: its initial-load flag and its watermark (epoch ms, UTC), plus the windows planned but
// not yet committed. The watermark only ever moves forward, by compare-and-set in one Lua script, and only to
// the start of the earliest window still pending (or the plan's end when none is): a window that commits out of
// order never lets the watermark jump over one that has not, and a late or replayed commit never moves it back.

export interface ExportState {
  initialLoad: boolean;
  watermark: string | null;
  pendingWindows: number;
}

export interface PlannedWindow {
  id: string;
  startMs: number;
}

// KEYS: instance hash, pending set, open-rows set, the window's staged open rows, the instance's run status, the
// counters. ARGV: export, window id, the open-rows bound, instance, now (ISO), rows loaded ('' for a window that
// loaded nothing), '1' when the window staged open rows. Returns {moved (0/1), watermark ms or false, open rows
// dropped over the bound}.
// The staged open rows say what the window covered (a cursor range, or the keys of a reopen window) and which of
// its rows were still open: the covered part of the open set is replaced by them, in the same step as the
// commit, so a row is re-read until a committed window has seen it final.
// Every window commits through this script, so it keeps its own Redis calls few: ZREM's answer is the pending
// check; the run status is one HSET (an empty lastError is no error); the staged rows are looked for only when
// the window staged some; the watermark is read once (with the plan's end and the initial-load flag when that is
// needed) and written with the flag in one HSET. The plan's end stays behind once its last window committed: the
// next plan overwrites it, and the commit that reads it is always one whose window was still pending.
const COMMIT_WINDOW = `
local hash, pending, open, staged, runs, counters = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local export, windowId, maxOpen = ARGV[1], ARGV[2], tonumber(ARGV[3])
local instance, now, loadedRows, stagedRows = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local field = export .. '.watermark'
if redis.call('ZREM', pending, windowId) == 0 then
  return {0, redis.call('HGET', hash, field) or false, 0}
end
if loadedRows ~= '' then
  redis.call('HSET', runs, export .. '.lastLoadedAt', now, export .. '.lastError', '')
  redis.call('HINCRBY', counters, 'loaded|' .. instance .. '|' .. export, loadedRows)
end
local dropped = 0
local stagedText = stagedRows == '1' and redis.call('GET', staged)
if stagedText then
  local s = cjson.decode(stagedText)
  if s.from then redis.call('ZREMRANGEBYSCORE', open, s.from, '(' .. s['to']) end
  if s.keys then for _, k in ipairs(s.keys) do redis.call('ZREM', open, k) end end
  for _, row in ipairs(s.open) do redis.call('ZADD', open, row[2], row[1]) end
  redis.call('DEL', staged)
  local size = redis.call('ZCARD', open)
  if size > maxOpen then
    dropped = size - maxOpen
    redis.call('ZREMRANGEBYRANK', open, 0, dropped - 1)
  end
end
local first = redis.call('ZRANGE', pending, 0, 0, 'WITHSCORES')
local currentText, candidate
local updates = {}
if first[1] then
  candidate = tonumber(first[2])
  currentText = redis.call('HGET', hash, field)
else
  local values = redis.call('HMGET', hash, field, export .. '.planEnd', export .. '.initialLoad')
  currentText, candidate = values[1], tonumber(values[2])
  -- The plan's last window: the initial load is over (written only when it was not already).
  if values[3] ~= 'false' then updates = {export .. '.initialLoad', 'false'} end
end
local current = tonumber(currentText or '0')
local moved = candidate and candidate > current
if moved then
  currentText = tostring(candidate)
  table.insert(updates, field)
  table.insert(updates, currentText)
end
if #updates > 0 then redis.call('HSET', hash, unpack(updates)) end
return {moved and 1 or 0, currentText or false, dropped}
`;

/** At most this many open rows per export are tracked; beyond it the oldest are no longer read again. */
export const MAX_OPEN_ROWS = 50_000;

/** What a window covered, and which of its rows were still open. */
export type OpenRowsCoverage = ({ from: number; to: number } | { keys: number[] }) & {
  open: { key: number; cursorMs: number }[];
};

export class ExportStateStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: StateKeys,
  ) {
    this.redis.defineCommand('lsaCommitWindow', { numberOfKeys: 6, lua: COMMIT_WINDOW });
  }

  /** Marks an export as known: initialLoad=true unless it has loaded before. */
  async ensure(instanceId: string, exportName: string): Promise<void> {
    await this.redis.hsetnx(this.keys.instance(instanceId), `${exportName}.initialLoad`, 'true');
  }

  async get(instanceId: string, exportName: string): Promise<ExportState> {
    const [initialLoad, watermarkMs] = await this.redis.hmget(
      this.keys.instance(instanceId),
      `${exportName}.initialLoad`,
      `${exportName}.watermark`,
    );
    const pendingWindows = await this.redis.zcard(this.keys.pending(instanceId, exportName));
    return {
      initialLoad: initialLoad !== 'false',
      watermark: watermarkMs ? new Date(Number(watermarkMs)).toISOString() : null,
      pendingWindows,
    };
  }

  async watermarkMs(instanceId: string, exportName: string): Promise<number | null> {
    const value = await this.redis.hget(this.keys.instance(instanceId), `${exportName}.watermark`);
    return value ? Number(value) : null;
  }

  async pendingWindowIds(instanceId: string, exportName: string): Promise<string[]> {
    return this.redis.zrange(this.keys.pending(instanceId, exportName), 0, -1);
  }

  /**
   * Records a new plan: its windows become pending, and committing all of them moves the watermark to `endMs`.
   * Returns the plan's number (it goes into job ids). The export has no pending windows (the fan-out looked, and
   * dropped a plan whose jobs were gone, under the instance's plan lock), so nothing is deleted first. One round
   * trip, not a transaction: a fan-out killed half-way leaves a plan number spent, or pending windows without jobs,
   * which the next tick drops and plans again; a commit can only interleave for a window of this plan, which has
   * no job yet.
   */
  async plan(
    instanceId: string,
    exportName: string,
    windows: PlannedWindow[],
    endMs: number,
  ): Promise<number> {
    const pending = this.keys.pending(instanceId, exportName);
    const hash = this.keys.instance(instanceId);
    const pipeline = this.redis.pipeline();
    pipeline.hincrby(hash, `${exportName}.plan`, 1);
    if (windows.length > 0) pipeline.zadd(pending, ...windows.flatMap((w) => [String(w.startMs), w.id]));
    pipeline.hset(hash, `${exportName}.planEnd`, String(endMs));
    const [plan] = await sendPipeline(pipeline);
    return Number(plan);
  }

  /** Whether the window waits in the export's current plan (planned, not committed). */
  async isPending(instanceId: string, exportName: string, windowId: string): Promise<boolean> {
    return (await this.redis.zscore(this.keys.pending(instanceId, exportName), windowId)) !== null;
  }

  /** The number of the export's current plan (0 before the first). */
  async currentPlan(instanceId: string, exportName: string): Promise<number> {
    return Number((await this.redis.hget(this.keys.instance(instanceId), `${exportName}.plan`)) ?? 0);
  }

  /** Drops a plan whose jobs are gone (removed by an operator or by retention) so the next tick plans again. */
  async dropPlan(instanceId: string, exportName: string): Promise<void> {
    await this.redis
      .multi()
      .del(this.keys.pending(instanceId, exportName))
      .hdel(this.keys.instance(instanceId), `${exportName}.planEnd`)
      .exec();
  }

  /**
   * Records, at extract time, what a window covered and which of its rows were still open; the window's commit
   * applies it. Kept 30 days: a window whose load waits for an operator longer than that is extracted again.
   */
  async stageOpenRows(
    instanceId: string,
    exportName: string,
    windowId: string,
    coverage: OpenRowsCoverage,
  ): Promise<void> {
    // Numbers as text: Lua would otherwise print large ones in exponent notation.
    const value = JSON.stringify({
      ...('from' in coverage ? { from: String(coverage.from), to: String(coverage.to) } : {}),
      ...('keys' in coverage ? { keys: coverage.keys.map(String) } : {}),
      open: coverage.open.map((r) => [String(r.key), String(r.cursorMs)]),
    });
    await this.redis.set(
      this.keys.openRowsStaged(instanceId, exportName, windowId),
      value,
      'EX',
      30 * 86_400,
    );
  }

  /** The keys of the oldest open rows whose cursor is before `beforeMs` (all of them when null). */
  async openRowKeys(instanceId: string, exportName: string, beforeMs: number | null, limit: number) {
    const max = beforeMs === null ? '+inf' : `(${beforeMs}`;
    const keys = await this.redis.zrangebyscore(
      this.keys.openRows(instanceId, exportName),
      '-inf',
      max,
      'LIMIT',
      0,
      limit,
    );
    return keys.map(Number);
  }

  async openRowCount(instanceId: string, exportName: string): Promise<number> {
    return this.redis.zcard(this.keys.openRows(instanceId, exportName));
  }

  /**
   * Commits one window after its data is in BigQuery (or it had no rows). Returns whether the watermark moved,
   * the watermark now, and how many open rows fell off the tracked set's bound. With `loadedRows` (a window that
   * was loaded), the same script records the load in the export's run status (last loaded at, last error
   * cleared) and counts its rows — once: only the commit that takes the window out of the pending set counts,
   * so a replayed commit (a batch re-run after a crash) counts nothing.
   */
  async commitWindow(
    instanceId: string,
    exportName: string,
    windowId: string,
    how: {
      /** Rows the window loaded; absent for a window that loaded nothing (no run status to record). */
      loadedRows?: number;
      /** Whether its extract staged open rows (stageOpenRows): only then does the commit look for them. */
      stagedOpenRows: boolean;
    },
  ): Promise<{ moved: boolean; watermark: string | null; openRowsDropped: number }> {
    const [moved, watermarkMs, dropped] = (await (
      this.redis as unknown as {
        lsaCommitWindow(...args: string[]): Promise<[number, string | null, number]>;
      }
    ).lsaCommitWindow(
      this.keys.instance(instanceId),
      this.keys.pending(instanceId, exportName),
      this.keys.openRows(instanceId, exportName),
      this.keys.openRowsStaged(instanceId, exportName, windowId),
      this.keys.runs(instanceId),
      this.keys.counters(),
      exportName,
      windowId,
      String(MAX_OPEN_ROWS),
      instanceId,
      new Date().toISOString(),
      how.loadedRows === undefined ? '' : String(how.loadedRows),
      how.stagedOpenRows ? '1' : '',
    )) ?? [0, null, 0];
    return {
      moved: moved === 1,
      watermark: watermarkMs ? new Date(Number(watermarkMs)).toISOString() : null,
      openRowsDropped: dropped,
    };
  }

  /** Back to initial load: flag on, watermark and plan gone. */
  async reset(instanceId: string, exportName: string): Promise<void> {
    await this.redis
      .multi()
      .hset(this.keys.instance(instanceId), `${exportName}.initialLoad`, 'true')
      .hdel(this.keys.instance(instanceId), `${exportName}.watermark`, `${exportName}.planEnd`)
      .del(this.keys.pending(instanceId, exportName))
      .del(this.keys.openRows(instanceId, exportName))
      .exec();
  }
}
