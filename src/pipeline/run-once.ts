import { parseWindowId } from '../window.ts';
import { catalog, parseChildKey, resultOf, uploadQueueNode } from './catalog.ts';
import type { PipelineContext } from './context.ts';
import { type FanoutSummary, fanout } from './processors/fanout.ts';

// `lsa start --once` and `lsa run`: plan windows now (the same fan-out a tick runs), then follow every window
// through extract → upload → load until each has committed or failed for good.
//
// What "committed" means is read from the export state, not from jobs: a window has committed when it has left
// its plan's pending set (the commit script removes it after the MERGE, nothing else does). Jobs only tell why a
// window is not committed yet: failed for good (an operator must act) or still on its way. A job that is
// missing for a moment (node recovery removes a dead node's load and re-adds its extract under the same id) is
// therefore never mistaken for a failure. Exports the fan-out skipped because an earlier plan is still in
// flight are followed too: `--once` succeeds only when every export is committed up to its plan.

export interface WindowOutcome {
  instanceId: string;
  exportName: string;
  plan: number;
  windowId: string;
  extractJobId: string;
  state: 'committed' | 'failed' | 'pending';
  rows: number;
  error?: string;
}

export interface RunOnceReport {
  fanout: FanoutSummary;
  windows: WindowOutcome[];
  ok: boolean;
}

export interface RunOnceOptions {
  instanceIds?: string[];
  exports?: string[];
  timeoutMs?: number;
  pollMs?: number;
  onProgress?: (windows: WindowOutcome[]) => void;
}

const IN_FLIGHT = /still in flight/;
/**
 * Skips that are the plan working as configured, not work left undone: nothing new to read, or an export the API
 * budget holds back this run (its watermark waits; it is read later). Anything else means an export is not known
 * to be loaded.
 */
const CLEAN_SKIP = /^nothing new since the watermark$|API budget/;

/** Why a window is not committed: a job of its flow failed for good, or undefined while it is on its way. */
async function failure(context: PipelineContext, outcome: WindowOutcome): Promise<string | undefined> {
  const extract = await context.queues.extract.getJob(outcome.extractJobId);
  if (!extract) return undefined;
  const extractState = await extract.getState();
  if (extractState === 'failed') return extract.failedReason;
  if (extractState !== 'completed') return undefined;
  const value = resultOf(extract, 'extract');
  if (!value?.loadJobId) return undefined;
  const load = await context.queues.load.getJob(value.loadJobId);
  if (!load) return undefined;
  const loadState = await load.getState();
  if (loadState === 'failed') return load.failedReason;
  if (loadState !== 'waiting-children') return undefined;
  // The upload may have failed for good: the load then waits (the child stays a dependency) for an operator.
  const { unprocessed = [] } = await load.getDependencies({ unprocessed: { count: 10 } });
  for (const childKey of unprocessed) {
    const { queue, jobId } = parseChildKey(context.config.redis.prefix, childKey);
    const nodeId = uploadQueueNode(queue);
    if (nodeId === null) continue;
    const upload = await context.queues.upload(nodeId).getJob(jobId);
    if (upload && (await upload.getState()) === 'failed') {
      return `upload ${jobId} failed (${upload.failedReason}); retry it in the dashboard`;
    }
  }
  return undefined;
}

/** Rows of a committed window: what its load reported, else what its extract read. */
/**
 * The rows of a window that left its plan's pending set, once everything of it has finished: its load job (when it
 * had rows) completed too — a batch commits its windows first and wakes their load jobs after. Undefined until then.
 */
async function committedRows(context: PipelineContext, outcome: WindowOutcome): Promise<number | undefined> {
  const extract = await context.queues.extract.getJob(outcome.extractJobId);
  const value = resultOf(extract, 'extract');
  if (!value) return 0;
  if (value.loadJobId) {
    const load = await context.queues.load.getJob(value.loadJobId);
    // Gone (retention) counts as finished; otherwise its result says it completed.
    if (load && !load.finishedOn) return undefined;
    const loaded = resultOf(load, 'load');
    if (typeof loaded?.rowsLoaded === 'number') return loaded.rowsLoaded;
  }
  return Math.max(0, value.rows);
}

