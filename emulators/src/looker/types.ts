// Public vocabulary of the Looker API 4.0 emulator: what a test or another process configures and observes.

/**
 * How closely an instance behaves like real System Activity. `ideal`: every row final and visible at once,
 * nothing deleted. `elite`: tables refresh on Elite System Activity's cadence (10 min / 1 h / 24 h), rows change
 * after they appear (running queries, jobs in progress), entities get deleted, times are in the system zone, the
 * API's own queries show in History. `standard`: the same behind a 12-hour cache (no table fresher than 12 h).
 */
export type SystemActivityMode = 'ideal' | 'elite' | 'standard';

/** The explores of the `system__activity` model, each a table with its own refresh cadence. */
export type SystemActivityExplore =
  | 'history'
  | 'event'
  | 'event_attribute'
  | 'pdt_event_log'
  | 'user'
  | 'content_usage'
  | 'scheduled_plan'
  | 'dashboard'
  | 'look'
  | 'field_usage';

export type DeletableEntity = 'user' | 'dashboard' | 'look';

export interface LookerInstanceSpec {
  id: string;
  clientId: string;
  clientSecret: string;
  seed: number;
  /** History rows spread over the `historyDays` before the emulator started (generated lazily; ids increase with created_time). */
  historyRows: number;
  /** Default 90, Looker's History retention. */
  historyDays?: number;
  /** Entity counts; defaults scale with `historyRows` (see catalog.ts `catalogSizes`). */
  users?: number;
  dashboards?: number;
  looks?: number;
  /** Rows per query cap: asking for more (or `limit: "-1"`) silently gets at most this many. Default 5000. */
  maxRowLimit?: number;
  /** `expires_in` of login responses, in seconds. Default 3600 (ideal), 3599 (elite, standard) as Looker answers. */
  tokenTtlSeconds?: number;
  /** Ideal mode: time zone used when a query has no `query_timezone`. Ignored in elite/standard (see `timezone`). */
  defaultTimezone?: string;
  /** Default `'ideal'`. See `SystemActivityMode`. */
  systemActivity?: SystemActivityMode;
  /** Elite/standard: refresh cadence overrides in seconds, per explore. */
  refreshSeconds?: Partial<Record<SystemActivityExplore, number>>;
  /**
   * Elite/standard: the instance's system time zone (default `UTC`; e.g. `America/New_York` for a customer-hosted
   * instance). Times are returned and date filters read in it, whatever the query's `query_timezone`.
   */
  timezone?: string;
  /** Elite/standard: some users, dashboards and Looks are deleted over time (default true). */
  deletions?: boolean;
}

export interface LookerEmulatorOptions {
  port?: number;
  host?: string;
  instances: LookerInstanceSpec[];
  /**
   * "Now" in epoch milliseconds, for everything time-dependent (refreshes, running queries, days since access,
   * new History rows). Default: real time plus an offset moved by `advanceClock` / POST /_emulator/clock.
   */
  clock?: () => number;
}

/** The API user (`GET /api/4.0/user`, the SDK's `me()`). */
export interface LookerApiUser {
  id: number;
  email: string | null;
  display_name: string;
  first_name: string;
  last_name: string;
}

/** The subset of Looker's `WriteQuery` the emulator reads. `limit` may be a string (as the SDK types it) or a number. */
export interface WriteQueryLike {
  model?: string | null;
  view?: string | null;
  fields?: string[] | null;
  filters?: Record<string, string> | null;
  sorts?: string[] | null;
  limit?: string | number | null;
  query_timezone?: string | null;
  [other: string]: unknown;
}

export type FaultTarget = 'login' | 'query' | 'explore' | 'any';

export type CorruptRowMode =
  | 'invalid-json'
  | 'string-in-number'
  | 'missing-field'
  | 'extra-field'
  | 'null-key'
  | 'control-chars'
  | 'non-bmp'
  | 'huge-string';

export const CORRUPT_ROW_MODES: readonly CorruptRowMode[] = [
  'invalid-json',
  'string-in-number',
  'missing-field',
  'extra-field',
  'null-key',
  'control-chars',
  'non-bmp',
  'huge-string',
];

interface FaultCommon {
  /** How many matching requests the fault affects. Default 1. */
  times?: number;
  /** Which requests it matches. Default `'query'`. */
  on?: FaultTarget;
}

export type LookerFault = FaultCommon &
  (
    | { kind: 'status'; status: number; retryAfterSeconds?: number; message?: string }
    | { kind: 'latency'; ms: number }
    | { kind: 'hang' }
    | { kind: 'truncate'; afterRows: number }
    | { kind: 'lookerError'; message: string }
    | { kind: 'corruptRow'; mode: CorruptRowMode; field?: string }
  );

export type LookerFaultKind = LookerFault['kind'];

export interface LookerFaults {
  /** Queues a fault; faults of the same family are consumed first-in first-out. */
  inject(fault: LookerFault): void;
  /** Drops every queued fault. */
  clear(): void;
  /** The queued faults with their remaining `times`. */
  pending(): LookerFault[];
}

export interface LookerStats {
  logins: number;
  queries: number;
  activeQueries: number;
  maxConcurrentQueries: number;
  faultsInjected: Record<string, number>;
}

export interface EmulatedLookerInstance {
  readonly spec: LookerInstanceSpec;
  /**
   * Ground truth for tests: runs a WriteQuery through the same engine as the HTTP endpoint, with no row cap
   * (no default limit, no `maxRowLimit`; an explicit positive `limit` is honoured), returning rows as `json` would.
   * It sees what Looker shows now: each explore as of its last refresh (elite/standard). It adds no History row.
   */
  runQuery(query: WriteQueryLike): Record<string, unknown>[];
  /**
   * New activity: `n` history rows (ids and created_time after every existing row) plus the events, event
   * attributes, scheduled jobs and PDT events that go with them; content_usage and user_facts follow. Ideal: all
   * created in the current second. Elite/standard: spread over the time since the previous simulation (the last
   * hour the first time), each visible from its table's next refresh.
   */
  simulateActivity(n: number): void;
  /** The user the API credentials belong to (a row of the `user` explore, never deleted). */
  readonly apiUserId: number;
  /**
   * Deletes a user, dashboard or Look now: it leaves its explore (and joins) at that table's next refresh.
   * Throws for an unknown id.
   */
  deleteEntity(kind: DeletableEntity, id: number): void;
  /** Epoch ms of the explore's last refresh at or before now (now itself when ideal). */
  lastRefresh(explore: SystemActivityExplore): number;
  /** Epoch ms of the explore's next refresh after now (now itself when ideal). */
  nextRefresh(explore: SystemActivityExplore): number;
  faults: LookerFaults;
  stats(): LookerStats;
  /** Every issued token becomes invalid (401 until the client logs in again). */
  revokeTokens(): void;
}

export interface LookerEmulator {
  url: string;
  /** base_url for the SDK, e.g. `${url}/instances/prod-eu` (the SDK appends `/api/4.0/...`). */
  baseUrl(instanceId: string): string;
  instance(instanceId: string): EmulatedLookerInstance;
  /** The emulator's now, epoch ms. */
  now(): number;
  /** Moves the emulator's own clock forward; throws when a `clock` function was given. */
  advanceClock(ms: number): void;
  close(): Promise<void>;
}
