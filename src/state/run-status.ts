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
  /** Rows put in `_lsa_quarantine` instead of the export's table (they could not be loaded as they were). */
  rowsQuarantined: number;
  rowsLoaded: number;
}

/** Per instance: whether its last extract could not reach Looker at all (connection refused, DNS, reset). */
export interface InstanceReachability {
  unreachableSince: string | null;
  unreachableError: string | null;
}

/** Fields of the per-instance runs hash that concern the instance, not one export (export names are [a-z0-9_]). */
const UNREACHABLE_SINCE = '-instance.unreachableSince';
const UNREACHABLE_ERROR = '-instance.unreachableError';

// Each record is one Lua script (one round trip, one command sent, atomic) instead of a MULTI of four: the run
// status is written for every window, so its commands count at scale (docs/benchmarks.md, fan-out).
// KEYS: runs hash, counters hash. ARGV: export, instance, time, rows, quarantined rows.
const RECORD_EXTRACT = `
local runs, counters = KEYS[1], KEYS[2]
local export, instance, now, rows, quarantined = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
redis.call('HSET', runs, export .. '.lastRunAt', now, export .. '.lastRows', rows)
redis.call('HINCRBY', counters, 'extracted|' .. instance .. '|' .. export, rows)
if quarantined > 0 then
  redis.call('HINCRBY', counters, 'quarantined|' .. instance .. '|' .. export, quarantined)
end
-- Looker answered: the instance is reachable again.
redis.call('HDEL', runs, '${UNREACHABLE_SINCE}', '${UNREACHABLE_ERROR}')
`;

// KEYS: runs hash, counters hash. ARGV: export, instance, time, rows loaded.

type RecordScript = (runs: string, counters: string, ...args: string[]) => Promise<unknown>;

export class RunStatusStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: StateKeys,
  ) {
    this.redis.defineCommand('lsaRecordExtract', { numberOfKeys: 2, lua: RECORD_EXTRACT });
  }

  private script(name: 'lsaRecordExtract'): RecordScript {
    const command = (this.redis as unknown as Record<string, RecordScript>)[name]!;
    return command.bind(this.redis);
  }

  async recordExtract(instanceId: string, exportName: string, rows: number, quarantined = 0): Promise<void> {
    await this.script('lsaRecordExtract')(
      this.keys.runs(instanceId),
      this.keys.counters(),
      exportName,
      instanceId,
      new Date().toISOString(),
      String(rows),
      String(quarantined),
    );
  }

  /** An extract could not connect to the instance; the first such failure's time is kept until one succeeds. */
  async recordUnreachable(instanceId: string, message: string): Promise<void> {
    await this.redis
      .multi()
      .hsetnx(this.keys.runs(instanceId), UNREACHABLE_SINCE, new Date().toISOString())
      .hset(this.keys.runs(instanceId), UNREACHABLE_ERROR, message.slice(0, 500))
      .exec();
  }

  async reachability(instanceId: string): Promise<InstanceReachability> {
    const [since, error] = await this.redis.hmget(
      this.keys.runs(instanceId),
      UNREACHABLE_SINCE,
      UNREACHABLE_ERROR,
    );
    return { unreachableSince: since ?? null, unreachableError: error ?? null };
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
    const [extracted, loaded, quarantined] = await this.redis.hmget(
      this.keys.counters(),
      `extracted|${instanceId}|${exportName}`,
      `loaded|${instanceId}|${exportName}`,
      `quarantined|${instanceId}|${exportName}`,
    );
    return {
      lastRunAt: lastRunAt ?? null,
      lastRows: lastRows === null ? null : Number(lastRows),
      lastLoadedAt: lastLoadedAt ?? null,
      lastError: lastError ?? null,
      rowsExtracted: Number(extracted ?? 0),
      rowsQuarantined: Number(quarantined ?? 0),
      rowsLoaded: Number(loaded ?? 0),
    };
  }
}
