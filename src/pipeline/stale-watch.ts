import { formatDuration } from '../config/duration.ts';
import type { Notifier } from '../notify/webhook.ts';
import type { PipelineContext } from './context.ts';
import { checkHealth, formatAge } from './health.ts';

// The scheduler role looks for stale exports every `notify.checkInterval`. A stale export is reported once: a
// field in a Redis hash (HSETNX, so several schedulers agree) marks it reported until it loads again, when the
// mark is cleared and a later staleness is reported anew.

const field = (instanceId: string, exportName: string) => `stale|${instanceId}|${exportName}`;

/** Sends one notification per export that became stale since the last check; returns the ones sent. */
export async function notifyStaleExports(context: PipelineContext, notifier: Notifier): Promise<string[]> {
  const staleAfterMs = context.config.notify?.staleAfterMs;
  if (staleAfterMs === undefined) return [];
  const report = await checkHealth(context, staleAfterMs);
  const sent: string[] = [];
  for (const row of report.instances.flatMap((i) => i.exports)) {
    const key = field(row.instanceId, row.exportName);
    if (!row.problems.includes('stale')) {
      await context.redis.hdel(context.keys.notified(), key);
      continue;
    }
    const first = await context.redis.hsetnx(context.keys.notified(), key, new Date().toISOString());
    if (first !== 1) continue;
    await notifier.send({
      kind: 'export-stale',
      instanceId: row.instanceId,
      exportName: row.exportName,
      lastLoadedAt: row.lastLoadedAt,
      age: formatAge(row.ageMs),
      allowed: formatDuration(staleAfterMs),
    });
    sent.push(`${row.instanceId}/${row.exportName}`);
  }
  return sent;
}
