import type { Job } from 'bullmq';
import { formatDuration } from '../config/duration.ts';
import { windowId } from '../window.ts';
import { catalog } from './catalog.ts';
import type { PipelineContext } from './context.ts';

// Is every configured instance × export healthy? One answer for `lsa status --check`, the status page, the
// scheduler's stale-export notifications and /metrics. An export is unhealthy when its last load is older than
// the allowed age (or it never loaded), when a window of its current plan failed for good (a failed job in
// BullMQ: a job with attempts left is delayed or waiting, never failed), or when its instance could not be
// reached at all by the last extract.

export type Problem = 'never-loaded' | 'stale' | 'failed' | 'unreachable';

export interface FailedWindow {
  queue: string;
  jobId: string;
  window: string;
  error: string;
}

export interface ExportHealth {
  instanceId: string;
  exportName: string;
  lastLoadedAt: string | null;
  /** Milliseconds since the last load, null before the first. */
  ageMs: number | null;
  pendingWindows: number;
  failedWindows: FailedWindow[];
  lastError: string | null;
  problems: Problem[];
}

export interface InstanceHealth {
  instanceId: string;
  unreachableSince: string | null;
  unreachableError: string | null;
  exports: ExportHealth[];
  /** green: nothing wrong; amber: stale or never loaded; red: failed windows or unreachable. */
  colour: 'green' | 'amber' | 'red';
}

export interface HealthReport {
  maxAgeMs: number;
  instances: InstanceHealth[];
  healthy: boolean;
}

/** The age past which an export counts as stale when nobody says otherwise. */
export const DEFAULT_MAX_AGE_MS = 3 * 3_600_000;

/** Failed jobs examined per queue: a bound, so a pile of old failures cannot make the check slow. */
const FAILED_SCAN_LIMIT = 1000;

const CONNECTION_ERROR =
  /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ECONNRESET|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT|UND_ERR_CONNECT|fetch failed|socket hang up/;

/** Whether an error (or one of its causes) means the other side could not be reached at all. */
export function isConnectionError(error: unknown): boolean {
  for (let e = error, depth = 0; e && depth < 5; depth++) {
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && CONNECTION_ERROR.test(code)) return true;
    if (typeof message === 'string' && CONNECTION_ERROR.test(message)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** "just now", "45 s ago", "12 min ago", "3 h 5 min ago", "2 days ago". */
export function formatAge(ms: number | null): string {
  if (ms === null) return 'never';
  const seconds = Math.floor(ms / 1000);
  if (seconds < 5) return 'just now';
  if (seconds < 60) return `${seconds} s ago`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return minutes % 60 === 0 ? `${hours} h ago` : `${hours} h ${minutes % 60} min ago`;
  return `${Math.floor(hours / 24)} days ago`;
}

interface WindowJob {
  instanceId: string;
  exportName: string;
  plan: number;
  window: string;
}

/** The window a job of any stage concerns, read from its payload. */
function windowOf(job: Job): WindowJob | null {
  const direct = catalog.extract.schema.safeParse(job.data);
  if (direct.success) {
    const { instanceId, exportName, plan, window } = direct.data;
    return { instanceId, exportName, plan, window: windowId(window) };
  }
  const load = catalog.load.schema.safeParse(job.data);
  if (load.success) {
    const { instanceId, exportName, plan, window } = load.data;
    return { instanceId, exportName, plan, window: windowId(window) };
  }
  const upload = catalog.upload.schema.safeParse(job.data);
  if (upload.success) {
    const { instanceId, exportName, window } = upload.data.manifest;
    return { instanceId, exportName, plan: upload.data.plan, window: windowId(window) };
  }
  return null;
}

async function failedJobs(context: PipelineContext): Promise<{ queue: string; job: Job }[]> {
  const nodes = await context.nodes.list();
  const queues = [
    context.queues.extract,
    context.queues.load,
    ...nodes.map((n) => context.queues.upload(n.nodeId)),
  ];
  const found: { queue: string; job: Job }[] = [];
  for (const queue of queues) {
    for (const job of await queue.getFailed(0, FAILED_SCAN_LIMIT - 1)) found.push({ queue: queue.name, job });
  }
  return found;
}

export async function checkHealth(
  context: PipelineContext,
  maxAgeMs = DEFAULT_MAX_AGE_MS,
  nowMs = context.now(),
): Promise<HealthReport> {
  const failed = await failedJobs(context);
  const instances: InstanceHealth[] = [];
  for (const instance of context.config.instances) {
    const reachability = await context.runStatus.reachability(instance.id);
    const exports: ExportHealth[] = [];
    for (const resolved of instance.exports) {
      const exportName = resolved.definition.name;
      const run = await context.runStatus.get(instance.id, exportName);
      const state = await context.exportState.get(instance.id, exportName);
      const plan = await context.exportState.currentPlan(instance.id, exportName);
      // Only windows the current plan still waits for: an old failure that was planned again, or reset, is
      // history, not a problem.
      const pending = new Set(
        await context.redis.zrange(context.keys.pending(instance.id, exportName), 0, -1),
      );
      const failedWindows = failed.flatMap(({ queue, job }) => {
        const ref = windowOf(job);
        if (!ref || ref.instanceId !== instance.id || ref.exportName !== exportName) return [];
        if (ref.plan !== plan || !pending.has(ref.window)) return [];
        return [{ queue, jobId: job.id ?? '?', window: ref.window, error: job.failedReason ?? '' }];
      });
      const ageMs = run.lastLoadedAt ? Math.max(0, nowMs - Date.parse(run.lastLoadedAt)) : null;
      const problems: Problem[] = [];
      if (ageMs === null) problems.push('never-loaded');
      else if (ageMs > maxAgeMs) problems.push('stale');
      if (failedWindows.length > 0) problems.push('failed');
      if (reachability.unreachableSince) problems.push('unreachable');
      exports.push({
        instanceId: instance.id,
        exportName,
        lastLoadedAt: run.lastLoadedAt,
        ageMs,
        pendingWindows: state.pendingWindows,
        failedWindows,
        lastError: run.lastError,
        problems,
      });
    }
    const all = exports.flatMap((e) => e.problems);
    instances.push({
      instanceId: instance.id,
      ...reachability,
      exports,
      colour: all.some((p) => p === 'failed' || p === 'unreachable')
        ? 'red'
        : all.length > 0
          ? 'amber'
          : 'green',
    });
  }
  return { maxAgeMs, instances, healthy: instances.every((i) => i.colour === 'green') };
}

export function describeProblems(row: ExportHealth, maxAgeMs: number): string {
  return row.problems
    .map((problem) => {
      switch (problem) {
        case 'never-loaded':
          return 'never loaded';
        case 'stale':
          return `stale: last load ${formatAge(row.ageMs)} (allowed ${formatDuration(maxAgeMs)})`;
        case 'failed':
          return `${row.failedWindows.length} window(s) failed for good (${row.failedWindows[0]!.jobId})`;
        case 'unreachable':
          return 'instance unreachable';
      }
      return problem;
    })
    .join('; ');
}
