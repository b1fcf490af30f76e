import type { InstanceConfig, ResolvedExport } from '../config/model.ts';
import { findExport, findInstance } from '../config/model.ts';
import { silentLogger } from '../logging.ts';
import { createContext, type PipelineContext } from '../pipeline/context.ts';
import { nextPlan } from '../pipeline/next-plan.ts';
import { collectBudgets, describeBudget, renderTable } from '../pipeline/status.ts';
import { describeWindow, type ExtractWindow } from '../window.ts';
import { CONFIG_OPTIONS, type Command, ensureRedisReachable, loadConfig } from './command.ts';
import { COMMAND_SUMMARIES } from './summaries.ts';

// `lsa plan`: a dry run. For each instance × export, the windows the next run would extract and the Looker
// queries they cost, from the same planning code the fan-out runs, without planning or enqueueing anything.
// Without `--count` it reads Redis only (no Looker secrets); with it, each window's rows are counted in Looker.

interface ExportPlan {
  instance: string;
  export: string;
  inFlight: number;
  windows: { window: string; rows?: number; queries?: number }[];
  /** Looker queries: one count per window when the instance checks counts, then one page per pageSize rows. */
  queries: number | null;
  rows: number | null;
}

function minimumQueries(instance: InstanceConfig, windows: number): number {
  return windows * (instance.rowCountCheck ? 2 : 1);
}

async function countRows(
  context: PipelineContext,
  instance: InstanceConfig,
  resolved: ResolvedExport,
  window: ExtractWindow,
): Promise<number> {
  const { countWindowRows } = await import('../looker/extract.ts');
  return countWindowRows(context.looker.get(instance), instance, resolved, window);
}

export const planCommand: Command = {
  name: 'plan',
  summary: COMMAND_SUMMARIES.plan,
  usage: 'plan [--instance id] [--export name] [--count] [--json] [--config file]',
  options: {
    ...CONFIG_OPTIONS,
    instance: { type: 'string', valueName: 'id', description: 'only this instance' },
    export: { type: 'string', valueName: 'name', description: 'only this export' },
    count: {
      type: 'boolean',
      description: 'count each window’s rows in Looker (one query per window; needs the Looker credentials)',
    },
    json: { type: 'boolean', description: 'print JSON' },
  },
  examples: [
    { command: 'lsa plan', does: 'what the next run of every instance × export would read' },
    {
      command: 'lsa plan --instance prod-eu --export history --count',
      does: 'with the rows each window holds now, counted in Looker',
    },
  ],
  exitCodes: { 1: 'bad config, an unknown instance or export, Redis or Looker unreachable' },
  async run(values) {
    const count = values.count === true;
    const config = loadConfig(values, { requireSecrets: count });
    const instances =
      typeof values.instance === 'string' ? [findInstance(config, values.instance)] : config.instances;
    await ensureRedisReachable(config);
    const context = createContext(config, { logger: silentLogger() });
    const plans: ExportPlan[] = [];
    const budgets: (Awaited<ReturnType<typeof collectBudgets>>[number] & {
      planned: number;
      line: string;
    })[] = [];
    try {
      const nowMs = context.now();
      for (const instance of instances) {
        const exports =
          typeof values.export === 'string' ? [findExport(instance, values.export)] : instance.exports;
        for (const resolved of exports) {
          const name = resolved.definition.name;
          const inFlight = (await context.exportState.pendingWindowIds(instance.id, name)).length;
          const { windows } =
            inFlight > 0
              ? { windows: [] }
              : await nextPlan(context.exportState, instance.id, resolved, nowMs);
          const plan: ExportPlan = {
            instance: instance.id,
            export: name,
            inFlight,
            windows: windows.map((w) => ({ window: describeWindow(w.window) })),
            queries: count ? 0 : minimumQueries(instance, windows.length),
            rows: count ? 0 : null,
          };
          if (count) {
            for (const [i, w] of windows.entries()) {
              const rows = await countRows(context, instance, resolved, w.window);
              const queries =
                (instance.rowCountCheck ? 1 : 0) + Math.floor(rows / resolved.settings.pageSize) + 1;
              plan.windows[i] = { ...plan.windows[i]!, rows, queries };
              plan.rows! += rows;
              plan.queries! += queries;
            }
          }
          plans.push(plan);
        }
      }
      // Instances with an API budget: this plan's queries against what the month has left.
      for (const b of await collectBudgets(context)) {
        if (!instances.some((i) => i.id === b.instanceId)) continue;
        const planned = plans
          .filter((p) => p.instance === b.instanceId)
          .reduce((n, p) => n + (p.queries ?? 0), 0);
        budgets.push({
          ...b,
          planned,
          line: `${describeBudget(b)}; this plan ${count ? '' : '≥ '}${planned}`,
        });
      }
    } finally {
      await context.close();
    }
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ plans, budgets }, null, 2)}\n`);
      return 0;
    }
    const rows = plans.map((p) => [
      p.instance,
      p.export,
      p.inFlight > 0 ? `${p.inFlight} in flight: nothing new planned` : String(p.windows.length),
      p.windows.length > 0
        ? `${p.windows[0]!.window}${p.windows.length > 1 ? ` … ${p.windows.at(-1)!.window}` : ''}`
        : '',
      p.queries === null ? '' : count ? String(p.queries) : `≥ ${p.queries}`,
      p.rows === null ? '(--count)' : String(p.rows),
    ]);
    process.stdout.write(
      `${renderTable(['instance', 'export', 'windows', 'range', 'Looker queries', 'rows'], rows)}\n`,
    );
    if (budgets.length > 0)
      process.stdout.write(`\nLooker API budget:\n${budgets.map((b) => `  ${b.line}\n`).join('')}`);
    return 0;
  },
};
