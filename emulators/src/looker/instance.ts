import { TokenStore } from './auth.ts';
import { catalogSizes } from './catalog.ts';
import { EmulatorClock } from './clock.ts';
import { Dataset } from './dataset.ts';
import { type JsonValue, MODEL_NAME, type PrepareResult, QueryEngine } from './engine.ts';
import { defineExplores } from './explores.ts';
import { FaultQueue } from './faults.ts';
import { exploreMetadata } from './metadata.ts';
import {
  isSystemActivityExplore,
  RefreshSchedule,
  refreshCadence,
  SYSTEM_ACTIVITY_EXPLORES,
} from './refresh.ts';
import { Zone } from './time.ts';
import type {
  DeletableEntity,
  EmulatedLookerInstance,
  LookerApiUser,
  LookerInstanceSpec,
  LookerStats,
  SystemActivityExplore,
  SystemActivityMode,
  WriteQueryLike,
} from './types.ts';

// One emulated Looker instance: its data, query engine, tokens, faults and counters. The HTTP server routes to
// it; tests use it directly for ground truth (`runQuery`), new activity and faults. Every "now" comes from the
// emulator's clock; in elite/standard mode each explore is seen as of its last refresh (refresh.ts).

export const DEFAULT_MAX_ROW_LIMIT = 5000;
/** Looker's limit when a query sends none. */
export const DEFAULT_QUERY_LIMIT = 5000;
export const DEFAULT_TIMEZONE = 'America/Los_Angeles';
/** Elite/standard: the system time zone when the spec names none. */
export const DEFAULT_SYSTEM_TIMEZONE = 'UTC';
const MODES: readonly SystemActivityMode[] = ['ideal', 'elite', 'standard'];
const DELETABLE: readonly DeletableEntity[] = ['user', 'dashboard', 'look'];

/** Nothing to record (ideal instances do not log the API's own queries). */
const NO_RECORD = { finish() {} };

export class LookerInstance implements EmulatedLookerInstance {
  readonly dataset: Dataset;
  readonly engine: QueryEngine;
  readonly tokens: TokenStore;
  readonly faults = new FaultQueue();
  readonly maxRowLimit: number;
  readonly defaultZone: Zone;
  readonly mode: SystemActivityMode;
  readonly refresh: RefreshSchedule;
  /** Elite/standard: the zone every time is stored, returned and filtered in; null when ideal. */
  readonly systemZone: Zone | null;
  private readonly zones = new Map<string, Zone>();
  private readonly metadataCache = new Map<string, unknown>();
  private readonly counters = { logins: 0, queries: 0, activeQueries: 0, maxConcurrentQueries: 0 };

  constructor(
    readonly spec: LookerInstanceSpec,
    startedSec: number,
    private readonly clock: EmulatorClock = new EmulatorClock(),
  ) {
    if (!Number.isInteger(spec.historyRows) || spec.historyRows < 0)
      throw new Error(`instance ${spec.id}: historyRows must be an integer >= 0, got ${spec.historyRows}`);
    this.mode = spec.systemActivity ?? 'ideal';
    if (!MODES.includes(this.mode))
      throw new Error(
        `instance ${spec.id}: systemActivity must be one of ${MODES.join(', ')}, got "${this.mode}"`,
      );
    const realistic = this.mode !== 'ideal';
    try {
      this.refresh = new RefreshSchedule(
        spec.seed,
        this.mode === 'ideal' ? null : refreshCadence(this.mode, spec.refreshSeconds),
      );
      this.systemZone = realistic ? new Zone(spec.timezone ?? DEFAULT_SYSTEM_TIMEZONE) : null;
    } catch (error) {
      throw new Error(`instance ${spec.id}: ${error instanceof Error ? error.message : String(error)}`);
    }
    // Realistic: the API credentials belong to a service user of their own (the newest user), not to an admin
    // who also browses dashboards.
    const apiUser = realistic
      ? {
          id: catalogSizes(spec).users,
          email: `lsa-api@${spec.id.toLowerCase()}.example.com`,
          firstName: 'LSA',
          lastName: 'API',
        }
      : { id: 1 };
    this.dataset = new Dataset(spec.seed, spec, startedSec, {
      realistic,
      deletions: realistic && (spec.deletions ?? true),
      apiUser,
    });
    this.engine = new QueryEngine(defineExplores(this.dataset));
    this.tokens = new TokenStore(spec.tokenTtlSeconds ?? (realistic ? 3599 : 3600));
    this.maxRowLimit = spec.maxRowLimit ?? DEFAULT_MAX_ROW_LIMIT;
    this.defaultZone = new Zone(spec.defaultTimezone ?? DEFAULT_TIMEZONE);
  }

  get realistic(): boolean {
    return this.mode !== 'ideal';
  }

  get apiUserId(): number {
    return this.dataset.catalog.apiUserId;
  }

  /** `GET /api/4.0/user`: the API user as Looker's `me()` describes it. */
  apiUser(): LookerApiUser {
    const user = this.dataset.catalog.user(this.apiUserId);
    if (!user) throw new Error(`instance ${this.spec.id}: API user ${this.apiUserId} does not exist`);
    return {
      id: user.id,
      email: user.email,
      display_name: `${user.firstName} ${user.lastName}`,
      first_name: user.firstName,
      last_name: user.lastName,
    };
  }

  /** True when a WriteQuery names a model and explore this instance has (elite/standard answer others 404). */
  hasExplore(body: WriteQueryLike): boolean {
    return body.model === MODEL_NAME && typeof body.view === 'string' && this.engine.explores.has(body.view);
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
    // Realistic: System Activity times are in the system zone and are not converted to query_timezone.
    if (this.systemZone) zone = this.systemZone;
    const nowSec = this.clock.nowSec();
    const asOfSec = this.refresh.asOfSec(typeof body.view === 'string' ? body.view : '', nowSec);
    return this.engine.prepare(body, { limit, zone, nowSec, asOfSec });
  }

  /**
   * Elite/standard: a query of the API user starts now, and History gets its row (running until `finish`).
   * Ideal instances record nothing.
   */
  recordApiQuery(): { finish(runtimeSec: number, error: string | null): void } {
    if (!this.realistic) return NO_RECORD;
    return this.dataset.activity.startApiQuery(this.clock.nowSec());
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
    this.dataset.simulateActivity(n, this.clock.nowSec());
  }

  deleteEntity(kind: DeletableEntity, id: number) {
    if (!DELETABLE.includes(kind))
      throw new Error(`cannot delete a "${String(kind)}": only ${DELETABLE.join(', ')}`);
    this.dataset.catalog.purge(kind, id, this.clock.nowSec());
  }

  private exploreName(explore: string): SystemActivityExplore {
    if (!isSystemActivityExplore(explore))
      throw new Error(`unknown explore "${String(explore)}" (${SYSTEM_ACTIVITY_EXPLORES.join(', ')})`);
    return explore;
  }

  lastRefresh(explore: SystemActivityExplore): number {
    const name = this.exploreName(explore);
    const nowMs = this.clock.nowMs();
    if (this.refresh.live) return nowMs;
    return this.refresh.lastRefreshSec(name, Math.floor(nowMs / 1000)) * 1000;
  }

  nextRefresh(explore: SystemActivityExplore): number {
    const name = this.exploreName(explore);
    const nowMs = this.clock.nowMs();
    if (this.refresh.live) return nowMs;
    return this.refresh.nextRefreshSec(name, Math.floor(nowMs / 1000)) * 1000;
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
