import type { Redis } from 'ioredis';
import type { StateKeys } from './keys.ts';
import { sendPipeline } from './pipelines.ts';

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

// Recorded for every window, so its commands count at scale (docs/benchmarks.md, fan-out): an extract's record is
// one HSET and one HINCRBY sent together, no script — the two need not change at the same instant. An empty field
// is an absent one: the HSET that records a good extract also says the instance is reachable again, instead of
// a separate HDEL.

// KEYS: runs hash. ARGV: time, message. The first failure's time is kept until an extract succeeds.
const RECORD_UNREACHABLE = `
if (redis.call('HGET', KEYS[1], '${UNREACHABLE_SINCE}') or '') == '' then
  redis.call('HSET', KEYS[1], '${UNREACHABLE_SINCE}', ARGV[1])
end
redis.call('HSET', KEYS[1], '${UNREACHABLE_ERROR}', ARGV[2])
`;

export class RunStatusStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: StateKeys,
  ) {
    this.redis.defineCommand('lsaRecordUnreachable', { numberOfKeys: 1, lua: RECORD_UNREACHABLE });
  }

  async recordExtract(instanceId: string, exportName: string, rows: number, quarantined = 0): Promise<void> {
    const counters = this.keys.counters();
    const pipeline = this.redis
      .pipeline()
      // Looker answered: the instance is reachable again.
      .hset(this.keys.runs(instanceId), {
        [`${exportName}.lastRunAt`]: new Date().toISOString(),
        [`${exportName}.lastRows`]: String(rows),
        [UNREACHABLE_SINCE]: '',
        [UNREACHABLE_ERROR]: '',
      })
      .hincrby(counters, `extracted|${instanceId}|${exportName}`, rows);
    if (quarantined > 0) pipeline.hincrby(counters, `quarantined|${instanceId}|${exportName}`, quarantined);
    await sendPipeline(pipeline);
  }

  /** An extract could not connect to the instance; the first such failure's time is kept until one succeeds. */
  async recordUnreachable(instanceId: string, message: string): Promise<void> {
    await (
      this.redis as unknown as { lsaRecordUnreachable(...args: string[]): Promise<unknown> }
    ).lsaRecordUnreachable(this.keys.runs(instanceId), new Date().toISOString(), message.slice(0, 500));
  }

  async reachability(instanceId: string): Promise<InstanceReachability> {
    const [since, error] = await this.redis.hmget(
      this.keys.runs(instanceId),
      UNREACHABLE_SINCE,
      UNREACHABLE_ERROR,
    );
    return { unreachableSince: since || null, unreachableError: error || null };
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
      lastError: lastError || null,
      rowsExtracted: Number(extracted ?? 0),
      rowsQuarantined: Number(quarantined ?? 0),
      rowsLoaded: Number(loaded ?? 0),
    };
  }
}
