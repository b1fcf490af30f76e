import type { InstanceConfig, ResolvedExport } from '../config/model.ts';
import type { SystemActivityEdition } from '../exports/freshness.ts';
import { type ExtractWindow, parseWindowId, windowId } from '../window.ts';
import { catalog, type ExtractPayload, type WindowRef } from './catalog.ts';
import type { PipelineContext } from './context.ts';
import { jobName } from './job-names.ts';

// `lsa backfill`: loads a past range of an incremental export again, idempotently (the MERGE keeps one row per
// key), without touching the regular plan. A backfill has a number of its own (`b<n>`, a Redis counter per
// instance × export) that replaces the plan in its job ids, GCS object names, spool files and BigQuery job ids,
// so its windows never collide with the regular plan's, even for the same range. Its windows commit to the
// backfill's own record (a hash in Redis), never to the pending set or the watermark: a backfill neither holds
// the watermark back nor moves it, in either direction.

const DAY_MS = 86_400_000;
const SECOND = 1000;

/** How long Looker keeps System Activity: 90 days, a year with Elite System Activity. */
export const SYSTEM_ACTIVITY_RETENTION_MS: Record<SystemActivityEdition, number> = {
  elite: 365 * DAY_MS,
  standard: 90 * DAY_MS,
};

/** A backfill's record lives this long after it started: long enough to follow, retry and inspect it. */
const RECORD_TTL_SECONDS = 30 * 86_400;

/** A range the pipeline will not backfill; the message says why and names the values. */
export class BackfillRangeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BackfillRangeError';
  }
}

export interface BackfillRange {
  fromMs: number;
  toMs: number;
  /** `--to` was later than now − lag and was brought back to it (rows younger than that are not final). */
  clampedTo: boolean;
}

/**
 * How far back Looker still has this export's rows: the export's `horizon` (the retention the pipeline works
 * with; 90 days by default), and never more than the instance's System Activity retention.
 */
export function retentionMs(instance: InstanceConfig, resolved: ResolvedExport): number {
  const edition = SYSTEM_ACTIVITY_RETENTION_MS[instance.systemActivity];
  const { horizon } = resolved.settings;
  return horizon === 'all' ? edition : Math.min(horizon, edition);
}

const iso = (ms: number) => new Date(ms).toISOString();

/** Checks a requested range against the export and Looker's retention; throws BackfillRangeError when refused. */
export function checkBackfillRange(
  instance: InstanceConfig,
  resolved: ResolvedExport,
  fromMs: number,
  toMs: number,
  nowMs: number,
): BackfillRange {
  const name = `${instance.id}/${resolved.definition.name}`;
  if (resolved.definition.mode.kind === 'snapshot') {
    throw new BackfillRangeError(`${name} is a snapshot export: a snapshot has no range: use lsa run`);
  }
  if (fromMs >= toMs) {
    throw new BackfillRangeError(`--from ${iso(fromMs)} is not before --to ${iso(toMs)}`);
  }
  const retention = retentionMs(instance, resolved);
  const oldestMs = nowMs - retention;
  if (fromMs < oldestMs) {
    const days = Math.round(retention / DAY_MS);
    throw new BackfillRangeError(
      `--from ${iso(fromMs)} is older than Looker's retention for ${name} (${days} days: ${instance.systemActivity} System Activity, horizon ${resolved.settings.horizon === 'all' ? 'all' : `${Math.round((resolved.settings.horizon as number) / DAY_MS)}d`}): Looker no longer has rows before ${iso(oldestMs)}`,
    );
  }
  const latestMs = Math.floor((nowMs - resolved.settings.lagMs) / SECOND) * SECOND;
  if (fromMs >= latestMs) {
    throw new BackfillRangeError(
      `--from ${iso(fromMs)} is not before now − lag (${iso(latestMs)}): nothing final to backfill yet`,
    );
  }
  return { fromMs, toMs: Math.min(toMs, latestMs), clampedTo: toMs > latestMs };
}

/** The windows of a range, cut as planning cuts them: at UTC multiples of the export's window size. */
export function backfillWindows(resolved: ResolvedExport, range: BackfillRange): ExtractWindow[] {
  const step = resolved.settings.windowMs;
  const windows: ExtractWindow[] = [];
  let from = Math.floor(range.fromMs / SECOND) * SECOND;
  const endMs = Math.ceil(range.toMs / SECOND) * SECOND;
  while (from < endMs) {
    const to = Math.min(Math.floor(from / step) * step + step, endMs);
    windows.push({ kind: 'range', startMs: from, endMs: to });
    from = to;
  }
  return windows;
}

function counterKey(context: PipelineContext, instanceId: string, exportName: string): string {
  return `${context.config.redis.prefix}:backfill-seq:${instanceId}:${exportName}`;
}

/** Hash of one backfill: `from`, `to`, `plan`, and per window `w:<window id>` = `pending` or `committed <rows>`. */
function recordKey(context: PipelineContext, instanceId: string, exportName: string, backfill: number) {
  return `${context.config.redis.prefix}:backfill:${instanceId}:${exportName}:${backfill}`;
}

export interface StartedBackfill {
  instanceId: string;
  exportName: string;
  backfill: number;
  plan: number;
  range: BackfillRange;
  windows: { windowId: string; extractJobId: string }[];
}

