import { startDashboard } from '../dashboard/server.ts';
import { createLogger, type Logger } from '../logging.ts';
import { createContext, type PipelineContext } from '../pipeline/context.ts';
import { type RoleHandle, startSchedulerRole, startWorkerRole } from '../pipeline/roles.ts';
import { type RunOnceReport, runOnce, type WindowOutcome } from '../pipeline/run-once.ts';
import { sweepSpool } from '../pipeline/spool-cleanup.ts';
import { renderTable } from '../pipeline/status.ts';
import { CONFIG_OPTIONS, type Command, loadConfig, UsageError } from './command.ts';
import { COMMAND_SUMMARIES } from './summaries.ts';

const ROLES = ['scheduler', 'worker', 'dashboard'] as const;
type Role = (typeof ROLES)[number];

export function parseRoles(text: string): Role[] {
  const names = text.split(',').map((r) => r.trim());
  if (names.includes('all')) return [...ROLES];
  for (const name of names) {
    if (!ROLES.includes(name as Role)) {
      throw new UsageError(`--role "${name}" is not one of scheduler, worker, dashboard, all`);
    }
  }
  return names as Role[];
}

export async function startRoles(context: PipelineContext, roles: Role[]): Promise<RoleHandle[]> {
  const handles: RoleHandle[] = [];
  try {
    if (roles.includes('worker')) {
      // Files a killed node left on this disk, before this node writes its own.
      await sweepSpool(context).catch((error) =>
        context.logger.warn({ err: String(error) }, 'spool sweep failed; leftover files stay'),
      );
      handles.push(await startWorkerRole(context));
    }
    if (roles.includes('scheduler')) handles.push(await startSchedulerRole(context));
    if (roles.includes('dashboard')) {
      const dashboard = await startDashboard(context);
      handles.push({ name: 'dashboard', close: () => dashboard.close() });
    }
  } catch (error) {
    // A role that cannot start (e.g. an export field Looker lacks) ends the process: nothing may hold it open.
    for (const handle of handles.reverse()) await handle.close();
    await context.close();
    throw error;
  }
  return handles;
}

/** Resolves on the first SIGTERM or SIGINT. */
export function untilSignal(logger: Logger): Promise<string> {
  return new Promise((resolve) => {
    const handler = (signal: string) => {
      logger.info({ signal }, 'shutting down: no new jobs; running jobs get the grace period');
      process.off('SIGTERM', handler);
      process.off('SIGINT', handler);
      resolve(signal);
    };
    process.on('SIGTERM', handler);
    process.on('SIGINT', handler);
  });
}

/** After a clean shutdown, how long stray timers of client libraries may keep the process before it exits. */
const EXIT_AFTER_CLOSE_MS = 1_000;

/** Closes the context's queues and connection, dropping them when Redis does not answer (it may be down). */
async function closeContext(context: PipelineContext): Promise<void> {
  if (context.redis.status !== 'ready') {
    context.logger.warn('Redis is unreachable: connections dropped without waiting for it');
    context.redis.disconnect();
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  const closed = await Promise.race([
    context.close().then(() => true),
    new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), 2_000);
    }),
  ]);
  clearTimeout(timer);
  if (!closed) {
    context.logger.warn('Redis did not answer while closing: connections dropped');
    context.redis.disconnect();
  }
}

export function summarise(report: RunOnceReport): string {
  const groups = new Map<string, WindowOutcome[]>();
  for (const w of report.windows) {
    const key = `${w.instanceId}\u0000${w.exportName}`;
    groups.set(key, [...(groups.get(key) ?? []), w]);
  }
  const rows = [...groups.values()].map((windows) => {
    const failed = windows.filter((w) => w.state === 'failed');
    return [
      windows[0]!.instanceId,
      windows[0]!.exportName,
      String(windows.length),
      String(windows.reduce((n, w) => n + w.rows, 0)),
      failed.length > 0
        ? `FAILED: ${(failed[0]!.error ?? '').slice(0, 80)}`
        : windows.some((w) => w.state === 'pending')
          ? 'still running'
          : 'ok',
    ];
  });
  for (const s of report.fanout.skipped)
    rows.push([s.instanceId, s.exportName, '0', '0', `skipped: ${s.reason}`]);
  return renderTable(['instance', 'export', 'windows', 'rows loaded', 'result'], rows);
}

export function progressPrinter(logger: Logger) {
  let last = 0;
  return (windows: WindowOutcome[]) => {
    if (Date.now() - last < 2000) return;
    last = Date.now();
    const done = windows.filter((w) => w.state !== 'pending').length;
    const rows = windows.reduce((n, w) => n + w.rows, 0);
    logger.info(`progress: ${done}/${windows.length} windows done, ${rows} rows loaded`);
  };
}

export const startCommand: Command = {
  name: 'start',
  summary: COMMAND_SUMMARIES.start,
  usage: 'start [--role scheduler|worker|dashboard|all] [--once] [--config file]',
  options: {
    ...CONFIG_OPTIONS,
    role: {
      type: 'string',
      valueName: 'roles',
      default: 'all',
      description: 'comma-separated roles to run (default all)',
    },
    once: {
      type: 'boolean',
      description:
        'run one full cycle for every instance and export, print a summary, exit 0 if all succeeded',
    },
    'node-id': {
      type: 'string',
      valueName: 'id',
      description: "this node's id (default: $LSA_NODE_ID or host + random)",
    },
  },
  examples: [
    { command: 'lsa start', does: 'scheduler, worker and dashboard in one process, until SIGTERM' },
    { command: 'lsa start --role worker --node-id worker-1', does: 'one worker node with a stable id' },
    {
      command: 'lsa start --once --config lsa.yaml',
      does: 'one full cycle now; exit 0 if every window loaded',
    },
  ],
  exitCodes: {
    0: 'stopped cleanly on SIGTERM/SIGINT (with --once: every window loaded)',
    1: 'with --once: at least one window failed; otherwise a bad config or a startup failure',
  },
  async run(values) {
    const config = loadConfig(values);
    const logger = createLogger();
    const context = createContext(config, {
      logger,
      ...(typeof values['node-id'] === 'string' ? { nodeId: values['node-id'] } : {}),
    });
    if (values.once) {
      const handles = await startRoles(context, ['worker']);
      try {
        const report = await runOnce(context, { onProgress: progressPrinter(logger) });
        process.stdout.write(`\n${summarise(report)}\n`);
        return report.ok ? 0 : 1;
      } finally {
        for (const h of handles.reverse()) await h.close();
        await context.close();
      }
    }
    const handles = await startRoles(context, parseRoles(String(values.role)));
    await untilSignal(logger);
    // Roles close side by side, so the process ends within one grace period, not one per role.
    await Promise.all(handles.map((h) => h.close()));
    await closeContext(context);
    logger.info('stopped');
    // Everything of ours is closed; a client library's reconnect timer (Redis down) must not keep the process.
    setTimeout(() => process.exit(0), EXIT_AFTER_CLOSE_MS).unref();
    return 0;
  },
};
