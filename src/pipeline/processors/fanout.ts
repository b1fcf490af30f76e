import type { Job } from 'bullmq';
import type { InstanceConfig, ResolvedExport } from '../../config/model.ts';
import type { HeldLock } from '../../state/plan-lock.ts';
import { parseWindowId, windowId } from '../../window.ts';
import { expectLoads, holdBatchesForFanout } from '../batching/batching.ts';
import { InstanceBudget } from '../budget/planner.ts';
import { catalog, type TickPayload } from '../catalog.ts';
import type { PipelineContext } from '../context.ts';
import { jobName } from '../job-names.ts';
import { nextPlan } from '../next-plan.ts';

// The scheduler's tick: one extract job per (instance, export, window). An export whose previous windows are
// still in flight is skipped (its windows would overlap them); nothing is planned twice, and job ids are
// deterministic, so two ticks racing add each window once. An instance with an API budget plans within it
// (budget/forecast.ts): wider windows, then low-priority exports less often, then not at all this month.

export interface FanoutSummary {
  planned: {
    instanceId: string;
    exportName: string;
    plan: number;
    windows: number;
    extractJobIds: string[];
    /** Each planned window with its extract job, in plan order. */
    planned: { windowId: string; extractJobId: string }[];
  }[];
  skipped: { instanceId: string; exportName: string; reason: string }[];
  /** Per instance with an API budget: the month's forecast, and the day's warning when it does not fit. */
  budgets: { instanceId: string; used: number; budget: number; forecast: number; warning?: string }[];
}

export function instancesForTick(context: PipelineContext, data: TickPayload): InstanceConfig[] {
  if (data.instanceIds === null) return context.config.instances.filter((i) => i.cron === undefined);
  return data.instanceIds.map((id) => {
    const instance = context.config.instances.find((i) => i.id === id);
    if (!instance) throw new Error(`tick names unknown instance "${id}"`);
    return instance;
  });
}

/** The instance's exports the tick plans: all of them, or those it names. */
function exportsForTick(instance: InstanceConfig, data: TickPayload): ResolvedExport[] {
  return instance.exports.filter(
    (resolved) => !data.exports || data.exports.includes(resolved.definition.name),
  );
}

/** True while any window of the export's current plan still has a job (waiting, running, failed for retry). */
async function planInFlight(
  context: PipelineContext,
  instanceId: string,
  resolved: ResolvedExport,
  pending: string[],
) {
  const exportName = resolved.definition.name;
  const plan = await context.exportState.currentPlan(instanceId, exportName);
  for (const id of pending) {
    const window = parseWindowId(id);
    const ref = { instanceId, exportName, plan, window };
    if (await context.queues.extract.getJob(catalog.extract.jobId(ref))) return true;
    if (await context.queues.load.getJob(catalog.load.jobId(ref))) return true;
  }
  return false;
}

/**
 * Instances planned together, export by export across them, so the extract queue alternates instances: a worker's
 * next extracts then belong to different instances, whose query slots are free, instead of queueing behind one
 * instance's few slots (each look at a taken slot costs Redis commands and time). Their plan locks are held
 * together while they are planned: well within a lock's life at this size.
 */
const PLAN_TOGETHER = 50;

export async function fanout(
  context: PipelineContext,
  job: Job | undefined,
  data: TickPayload,
): Promise<FanoutSummary> {
  const summary: FanoutSummary = { planned: [], skipped: [], budgets: [] };
  const nowMs = context.now();
  const instances = instancesForTick(context, data);
  const tables = new Set(
    instances.flatMap((instance) => exportsForTick(instance, data).map((e) => e.definition.name)),
  );
  const hold = await holdBatchesForFanout(context, [...tables]);
  try {
    for (let i = 0; i < instances.length; i += PLAN_TOGETHER) {
      await planTogether(context, instances.slice(i, i + PLAN_TOGETHER), data, nowMs, summary);
    }
  } finally {
    await hold.done();
  }
  await job?.log(
    `planned ${summary.planned.reduce((n, p) => n + p.windows, 0)} windows for ${summary.planned.length} exports; skipped ${summary.skipped.length}`,
  );
  return summary;
}

