import type { PipelineContext } from './context.ts';

// Job schedulers are reconciled from config at every boot, from any number of processes at once: upserting is
// idempotent (one scheduler and one pending tick per id, however many processes boot), and schedulers that
// config no longer wants are removed. Config owns them: the dashboard shows the scheduler queue read-only.

export const GLOBAL_SCHEDULER_ID = 'tick-all';
export const instanceSchedulerId = (instanceId: string) => `tick-${instanceId}`;

export async function reconcileSchedulers(
  context: PipelineContext,
): Promise<{ upserted: string[]; removed: string[] }> {
  const { config } = context;
  const queue = context.queues.scheduler;
  const wanted = new Map<string, { cron: string; instanceIds: string[] | null }>();
  if (config.instances.some((i) => i.cron === undefined)) {
    wanted.set(GLOBAL_SCHEDULER_ID, { cron: config.schedule.cron, instanceIds: null });
  }
  for (const instance of config.instances) {
    if (instance.cron)
      wanted.set(instanceSchedulerId(instance.id), { cron: instance.cron, instanceIds: [instance.id] });
  }
  for (const [id, { cron, instanceIds }] of wanted) {
    await queue.upsertJobScheduler(
      id,
      { pattern: cron, tz: config.schedule.timezone },
      { name: 'tick', data: { instanceIds, exports: null, reason: 'schedule' } },
    );
  }
  const removed: string[] = [];
  const existing = await queue.getJobSchedulers(0, -1);
  for (const scheduler of existing) {
    const id = scheduler.key;
    if (!wanted.has(id)) {
      await queue.removeJobScheduler(id);
      removed.push(id);
    }
  }
  return { upserted: [...wanted.keys()], removed };
}
