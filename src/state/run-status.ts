import type { Redis } from 'ioredis';
import type { StateKeys } from './keys.ts';

// What the status page, `lsa status` and /metrics show per instance × export: the last window's outcome.
// Error messages stored here are the pipeline's own (they never contain secrets, see config/secrets.ts).

export interface ExportRunStatus {
  lastRunAt: string | null;
  lastRows: number | null;
  lastLoadedAt: string | null;
  lastError: string | null;
  rowsExtracted: number;
  rowsLoaded: number;
}

export class RunStatusStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: StateKeys,
  ) {}

  async recordExtract(instanceId: string, exportName: string, rows: number): Promise<void> {
    await this.redis
      .multi()
      .hset(this.keys.runs(instanceId), {
        [`${exportName}.lastRunAt`]: new Date().toISOString(),
        [`${exportName}.lastRows`]: String(rows),
      })
      .hincrby(this.keys.counters(), `extracted|${instanceId}|${exportName}`, rows)
      .exec();
  }

  async recordLoad(instanceId: string, exportName: string, rows: number): Promise<void> {
    await this.redis
      .multi()
      .hset(this.keys.runs(instanceId), { [`${exportName}.lastLoadedAt`]: new Date().toISOString() })
      .hdel(this.keys.runs(instanceId), `${exportName}.lastError`)
      .hincrby(this.keys.counters(), `loaded|${instanceId}|${exportName}`, rows)
      .exec();
  }

  async recordError(instanceId: string, exportName: string, message: string): Promise<void> {
    await this.redis.hset(this.keys.runs(instanceId), `${exportName}.lastError`, message.slice(0, 2000));
  }

  async get(instanceId: string, exportName: string): Promise<ExportRunStatus> {
    const [lastRunAt, lastRows, lastLoadedAt, lastError] = await this.redis.hmget(
      this.keys.runs(instanceId),
      `${exportName}.lastRunAt`,
      `${exportName}.lastRows`,
      `${exportName}.lastLoadedAt`,
      `${exportName}.lastError`,
    );
    const [extracted, loaded] = await this.redis.hmget(
      this.keys.counters(),
      `extracted|${instanceId}|${exportName}`,
      `loaded|${instanceId}|${exportName}`,
    );
    return {
      lastRunAt: lastRunAt ?? null,
      lastRows: lastRows === null ? null : Number(lastRows),
      lastLoadedAt: lastLoadedAt ?? null,
      lastError: lastError ?? null,
      rowsExtracted: Number(extracted ?? 0),
      rowsLoaded: Number(loaded ?? 0),
    };
  }
}
