import type { InstanceConfig, ResolvedExport } from '../config/model.ts';
import { silentLogger } from '../logging.ts';
import {
  type BackfillProgress,
  BackfillRangeError,
  checkBackfillRange,
  followBackfill,
  startBackfill,
} from '../pipeline/backfill.ts';
import { createContext } from '../pipeline/context.ts';
import { renderTable } from '../pipeline/status.ts';
import { CONFIG_OPTIONS, type Command, ensureRedisReachable, loadConfig } from './command.ts';
import { COMMAND_SUMMARIES } from './summaries.ts';

// `lsa backfill`: re-load a past range of one incremental export, idempotently, beside the regular schedule.
// The running workers do the work; this command enqueues the windows, follows them with progress on stderr, and
// exits 0 only when every window committed.

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/;

/** `2024-05-01` (midnight UTC) or an ISO instant with its offset; anything else is refused by name. */
export function parseInstant(option: string, text: string): number {
  const ms = DATE_ONLY.test(text)
    ? Date.parse(`${text}T00:00:00Z`)
    : DATE_TIME.test(text)
      ? Date.parse(text)
      : Number.NaN;
  if (Number.isNaN(ms)) {
    throw new BackfillRangeError(
      `${option} "${text}" is not a date (2024-05-01, midnight UTC) or an ISO instant (2024-05-01T06:00:00Z)`,
    );
  }
  return ms;
}

function duration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}

export function progressLine(progress: BackfillProgress): string {
  const eta = progress.etaMs === undefined ? 'ETA unknown' : `ETA ${duration(progress.etaMs)}`;
  const failed = progress.failed > 0 ? `, ${progress.failed} failed` : '';
  return `backfill: ${progress.done}/${progress.windows.length} windows done${failed}, ${progress.rows} rows, ${duration(progress.elapsedMs)} elapsed, ${eta}`;
}

function usageProblem(message: string): number {
  process.stderr.write(`lsa backfill: ${message}\n`);
  return 2;
}

export const backfillCommand: Command = {
  name: 'backfill',
  summary: COMMAND_SUMMARIES.backfill,
  usage: 'backfill --instance <id> --export <name> --from <date> --to <date> [--config file]',
  options: {
    ...CONFIG_OPTIONS,
    instance: { type: 'string', valueName: 'id', description: 'the Looker instance (required)' },
    export: { type: 'string', valueName: 'name', description: 'the incremental export (required)' },
    from: {
      type: 'string',
      valueName: 'date',
      description: 'start of the range, included: 2024-05-01 (midnight UTC) or an ISO instant (required)',
    },
    to: {
      type: 'string',
      valueName: 'date',
      description: 'end of the range, excluded; later than now − lag is brought back to it (required)',
    },
    timeout: {
      type: 'string',
      valueName: 'minutes',
      description: 'stop following after this many minutes (the windows keep loading)',
      default: '360',
    },
  },
  examples: [
    {
      command: 'lsa backfill --instance prod-eu --export history --from 2024-05-01 --to 2024-05-08',
      does: 'load the first week of May of prod-eu history again; running workers do the work',
    },
    {
      command:
        'lsa backfill --instance prod-eu --export event --from 2024-05-01T06:00:00Z --to 2024-05-01T12:00:00Z',
      does: 'six hours of events, in the export’s windows',
    },
  ],
  exitCodes: {
    0: 'every window of the range committed',
    1: 'a window failed for good or did not commit before --timeout, bad config, or Redis unreachable',
    2: 'bad usage: a missing option, an unknown instance or export, a snapshot export, --from not before --to, or a range older than Looker’s retention',
  },
  async run(values) {
    for (const option of ['instance', 'export', 'from', 'to'] as const) {
      if (typeof values[option] !== 'string') return usageProblem(`--${option} is required`);
    }
    const timeoutMinutes = Number(values.timeout);
    if (!(timeoutMinutes > 0))
      return usageProblem(`--timeout "${values.timeout}" is not a number of minutes`);
    const config = loadConfig(values);
    const instance: InstanceConfig | undefined = config.instances.find((i) => i.id === values.instance);
    if (!instance) {
      return usageProblem(
        `unknown instance "${values.instance}" (configured: ${config.instances.map((i) => i.id).join(', ')})`,
      );
    }
    const resolved: ResolvedExport | undefined = instance.exports.find(
      (e) => e.definition.name === values.export,
    );
    if (!resolved) {
      return usageProblem(
        `instance "${instance.id}" has no export "${values.export}" (it exports: ${instance.exports.map((e) => e.definition.name).join(', ')})`,
      );
    }
    let range: ReturnType<typeof checkBackfillRange>;
    try {
      const fromMs = parseInstant('--from', values.from as string);
      const toMs = parseInstant('--to', values.to as string);
      range = checkBackfillRange(instance, resolved, fromMs, toMs, Date.now());
    } catch (error) {
      if (error instanceof BackfillRangeError) return usageProblem(error.message);
      throw error;
    }
    await ensureRedisReachable(config);
    const context = createContext(config, { logger: silentLogger() });
    try {
      const started = await startBackfill(context, instance, resolved, range);
      const to = new Date(range.toMs).toISOString();
      process.stderr.write(
        `backfill b${started.backfill} of ${instance.id}/${resolved.definition.name}: ${started.windows.length} window(s) from ${new Date(range.fromMs).toISOString()} to ${to}${range.clampedTo ? ' (--to brought back to now − lag)' : ''}; the watermark stays where it is\n`,
      );
      let last = 0;
      const report = await followBackfill(context, started, {
        timeoutMs: timeoutMinutes * 60_000,
        onProgress: (progress) => {
          if (Date.now() - last < 2_000 && progress.done < progress.windows.length) return;
          last = Date.now();
          process.stderr.write(`${progressLine(progress)}\n`);
        },
      });
      const rows = report.windows.map((w) => [
        w.windowId,
        w.state,
        String(w.rows),
        (w.error ?? '').slice(0, 100),
      ]);
      process.stdout.write(`${renderTable(['window', 'state', 'rows', 'error'], rows)}\n`);
      process.stdout.write(
        `backfill b${started.backfill}: ${report.committed}/${report.windows.length} windows committed, ${report.rows} rows, in ${duration(report.elapsedMs)}\n`,
      );
      return report.ok ? 0 : 1;
    } finally {
      await context.close();
    }
  },
};
