import { ApiCallStore } from '../state/api-calls.ts';
import type { ExportRunStatus } from '../state/run-status.ts';
import { monthOf } from './budget/ticks.ts';
import type { PipelineContext } from './context.ts';

// One row per instance × export, read from Redis: what the status page, `lsa status` and /metrics show.

export interface ExportStatusRow extends ExportRunStatus {
  instanceId: string;
  exportName: string;
  initialLoadDone: boolean;
  watermark: string | null;
  pendingWindows: number;
}

export interface PipelineStatus {
  exports: ExportStatusRow[];
  queues: Record<string, Record<string, number>>;
  nodes: { nodeId: string; lastHeartbeat: string }[];
  /** Instances with an API budget: Looker query calls this month (UTC) and the last fan-out's forecast. */
  budgets: { instanceId: string; month: string; used: number; budget: number; forecast: number | null }[];
}

const STATES = ['waiting', 'active', 'delayed', 'completed', 'failed', 'waiting-children'] as const;

export async function collectStatus(context: PipelineContext): Promise<PipelineStatus> {
  const exports: ExportStatusRow[] = [];
  for (const instance of context.config.instances) {
    for (const e of instance.exports) {
      const name = e.definition.name;
      const state = await context.exportState.get(instance.id, name);
      const run = await context.runStatus.get(instance.id, name);
      exports.push({
        instanceId: instance.id,
        exportName: name,
        initialLoadDone: !state.initialLoad,
        watermark: state.watermark,
        pendingWindows: state.pendingWindows,
        ...run,
      });
    }
  }
  const budgets = await collectBudgets(context);
  const nodes = await context.nodes.list();
  const queues: PipelineStatus['queues'] = {};
  const all = [
    context.queues.scheduler,
    context.queues.extract,
    context.queues.load,
    ...nodes.map((n) => context.queues.upload(n.nodeId)),
  ];
  for (const queue of all) queues[queue.name] = await queue.getJobCounts(...STATES);
  return {
    exports,
    queues,
    budgets,
    nodes: nodes.map((n) => ({ nodeId: n.nodeId, lastHeartbeat: new Date(n.lastHeartbeatMs).toISOString() })),
  };
}

/** Instances with an API budget: this month's (UTC, pipeline clock) query calls and the last forecast. */
export async function collectBudgets(context: PipelineContext): Promise<PipelineStatus['budgets']> {
  const apiCalls = new ApiCallStore(context.redis, context.keys);
  const month = monthOf(context.now());
  const budgets: PipelineStatus['budgets'] = [];
  for (const instance of context.config.instances) {
    if (!instance.apiBudget) continue;
    const usage = await apiCalls.usage(instance.id, month);
    budgets.push({
      instanceId: instance.id,
      month,
      used: usage.used,
      budget: instance.apiBudget.queriesPerMonth,
      forecast: usage.forecast,
    });
  }
  return budgets;
}

export function renderTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export function renderStatusTable(status: PipelineStatus): string {
  const rows = status.exports.map((r) => [
    r.instanceId,
    r.exportName,
    r.initialLoadDone ? 'yes' : 'no',
    r.watermark ?? '-',
    String(r.pendingWindows),
    r.lastRunAt ?? '-',
    String(r.rowsLoaded),
    r.lastError ? r.lastError.slice(0, 60) : '',
  ]);
  const exportsTable = renderTable(
    [
      'instance',
      'export',
      'initial load done',
      'watermark',
      'pending',
      'last run',
      'rows loaded',
      'last error',
    ],
    rows,
  );
  const queueRows = Object.entries(status.queues).map(([name, counts]) => [
    name,
    ...STATES.map((s) => String(counts[s] ?? 0)),
  ]);
  const budgetLines = status.budgets.map(describeBudget);
  return [
    exportsTable,
    ...(budgetLines.length > 0 ? ['', 'Looker API budget:', ...budgetLines.map((l) => `  ${l}`)] : []),
    '',
    renderTable(['queue', ...STATES], queueRows),
  ].join('\n');
}

/** `prod-eu: 412 / 1,000 queries this month, forecast 930` (over budget: said so). */
export function describeBudget(b: PipelineStatus['budgets'][number]): string {
  const n = (value: number) => value.toLocaleString('en-US');
  const forecast =
    b.forecast === null
      ? 'no forecast yet'
      : `forecast ${n(b.forecast)}${b.forecast > b.budget ? ' (over budget: low-priority exports run less often)' : ''}`;
  return `${b.instanceId}: ${n(b.used)} / ${n(b.budget)} queries this month, ${forecast}`;
}