async function planTogether(
  context: PipelineContext,
  instances: InstanceConfig[],
  data: TickPayload,
  nowMs: number,
  summary: FanoutSummary,
): Promise<void> {
  const locked: {
    instance: InstanceConfig;
    exports: ResolvedExport[];
    budget?: InstanceBudget;
    lock: HeldLock;
  }[] = [];
  try {
    for (const instance of instances) {
      const budget = await InstanceBudget.load(context, instance, instance.exports, nowMs);
      if (budget) await reportBudget(context, budget, nowMs, summary);
      const exports = exportsForTick(instance, data);
      if (exports.length === 0) continue;
      // Two fan-outs (a tick and an `lsa run`, or two schedulers) must not plan the same export at once.
      const lock = await context.planLocks.acquire(instance.id);
      if (!lock) {
        for (const resolved of exports) {
          summary.skipped.push({
            instanceId: instance.id,
            exportName: resolved.definition.name,
            reason: 'another fan-out is planning it',
          });
        }
        continue;
      }
      locked.push({ instance, exports, ...(budget ? { budget } : {}), lock });
    }
    const rounds = Math.max(0, ...locked.map((l) => l.exports.length));
    for (let round = 0; round < rounds; round++) {
      for (const { instance, exports, budget } of locked) {
        const resolved = exports[round];
        if (!resolved) continue;
        await context.exportState.ensure(instance.id, resolved.definition.name);
        await planExport(context, instance, resolved, nowMs, summary, budget);
      }
    }
  } finally {
    for (const { lock } of locked) await lock.release();
  }
}

/** The month's forecast in the summary; the warning, when the schedule does not fit, once per instance per day. */
async function reportBudget(
  context: PipelineContext,
  budget: InstanceBudget,
  nowMs: number,
  summary: FanoutSummary,
): Promise<void> {
  const { decision, instance } = budget;
  const warning = decision.warning && (await budget.firstWarningToday(nowMs)) ? decision.warning : undefined;
  if (warning) context.logger.warn({ instance: instance.id, level: decision.level }, warning);
  summary.budgets.push({
    instanceId: instance.id,
    used: budget.used,
    budget: instance.apiBudget!.queriesPerMonth,
    forecast: decision.forecast,
    ...(warning ? { warning } : {}),
  });
}

async function planExport(
  context: PipelineContext,
  instance: InstanceConfig,
  configured: ResolvedExport,
  nowMs: number,
  summary: FanoutSummary,
  budget: InstanceBudget | undefined,
): Promise<void> {
  let resolved = configured;
  const exportName = resolved.definition.name;
  const pending = await context.exportState.pendingWindowIds(instance.id, exportName);
  if (pending.length > 0) {
    if (await planInFlight(context, instance.id, resolved, pending)) {
      summary.skipped.push({
        instanceId: instance.id,
        exportName,
        reason: `${pending.length} window(s) still in flight`,
      });
      return;
    }
    context.logger.warn({ instance: instance.id, export: exportName }, 'dropping a plan whose jobs are gone');
    await context.exportState.dropPlan(instance.id, exportName);
  }
  const verdict = budget?.decision.exports[exportName];
  if (verdict && !verdict.run) {
    summary.skipped.push({ instanceId: instance.id, exportName, reason: verdict.reason });
    return;
  }
  if (verdict?.run && verdict.windowMs !== resolved.settings.windowMs) {
    resolved = { ...resolved, settings: { ...resolved.settings, windowMs: verdict.windowMs } };
  }
  const plan = await nextPlan(context.exportState, instance.id, resolved, nowMs);
  const planned = plan.windows;
  if (planned.length === 0) {
    summary.skipped.push({
      instanceId: instance.id,
      exportName,
      reason: 'nothing new since the watermark',
    });
    return;
  }
  // The last guard: a plan that no longer fits what is left of the month waits (its watermark with it).
  const admitted = budget?.admits(planned.length);
  if (admitted && !admitted.ok) {
    summary.skipped.push({ instanceId: instance.id, exportName, reason: admitted.reason });
    return;
  }
  const planNumber = await context.exportState.plan(
    instance.id,
    exportName,
    planned.map((p) => ({ id: windowId(p.window), startMs: p.startMs })),
    plan.endMs,
  );
  const jobs = planned.map(({ window }) => {
    const payload = { instanceId: instance.id, exportName, plan: planNumber, window };
    return {
      name: jobName(payload),
      data: payload,
      opts: {
        ...catalog.extract.options(context.config.workers.backoffMs),
        jobId: catalog.extract.jobId(payload),
      },
    };
  });
  // Expected before the extracts exist: a window that joins its batch at once must find itself expected.
  await expectLoads(
    context,
    exportName,
    jobs.map((j) => j.data),
  );
  await context.queues.extract.addBulk(jobs);
  if (budget && admitted?.ok) await budget.recordPlan(resolved, nowMs, admitted.estimate);
  summary.planned.push({
    instanceId: instance.id,
    exportName,
    windows: jobs.length,
    plan: planNumber,
    extractJobIds: jobs.map((j) => j.opts.jobId),
    planned: jobs.map((j) => ({ windowId: windowId(j.data.window), extractJobId: j.opts.jobId })),
  });
}
