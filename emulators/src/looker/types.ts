// Public vocabulary of the Looker API 4.0 emulator: what a test or another process configures and observes.

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
  /** `expires_in` of login responses, in seconds. Default 3600. */
  tokenTtlSeconds?: number;
  /** Time zone used when a query has no `query_timezone` (Looker falls back to the user's/instance's zone). */
  defaultTimezone?: string;
}

export interface LookerEmulatorOptions {
  port?: number;
  host?: string;
  instances: LookerInstanceSpec[];
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
   */
  runQuery(query: WriteQueryLike): Record<string, unknown>[];
  /**
   * New activity "now": `n` history rows (ids and created_time after every existing row, created_time = the current
   * second) plus the events, event attributes, scheduled jobs and PDT events that go with them; content_usage and
   * user_facts aggregates follow.
   */
  simulateActivity(n: number): void;
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
  close(): Promise<void>;
}
