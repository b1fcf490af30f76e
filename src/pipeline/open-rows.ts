import type { ResolvedExport } from '../config/model.ts';
import type { ExtractWindow } from '../window.ts';

/**
 * Whether the regular plan's extract of this window records what it covered and which rows were still open
 * (ExportStateStore.stageOpenRows), which the window's commit then applies. A backfill never does: open rows are
 * the regular plan's business. The commit looks for staged rows only where this says so.
 */
export function stagesOpenRows(
  resolved: ResolvedExport,
  window: ExtractWindow,
): window is Exclude<ExtractWindow, { kind: 'snapshot' }> {
  return Boolean(resolved.definition.openWhileNull) && window.kind !== 'snapshot';
}
