import { UPLOAD_QUEUE_PREFIX } from './catalog.ts';
import type { PipelineContext } from './context.ts';
import type { ExtractOutcome } from './processors/extract.ts';
import { type FanoutSummary, fanout } from './processors/fanout.ts';

// `lsa start --once` and `lsa run`: plan windows now (the same fan-out a tick runs), then follow every window
// through extract → upload → load until each has committed or failed for good.

export interface WindowOutcome {
  instanceId: string;
  exportName: string;
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

/** A job waiting for another attempt is delayed or waiting, so `failed` means failed for good. */
function finallyFailed(state: string): boolean {
  return state === 'failed';
}

async function follow(context: PipelineContext, outcome: WindowOutcome): Promise<void> {
  const extract = await context.queues.extract.getJob(outcome.extractJobId);
  // Missing for a moment while a dead node's window is re-added under the same id; the deadline bounds it.
  if (!extract) return;
  const extractState = await extract.getState();
  if (extractState === 'failed' && finallyFailed(extractState)) {
    outcome.state = 'failed';
    outcome.error = extract.failedReason;
    return;
  }
  if (extractState !== 'completed') return;
  // The job object may have been read just before it completed: read it again for its return value.
  const value = (extract.returnvalue ??
    (await context.queues.extract.getJob(outcome.extractJobId))?.returnvalue) as ExtractOutcome | null;
  if (!value) return;
  if (!value.loadJobId) {
    outcome.state = 'committed';
    outcome.rows = 0;
    return;
  }
  const load = await context.queues.load.getJob(value.loadJobId);
  if (!load) {
    outcome.state = 'failed';
    outcome.error = `load job ${value.loadJobId} disappeared`;
    return;
  }
  const loadState = await load.getState();
  if (loadState === 'completed') {
    const loaded = (load.returnvalue ?? (await context.queues.load.getJob(value.loadJobId))?.returnvalue) as {
      rowsLoaded: number;
    } | null;
    if (!loaded) return;
    outcome.state = 'committed';
    outcome.rows = loaded.rowsLoaded;
  } else if (loadState === 'failed' && finallyFailed(loadState)) {
    outcome.state = 'failed';
    outcome.error = load.failedReason;
  } else if (loadState === 'waiting-children') {
    // The upload may have failed for good: then the load waits (the child stays a dependency) for an
    // operator's retry.
    const { unprocessed = [] } = await load.getDependencies({ unprocessed: { count: 10 } });
    for (const childKey of unprocessed) {
      const [queueName, jobId] = childKey.slice(context.config.redis.prefix.length + 1).split(/:(.*)/s) as [
        string,
        string,
      ];
      if (!queueName.startsWith(UPLOAD_QUEUE_PREFIX)) continue;
      const upload = await context.queues.upload(queueName.slice(UPLOAD_QUEUE_PREFIX.length)).getJob(jobId);
      if (upload && finallyFailed(await upload.getState())) {
        outcome.state = 'failed';
        outcome.error = `upload ${jobId} failed (${upload.failedReason}); retry it in the dashboard`;
      }
    }
  }
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
    p.extractJobIds.map((extractJobId) => ({
      instanceId: p.instanceId,
      exportName: p.exportName,
      extractJobId,
      state: 'pending' as const,
      rows: 0,
    })),
  );
  const deadline = Date.now() + (options.timeoutMs ?? 30 * 60_000);
  const pollMs = options.pollMs ?? 250;
  while (windows.some((w) => w.state === 'pending')) {
    if (Date.now() > deadline) break;
    for (const window of windows) if (window.state === 'pending') await follow(context, window);
    options.onProgress?.(windows);
    if (windows.some((w) => w.state === 'pending')) await new Promise((r) => setTimeout(r, pollMs));
  }
  return { fanout: summary, windows, ok: windows.every((w) => w.state === 'committed') };
}
