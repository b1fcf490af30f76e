import { TokenStore } from './auth.ts';
import { Dataset } from './dataset.ts';
import { type JsonValue, type PrepareResult, QueryEngine } from './engine.ts';
import { defineExplores } from './explores.ts';
import { FaultQueue } from './faults.ts';
import { exploreMetadata } from './metadata.ts';
import { Zone } from './time.ts';
import type { EmulatedLookerInstance, LookerInstanceSpec, LookerStats, WriteQueryLike } from './types.ts';

// One emulated Looker instance: its data, query engine, tokens, faults and counters. The HTTP server routes to
// it; tests use it directly for ground truth (`runQuery`), new activity and faults.

export const DEFAULT_MAX_ROW_LIMIT = 5000;
/** Looker's limit when a query sends none. */
export const DEFAULT_QUERY_LIMIT = 5000;
export const DEFAULT_TIMEZONE = 'America/Los_Angeles';

export class LookerInstance implements EmulatedLookerInstance {
  readonly dataset: Dataset;
  readonly engine: QueryEngine;
  readonly tokens: TokenStore;
  readonly faults = new FaultQueue();
  readonly maxRowLimit: number;
  readonly defaultZone: Zone;
  private readonly zones = new Map<string, Zone>();
  private readonly metadataCache = new Map<string, unknown>();
  private readonly counters = { logins: 0, queries: 0, activeQueries: 0, maxConcurrentQueries: 0 };

  constructor(
    readonly spec: LookerInstanceSpec,
    startedSec: number,
  ) {
    if (!Number.isInteger(spec.historyRows) || spec.historyRows < 0)
      throw new Error(`instance ${spec.id}: historyRows must be an integer >= 0`);
    this.dataset = new Dataset(spec.seed, spec, startedSec);
    this.engine = new QueryEngine(defineExplores(this.dataset));
    this.tokens = new TokenStore(spec.tokenTtlSeconds ?? 3600);
    this.maxRowLimit = spec.maxRowLimit ?? DEFAULT_MAX_ROW_LIMIT;
    this.defaultZone = new Zone(spec.defaultTimezone ?? DEFAULT_TIMEZONE);
  }

  /** The query's zone; throws RangeError for an unknown zone name. */
  zone(name: string | null | undefined): Zone {
    if (!name) return this.defaultZone;
    let zone = this.zones.get(name);
    if (!zone) {
      zone = new Zone(name);
      this.zones.set(name, zone);
    }
    return zone;
  }

  /** Prepares a query; `limit` Infinity for none. Unknown time zones become a query error, as in Looker. */
  prepare(body: WriteQueryLike, limit: number): PrepareResult {
    let zone: Zone;
    try {
      zone = this.zone(body.query_timezone);
    } catch {
      return { ok: false, error: `Unknown query_timezone "${String(body.query_timezone)}".` };
    }
    return this.engine.prepare(body, { limit, zone, nowSec: Math.floor(Date.now() / 1000) });
  }

  /**
   * The effective row limit of an API query: query-string `limit` over body `limit`; none → 5000; `-1` (or any
   * non-positive) → "all", which the instance caps at `maxRowLimit` silently, as it caps everything else.
   * Returns null for a limit that is not an integer.
   */
  effectiveLimit(queryStringLimit: string | null, bodyLimit: WriteQueryLike['limit']): number | null {
    const requested =
      queryStringLimit ?? (bodyLimit === null || bodyLimit === undefined ? null : String(bodyLimit));
    if (requested === null || requested.trim() === '') return Math.min(DEFAULT_QUERY_LIMIT, this.maxRowLimit);
    if (!/^\s*-?\d+\s*$/.test(requested)) return null;
    const value = Number(requested);
    return value <= 0 ? this.maxRowLimit : Math.min(value, this.maxRowLimit);
  }

  runQuery(query: WriteQueryLike): Record<string, unknown>[] {
    const limitText = query.limit === null || query.limit === undefined ? '' : String(query.limit).trim();
    const limit =
      /^\d+$/.test(limitText) && Number(limitText) > 0 ? Number(limitText) : Number.POSITIVE_INFINITY;
    const prepared = this.prepare(query, limit);
    if (!prepared.ok) return [{ looker_error: prepared.error }];
    const { columns } = prepared.query;
    const rows: Record<string, unknown>[] = [];
    for (const values of prepared.query.rows()) {
      if (values === null) continue;
      const row: Record<string, JsonValue> = {};
      columns.forEach((column, i) => {
        row[column.name] = values[i] ?? null;
      });
      rows.push(row);
    }
    return rows;
  }

  simulateActivity(n: number) {
    this.dataset.simulateActivity(n, Math.floor(Date.now() / 1000));
  }

  stats(): LookerStats {
    return { ...this.counters, faultsInjected: { ...this.faults.injected } };
  }

  revokeTokens() {
    this.tokens.revokeAll();
  }

  exploreMetadata(name: string): unknown {
    let metadata = this.metadataCache.get(name);
    if (metadata === undefined) {
      const explore = this.engine.explores.get(name);
      if (!explore) return null;
      metadata = exploreMetadata(explore);
      this.metadataCache.set(name, metadata);
    }
    return metadata;
  }

  countLogin() {
    this.counters.logins++;
  }

  /** Marks a query as running; call the returned function exactly once when it ends. */
  beginQuery(): () => void {
    this.counters.queries++;
    this.counters.activeQueries++;
    this.counters.maxConcurrentQueries = Math.max(
      this.counters.maxConcurrentQueries,
      this.counters.activeQueries,
    );
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.counters.activeQueries--;
    };
  }
}
