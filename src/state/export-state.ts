import type { Redis } from 'ioredis';
import type { StateKeys } from './keys.ts';

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

// KEYS: instance hash, pending set. ARGV: export, window id. Returns {moved (0/1), watermark ms or false}.
const COMMIT_WINDOW = `
local hash, pending = KEYS[1], KEYS[2]
local export, windowId = ARGV[1], ARGV[2]
local field = export .. '.watermark'
if redis.call('ZSCORE', pending, windowId) == false then
  return {0, redis.call('HGET', hash, field) or false}
end
redis.call('ZREM', pending, windowId)
local first = redis.call('ZRANGE', pending, 0, 0, 'WITHSCORES')
local candidate
if first[1] then
  candidate = tonumber(first[2])
else
  candidate = tonumber(redis.call('HGET', hash, export .. '.planEnd'))
  redis.call('HSET', hash, export .. '.initialLoad', 'false')
  redis.call('HDEL', hash, export .. '.planEnd')
end
local current = tonumber(redis.call('HGET', hash, field) or '0')
local moved = 0
if candidate and candidate > current then
  redis.call('HSET', hash, field, tostring(candidate))
  moved = 1
end
return {moved, redis.call('HGET', hash, field) or false}
`;

export class ExportStateStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: StateKeys,
  ) {
    this.redis.defineCommand('lsaCommitWindow', { numberOfKeys: 2, lua: COMMIT_WINDOW });
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
   * Returns the plan's number (it goes into job ids).
   */
  async plan(
    instanceId: string,
    exportName: string,
    windows: PlannedWindow[],
    endMs: number,
  ): Promise<number> {
    const pending = this.keys.pending(instanceId, exportName);
    const hash = this.keys.instance(instanceId);
    const multi = this.redis.multi();
    multi.hincrby(hash, `${exportName}.plan`, 1);
    multi.del(pending);
    if (windows.length > 0) multi.zadd(pending, ...windows.flatMap((w) => [String(w.startMs), w.id]));
    multi.hset(hash, `${exportName}.planEnd`, String(endMs));
    const results = await multi.exec();
    return Number(results![0]![1]);
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
   * Commits one window after its data is in BigQuery (or it had no rows). Returns whether the watermark moved,
   * and the watermark now.
   */
  async commitWindow(
    instanceId: string,
    exportName: string,
    windowId: string,
  ): Promise<{ moved: boolean; watermark: string | null }> {
    const [moved, watermarkMs] = (await (
      this.redis as unknown as {
        lsaCommitWindow(a: string, b: string, c: string, d: string): Promise<[number, string | null]>;
      }
    ).lsaCommitWindow(
      this.keys.instance(instanceId),
      this.keys.pending(instanceId, exportName),
      exportName,
      windowId,
    )) ?? [0, null];
    return {
      moved: moved === 1,
      watermark: watermarkMs ? new Date(Number(watermarkMs)).toISOString() : null,
    };
  }

  /** Back to initial load: flag on, watermark and plan gone. */
  async reset(instanceId: string, exportName: string): Promise<void> {
    await this.redis
      .multi()
      .hset(this.keys.instance(instanceId), `${exportName}.initialLoad`, 'true')
      .hdel(this.keys.instance(instanceId), `${exportName}.watermark`, `${exportName}.planEnd`)
      .del(this.keys.pending(instanceId, exportName))
      .exec();
  }
}
