import type { Redis } from 'ioredis';
import type { StateKeys } from './keys.ts';
import { sendPipeline } from './pipelines.ts';

// Pipeline-wide figures for /metrics, kept in Redis because jobs run in many processes and the dashboard is
// another one: how long each stage's jobs take (a histogram), how attempts fail (by stage and kind) and how many
// Looker queries each instance served. One hash, a handful of fields: nothing grows with windows or nodes.

export const STAGES = ['extract', 'upload', 'load'] as const;
export type Stage = (typeof STAGES)[number];

/** Kinds of failed attempts: `retry` (another attempt follows), `final` (failed for good), `stalled`. */
export const FAILURE_KINDS = ['retry', 'final', 'stalled'] as const;
export type FailureKind = (typeof FAILURE_KINDS)[number];

/** Upper bounds (seconds) of the duration buckets: from a small snapshot to a 30-minute extract. */
export const DURATION_BUCKETS = [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800] as const;

export interface StageHistogram {
  /** Cumulative counts per upper bound, the last one being +Inf. */
  buckets: { le: string; count: number }[];
  sumSeconds: number;
  count: number;
}

export interface StageMetricsSnapshot {
  durations: Record<Stage, StageHistogram>;
  failures: Record<Stage, Record<FailureKind, number>>;
  lookerQueries: Record<string, number>;
}

export class StageMetrics {
  constructor(
    private readonly redis: Redis,
    private readonly keys: StateKeys,
  ) {}

  /**
   * Adds completed jobs' figures: per field of the hash (a duration bucket, a stage's sum of seconds, an
   * instance's Looker queries), how much to add. One pipeline without MULTI: these are counters for /metrics,
   * read long after, so a reader seeing a bucket before its sum for a moment costs nothing.
   */
  async add(increments: ReadonlyMap<string, number>): Promise<void> {
    if (increments.size === 0) return;
    const pipeline = this.redis.pipeline();
    for (const [field, by] of increments) {
      if (field.endsWith('|sum')) pipeline.hincrbyfloat(this.keys.metrics(), field, by);
      else pipeline.hincrby(this.keys.metrics(), field, by);
    }
    await sendPipeline(pipeline);
  }

  async recordFailure(stage: Stage, kind: FailureKind): Promise<void> {
    await this.redis.hincrby(this.keys.metrics(), `failure|${stage}|${kind}`, 1);
  }

  async read(): Promise<StageMetricsSnapshot> {
    const fields = await this.redis.hgetall(this.keys.metrics());
    const number = (field: string) => Number(fields[field] ?? 0);
    const durations = {} as StageMetricsSnapshot['durations'];
    const failures = {} as StageMetricsSnapshot['failures'];
    for (const stage of STAGES) {
      let cumulative = 0;
      const buckets = [...DURATION_BUCKETS.map(String), '+Inf'].map((le) => {
        cumulative += number(`duration|${stage}|${le}`);
        return { le, count: cumulative };
      });
      durations[stage] = { buckets, sumSeconds: number(`duration|${stage}|sum`), count: cumulative };
      failures[stage] = Object.fromEntries(
        FAILURE_KINDS.map((kind) => [kind, number(`failure|${stage}|${kind}`)]),
      ) as Record<FailureKind, number>;
    }
    const lookerQueries: Record<string, number> = {};
    for (const [field, value] of Object.entries(fields)) {
      if (field.startsWith('looker|')) lookerQueries[field.slice('looker|'.length)] = Number(value);
    }
    return { durations, failures, lookerQueries };
  }
}

/**
 * The figures of the jobs this process completes, gathered in memory and added to Redis at most every
 * `flushMs` (and when the process closes its workers): a job's bucket, sum and Looker queries were two or three
 * Redis commands on every job, now a few per second for the whole process. /metrics lags by up to `flushMs`;
 * a process killed outright loses at most that much of its figures (counters, not data).
 */
export class CompletedJobFigures {
  private increments = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly metrics: StageMetrics,
    private readonly flushMs: number,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** A job of `stage` completed after `ms`; an extract also counts the Looker queries it ran on its instance. */
  record(stage: Stage, ms: number, lookerQueries?: { instanceId: string; queries: number }): void {
    const seconds = Math.max(0, ms) / 1000;
    const bucket = DURATION_BUCKETS.find((le) => seconds <= le);
    this.bump(`duration|${stage}|${bucket ?? '+Inf'}`, 1);
    this.bump(`duration|${stage}|sum`, seconds);
    if (lookerQueries && lookerQueries.queries > 0)
      this.bump(`looker|${lookerQueries.instanceId}`, lookerQueries.queries);
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.flushMs).unref();
  }

  /** Adds what was gathered so far; resolves once it (and any flush before it) is in Redis or has failed. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const increments = this.increments;
    this.increments = new Map();
    this.flushing = this.flushing.then(() => this.metrics.add(increments).catch(this.onError));
    return this.flushing;
  }

  private bump(field: string, by: number): void {
    this.increments.set(field, (this.increments.get(field) ?? 0) + by);
  }
}