async function follow(context: PipelineContext, windows: WindowOutcome[]): Promise<void> {
  const byExport = new Map<string, WindowOutcome[]>();
  for (const w of windows) {
    if (w.state !== 'pending') continue;
    const key = `${w.instanceId}\u0000${w.exportName}`;
    byExport.set(key, [...(byExport.get(key) ?? []), w]);
  }
  for (const group of byExport.values()) {
    const { instanceId, exportName } = group[0]!;
    const [pending, plan] = await Promise.all([
      context.exportState.pendingWindowIds(instanceId, exportName),
      context.exportState.currentPlan(instanceId, exportName),
    ]);
    const stillPending = new Set(pending);
    for (const outcome of group) {
      if (plan !== outcome.plan) {
        outcome.state = 'failed';
        outcome.error = `its plan ${outcome.plan} was replaced by plan ${plan} (reset, or its jobs were removed)`;
      } else if (!stillPending.has(outcome.windowId)) {
        const rows = await committedRows(context, outcome);
        if (rows !== undefined) {
          outcome.state = 'committed';
          outcome.rows = rows;
        }
      } else {
        const reason = await failure(context, outcome);
        if (reason !== undefined) {
          outcome.state = 'failed';
          outcome.error = reason;
        }
      }
    }
  }
}

/** The windows of an export's current plan that have not committed: what an in-flight export still owes. */
async function inFlightWindows(
  context: PipelineContext,
  instanceId: string,
  exportName: string,
): Promise<WindowOutcome[]> {
  const [ids, plan] = await Promise.all([
    context.exportState.pendingWindowIds(instanceId, exportName),
    context.exportState.currentPlan(instanceId, exportName),
  ]);
  return ids.map((windowId) => ({
    instanceId,
    exportName,
    plan,
    windowId,
    extractJobId: catalog.extract.jobId({ instanceId, exportName, plan, window: parseWindowId(windowId) }),
    state: 'pending' as const,
    rows: 0,
  }));
}

export async function runOnce(
  context: PipelineContext,
  options: RunOnceOptions = {},
): Promise<RunOnceReport> {
  const summary = await fanout(context, undefined, {
    instanceIds: options.instanceIds ?? context.config.instances.map((i) => i.id),
    exports: options.exports ?? null,
    reason: 'manual',
  });
  const windows: WindowOutcome[] = summary.planned.flatMap((p) =>
    p.planned.map((w) => ({
      instanceId: p.instanceId,
      exportName: p.exportName,
      plan: p.plan,
      windowId: w.windowId,
      extractJobId: w.extractJobId,
      state: 'pending' as const,
      rows: 0,
    })),
  );
  const skipped: FanoutSummary['skipped'] = [];
  for (const s of summary.skipped) {
    if (IN_FLIGHT.test(s.reason))
      windows.push(...(await inFlightWindows(context, s.instanceId, s.exportName)));
    else skipped.push(s);
  }
  const deadline = Date.now() + (options.timeoutMs ?? 30 * 60_000);
  const pollMs = options.pollMs ?? 250;
  while (windows.some((w) => w.state === 'pending')) {
    if (Date.now() > deadline) break;
    await follow(context, windows);
    options.onProgress?.(windows);
    if (windows.some((w) => w.state === 'pending')) await new Promise((r) => setTimeout(r, pollMs));
  }
  for (const w of windows) {
    if (w.state === 'pending') w.error = 'not committed before the deadline: still running';
  }
  const ok = windows.every((w) => w.state === 'committed') && skipped.every((s) => CLEAN_SKIP.test(s.reason));
  return { fanout: { ...summary, skipped }, windows, ok };
}
