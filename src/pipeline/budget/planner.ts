import type { InstanceConfig, PipelineConfig, ResolvedExport } from '../../config/model.ts';
import { refreshIntervalMs } from '../../exports/freshness.ts';
import { ApiCallStore } from '../../state/api-calls.ts';
import type { ExportStateStore } from '../../state/export-state.ts';
import type { RunStatusStore } from '../../state/run-status.ts';
import { nextPlan } from '../next-plan.ts';
import { type BudgetDecision, calibrationScale, decideBudget, type ExportBudgetInput } from './forecast.ts';
import { dayOf, monthEndMs, monthOf, tickIntervalMs } from './ticks.ts';

// Feeds the budget decision (forecast.ts) from Redis and config, for one instance at one fan-out, and keeps the
// month's allowance as plans are made: the last guard, which refuses a plan that no longer fits what is left.

export interface BudgetState {
  redis: ConstructorParameters<typeof ApiCallStore>[0];
  keys: ConstructorParameters<typeof ApiCallStore>[1];
  exportState: ExportStateStore;
  runStatus: RunStatusStore;
  config: PipelineConfig;
}

/** Snapshots and tables Looker refreshes daily: reading them more often than that buys little. */
export function isLowPriority(resolved: ResolvedExport): boolean {
  return resolved.definition.mode.kind === 'snapshot' || resolved.definition.refresh === 'daily';
}

/** Query calls per window: a row count first (when the instance checks counts), then at least one page. */
export function callsPerWindow(instance: InstanceConfig): number {
  return instance.rowCountCheck ? 2 : 1;
}

export class InstanceBudget {
  /** Calls the plans of this fan-out were estimated at, so far. */
  private planned = 0;

  private constructor(
    readonly instance: InstanceConfig,
    readonly decision: BudgetDecision,
    private readonly store: ApiCallStore,
    private readonly month: string,
    readonly used: number,
    /** Measured calls per estimated call this month (see forecast.ts). */
    private readonly scale: number,
  ) {}

  /** The budget of one instance at `nowMs`, or undefined when the instance has none (unlimited). */
  static async load(
    state: BudgetState,
    instance: InstanceConfig,
    exports: ResolvedExport[],
    nowMs: number,
  ): Promise<InstanceBudget | undefined> {
    if (!instance.apiBudget) return undefined;
    const store = new ApiCallStore(state.redis, state.keys);
    const month = monthOf(nowMs);
    const usage = await store.usage(instance.id, month);
    const lastPlans = await store.lastPlans(
      instance.id,
      exports.map((e) => e.definition.name),
    );
    const inputs: ExportBudgetInput[] = [];
    for (const resolved of exports) {
      inputs.push(await exportInput(state, instance, resolved, nowMs, lastPlans));
    }
    const cron = instance.cron ?? state.config.schedule.cron;
    const calibration = usage.estimated > 0 ? usage.used / usage.estimated : 1;
    const decision = decideBudget({
      instanceId: instance.id,
      budget: instance.apiBudget.queriesPerMonth,
      used: usage.used,
      calibration,
      callsPerWindow: callsPerWindow(instance),
      nowMs,
      monthEndMs: monthEndMs(nowMs),
      tickMs: tickIntervalMs(cron, state.config.schedule.timezone, nowMs),
      exports: inputs,
    });
    await store.recordForecast(instance.id, month, decision.forecast);
    return new InstanceBudget(instance, decision, store, month, usage.used, calibrationScale(calibration));
  }

  /**
   * Whether a plan of `windows` windows may be made now: the last guard, so the month's calls never pass the
   * budget by the planner's own doing. Estimates made earlier in this fan-out count as spent.
   */
  admits(windows: number): { ok: true; estimate: number } | { ok: false; reason: string } {
    const estimate = Math.ceil(windows * callsPerWindow(this.instance) * this.scale);
    const left = this.instance.apiBudget!.queriesPerMonth - this.used - this.planned;
    if (estimate > left) {
      return {
        ok: false,
        reason: `its ~${estimate} Looker queries do not fit the ${Math.max(0, left)} left of this month's API budget`,
      };
    }
    return { ok: true, estimate };
  }

  async recordPlan(resolved: ResolvedExport, nowMs: number, estimate: number): Promise<void> {
    this.planned += estimate;
    await this.store.recordPlan(this.instance.id, resolved.definition.name, this.month, nowMs, estimate);
  }

  /** True once per instance per UTC day: the warning is logged and sent then. */
  firstWarningToday(nowMs: number): Promise<boolean> {
    return this.store.firstWarningOfDay(this.instance.id, dayOf(nowMs));
  }
}

async function exportInput(
  state: BudgetState,
  instance: InstanceConfig,
  resolved: ResolvedExport,
  nowMs: number,
  lastPlans: Map<string, number>,
): Promise<ExportBudgetInput> {
  const name = resolved.definition.name;
  const snapshot = resolved.definition.mode.kind === 'snapshot';
  const pending = await state.exportState.pendingWindowIds(instance.id, name);
  let now: ExportBudgetInput['now'] = null;
  if (pending.length === 0) {
    const plan = await nextPlan(state.exportState, instance.id, resolved, nowMs);
    const reopen = plan.windows.some((w) => w.window.kind === 'reopen');
    const ranges = plan.windows.filter((w) => w.window.kind === 'range');
    const first = ranges[0]?.window;
    if (snapshot || (first?.kind === 'range' && first.startMs === null)) now = { open: true, reopen };
    else if (first?.kind === 'range') now = { startMs: first.startMs!, endMs: plan.endMs, reopen };
    else if (reopen) now = { startMs: plan.endMs, endMs: plan.endMs, reopen };
  }
  const run = await state.runStatus.get(instance.id, name);
  const lastPlan = lastPlans.get(name);
  return {
    name,
    lowPriority: isLowPriority(resolved),
    refreshMs: refreshIntervalMs(resolved.definition, instance.systemActivity),
    windowMs: resolved.settings.windowMs,
    lookbackMs: snapshot ? 0 : resolved.settings.lookbackMs,
    snapshot,
    reopens: resolved.definition.openWhileNull !== undefined,
    lastWindowRows: run.lastRows,
    pageSize: resolved.settings.pageSize,
    sinceLastPlanMs: lastPlan === undefined ? null : Math.max(0, nowMs - lastPlan),
    now,
  };
}
