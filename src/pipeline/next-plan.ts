import type { ResolvedExport } from '../config/model.ts';
import type { ExportStateStore } from '../state/export-state.ts';
import { type ExtractWindow, MAX_REOPEN_KEYS, windowInstantMs } from '../window.ts';
import { planWindows } from './planning.ts';

// The windows the next run of one export reads: its ranges from the watermark (planning.ts), and a reopen window
// for rows an earlier window found still open (a running query, a job in progress), however old. The fan-out
// plans exactly this; `lsa plan` shows it without planning anything.

export interface PlannedWindow {
  window: ExtractWindow;
  /** Where the window sits in the pending set (it orders the watermark's progress). */
  startMs: number;
}

export interface NextPlan {
  windows: PlannedWindow[];
  /** Where the watermark goes once every window has committed. */
  endMs: number;
}

export async function nextPlan(
  state: ExportStateStore,
  instanceId: string,
  resolved: ResolvedExport,
  nowMs: number,
): Promise<NextPlan> {
  const exportName = resolved.definition.name;
  const watermarkMs = await state.watermarkMs(instanceId, exportName);
  const plan = planWindows(resolved, watermarkMs, nowMs);
  const windows = plan.windows.map((w) => ({ window: w, startMs: windowInstantMs(w) }));
  if (resolved.definition.openWhileNull) {
    // Open rows inside this plan's ranges are read with them anyway; only older ones need a reopen window.
    const first = plan.windows[0];
    const before = first?.kind === 'range' ? first.startMs : null;
    const keys = await state.openRowKeys(instanceId, exportName, before, MAX_REOPEN_KEYS);
    // Filed at the plan's end: a reopen window must never hold the watermark back, nor push it forward.
    const reopen = { kind: 'reopen' as const, atMs: Math.floor(nowMs / 1000) * 1000, keys };
    if (keys.length > 0) windows.push({ window: reopen, startMs: plan.endMs });
  }
  return { windows, endMs: plan.endMs };
}
