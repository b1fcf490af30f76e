import { formatDuration, parseDuration } from '../config/duration.ts';
import { silentLogger } from '../logging.ts';
import { createContext } from '../pipeline/context.ts';
import {
  checkHealth,
  DEFAULT_MAX_AGE_MS,
  describeProblems,
  formatAge,
  type HealthReport,
} from '../pipeline/health.ts';
import { collectStatus, renderStatusTable, renderTable } from '../pipeline/status.ts';
import { CONFIG_OPTIONS, type Command, ensureRedisReachable, loadConfig, UsageError } from './command.ts';
import { COMMAND_SUMMARIES } from './summaries.ts';

// `lsa status` reads Redis only: it needs the config and Redis, never a Looker secret, and it answers (or says
// Redis is unreachable) within seconds. `--check` turns it into a probe for cron jobs and monitoring: exit 1
// when any configured instance × export is stale, failed for good, or its instance unreachable.

function renderHealth(report: HealthReport): string {
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
    let maxAgeMs = DEFAULT_MAX_AGE_MS;
    if (typeof values['max-age'] === 'string') {
      const parsed = parseDuration(values['max-age']);
      if (parsed === undefined || parsed <= 0)
        throw new UsageError(`--max-age "${values['max-age']}" is not a duration like 30m, 3h or 1d`);
      maxAgeMs = parsed;
    }
    // Reading status needs no Looker credentials: the secrets' variables may be unset here.
    const config = loadConfig(values, { requireSecrets: false });
    await ensureRedisReachable(config);
    const context = createContext(config, { logger: silentLogger() });
    try {
      if (values.check) {
        const report = await checkHealth(context, maxAgeMs);
        process.stdout.write(
          values.json ? `${JSON.stringify(report, null, 2)}\n` : `${renderHealth(report)}\n`,
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
