import { formatDuration, parseDuration } from '../config/duration.ts';
import { silentLogger } from '../logging.ts';
import type { HealthReport } from '../pipeline/health.ts';
import { renderTable } from '../pipeline/status.ts';
import { CONFIG_OPTIONS, type Command, ensureRedisReachable, loadConfig, UsageError } from './command.ts';
import { COMMAND_SUMMARIES } from './summaries.ts';

// `lsa status` reads Redis only: it needs the config and Redis, never a Looker secret, and it answers (or says
// Redis is unreachable) within seconds. `--check` turns it into a probe for cron jobs and monitoring: exit 1
// when any configured instance × export is stale, failed for good, or its instance unreachable.

/** The age past which an export is stale when --max-age is not given (as pipeline/health.ts's default). */
const DEFAULT_MAX_AGE = '3h';

function renderHealth(
  report: HealthReport,
  { describeProblems, formatAge }: typeof import('../pipeline/health.ts'),
): string {
  const rows = report.instances.flatMap((instance) =>
    instance.exports.map((e) => [
      e.instanceId,
      e.exportName,
      e.problems.length === 0 ? 'ok' : 'PROBLEM',
      formatAge(e.ageMs),
      String(e.pendingWindows),
      String(e.failedWindows.length),
      describeProblems(e, report.maxAgeMs),
    ]),
  );
  const table = renderTable(
    ['instance', 'export', 'health', 'last load', 'pending', 'failed', 'problem'],
    rows,
  );
  const unhealthy = rows.filter((r) => r[2] !== 'ok').length;
  const unreachable = report.instances
    .filter((i) => i.unreachableSince)
    .map((i) => `${i.instanceId} unreachable since ${i.unreachableSince}: ${i.unreachableError ?? ''}`);
  const verdict = report.healthy
    ? `all ${rows.length} export(s) healthy (max age ${formatDuration(report.maxAgeMs)})`
    : `${unhealthy} of ${rows.length} export(s) unhealthy`;
  return [table, ...(unreachable.length > 0 ? ['', ...unreachable] : []), '', verdict].join('\n');
}

export const statusCommand: Command = {
  name: 'status',
  summary: COMMAND_SUMMARIES.status,
  usage: 'status [--json] [--check [--max-age 3h]] [--config file]',
  options: {
    ...CONFIG_OPTIONS,
    json: { type: 'boolean', description: 'print JSON instead of a table' },
    check: {
      type: 'boolean',
      description:
        'exit 1 if any instance × export is stale, never loaded, failed for good or its instance unreachable',
    },
    'max-age': {
      type: 'string',
      valueName: 'duration',
      description: 'with --check: the age past which the last load is stale (default 3h)',
    },
  },
  examples: [
    {
      command: 'lsa status',
      does: 'per instance × export: watermark, pending windows, last run; queue counts',
    },
    { command: 'lsa status --check --max-age 2h', does: 'exit 1 if any export has not loaded for 2 hours' },
    { command: 'lsa status --json | jq .exports', does: 'the same, as JSON' },
  ],
  exitCodes: {
    0: 'status printed (with --check: every export healthy)',
    1: 'with --check: at least one export unhealthy; otherwise Redis unreachable or a bad config',
  },
  async run(values) {
    const maxAge = typeof values['max-age'] === 'string' ? values['max-age'] : DEFAULT_MAX_AGE;
    const maxAgeMs = parseDuration(maxAge);
    if (maxAgeMs === undefined || maxAgeMs <= 0)
      throw new UsageError(`--max-age "${maxAge}" is not a duration like 30m, 3h or 1d`);
    // Reading status needs no Looker credentials: the secrets' variables may be unset here.
    const config = loadConfig(values, { requireSecrets: false });
    await ensureRedisReachable(config);
    // Loaded only once Redis answers: an operator told "Redis unreachable" should not wait for the Google clients.
    const [{ createContext }, health, { collectStatus, renderStatusTable }] = await Promise.all([
      import('../pipeline/context.ts'),
      import('../pipeline/health.ts'),
      import('../pipeline/status.ts'),
    ]);
    const context = createContext(config, { logger: silentLogger() });
    try {
      if (values.check) {
        const report = await health.checkHealth(context, maxAgeMs);
        process.stdout.write(
          values.json ? `${JSON.stringify(report, null, 2)}\n` : `${renderHealth(report, health)}\n`,
        );
        return report.healthy ? 0 : 1;
      }
      const status = await collectStatus(context);
      process.stdout.write(
        values.json ? `${JSON.stringify(status, null, 2)}\n` : `${renderStatusTable(status)}\n`,
      );
      return 0;
    } finally {
      await context.close();
    }
  },
};