/** Records a new backfill and enqueues one extract job per window; workers take it from there. */
export async function startBackfill(
  context: PipelineContext,
  instance: InstanceConfig,
  resolved: ResolvedExport,
  range: BackfillRange,
): Promise<StartedBackfill> {
  const exportName = resolved.definition.name;
  const windows = backfillWindows(resolved, range);
  const backfill = await context.redis.incr(counterKey(context, instance.id, exportName));
  // Payloads carry a plan (the schema wants one): the regular plan current now, for the record only. The
  // backfill number, not the plan, names the jobs and decides where the windows commit.
  const plan = Math.max(1, await context.exportState.currentPlan(instance.id, exportName));
  const key = recordKey(context, instance.id, exportName, backfill);
  await context.redis
    .multi()
    .hset(key, {
      from: String(range.fromMs),
      to: String(range.toMs),
      plan: String(plan),
      ...Object.fromEntries(windows.map((w) => [`w:${windowId(w)}`, 'pending'])),
    })
    .expire(key, RECORD_TTL_SECONDS)
    .exec();
  const jobs = windows.map((window) => {
    const payload: ExtractPayload = { instanceId: instance.id, exportName, plan, backfill, window };
    return {
      name: `${jobName(payload)} backfill b${backfill}`,
      data: payload,
      opts: {
        ...catalog.extract.options(context.config.workers.backoffMs),
        jobId: catalog.extract.jobId(payload),
      },
    };
  });
  await context.queues.extract.addBulk(jobs);
  return {
    instanceId: instance.id,
    exportName,
    backfill,
    plan,
    range,
    windows: jobs.map((j) => ({ windowId: windowId(j.data.window), extractJobId: j.opts.jobId })),
  };
}

/**
 * A backfill window's commit, after its MERGE (or at extract when it had no rows): recorded in the backfill's
 * hash only. Replaying it writes the same value again.
 */
export async function commitBackfillWindow(
  context: PipelineContext,
  ref: WindowRef & { backfill: number },
  rows: number,
): Promise<void> {
  const key = recordKey(context, ref.instanceId, ref.exportName, ref.backfill);
  await context.redis.hset(key, `w:${windowId(ref.window)}`, `committed ${rows}`);
}

/** Whether a window of a backfill has committed to the backfill's record. */
export async function backfillWindowCommitted(
  context: PipelineContext,
  ref: WindowRef & { backfill: number },
): Promise<boolean> {
  const key = recordKey(context, ref.instanceId, ref.exportName, ref.backfill);
  return ((await context.redis.hget(key, `w:${windowId(ref.window)}`)) ?? '').startsWith('committed');
}

export interface BackfillWindowOutcome {
  windowId: string;
  state: 'committed' | 'failed' | 'pending';
  rows: number;
  error?: string;
}

export interface BackfillProgress {
  windows: BackfillWindowOutcome[];
  done: number;
  committed: number;
  failed: number;
  rows: number;
  elapsedMs: number;
  /** Time left at the pace so far; undefined before the first window is done. */
  etaMs: number | undefined;
}

export interface BackfillReport extends BackfillProgress {
  ok: boolean;
}

export interface FollowOptions {
  timeoutMs?: number;
  pollMs?: number;
  onProgress?: (progress: BackfillProgress) => void;
}

/** Why a window has not committed: its extract or load failed for good; undefined while it is on its way. */
async function failure(context: PipelineContext, ref: WindowRef): Promise<string | undefined> {
  const extract = await context.queues.extract.getJob(catalog.extract.jobId(ref));
  if (extract && (await extract.getState()) === 'failed') return extract.failedReason;
  const load = await context.queues.load.getJob(catalog.load.jobId(ref));
  if (load && (await load.getState()) === 'failed') return load.failedReason;
  return undefined;
}

/** Follows a backfill until every window committed or failed for good (or the deadline), reporting progress. */
export async function followBackfill(
  context: PipelineContext,
  started: StartedBackfill,
  options: FollowOptions = {},
): Promise<BackfillReport> {
  const { instanceId, exportName, backfill, plan } = started;
  const key = recordKey(context, instanceId, exportName, backfill);
  const startedAt = Date.now();
  const deadline = startedAt + (options.timeoutMs ?? 6 * 3_600_000);
  const pollMs = options.pollMs ?? 500;
  const outcomes: BackfillWindowOutcome[] = started.windows.map((w) => ({
    windowId: w.windowId,
    state: 'pending',
    rows: 0,
  }));
  const progress = (): BackfillProgress => {
    const done = outcomes.filter((w) => w.state !== 'pending').length;
    const elapsedMs = Date.now() - startedAt;
    return {
      windows: outcomes,
      done,
      committed: outcomes.filter((w) => w.state === 'committed').length,
      failed: outcomes.filter((w) => w.state === 'failed').length,
      rows: outcomes.reduce((n, w) => n + w.rows, 0),
      elapsedMs,
      etaMs: done === 0 ? undefined : Math.round((elapsedMs / done) * (outcomes.length - done)),
    };
  };
  for (;;) {
    const record = await context.redis.hgetall(key);
    for (const outcome of outcomes) {
      if (outcome.state !== 'pending') continue;
      const value = record[`w:${outcome.windowId}`];
      if (value?.startsWith('committed')) {
        outcome.state = 'committed';
        outcome.rows = Number(value.split(' ')[1] ?? 0);
        continue;
      }
      const ref = { instanceId, exportName, plan, backfill, window: parseWindowId(outcome.windowId) };
      const reason = await failure(context, ref);
      if (reason !== undefined) {
        outcome.state = 'failed';
        outcome.error = reason;
      }
    }
    options.onProgress?.(progress());
    if (outcomes.every((w) => w.state !== 'pending') || Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  for (const w of outcomes) {
    if (w.state === 'pending') w.error = 'not committed before the deadline: still running';
  }
  const report = progress();
  return { ...report, ok: report.committed === outcomes.length };
}
