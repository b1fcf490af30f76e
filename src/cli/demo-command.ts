import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulatorStack } from 'lsa-emulators';
import { parseConfigText } from '../config/load.ts';
import { startDashboard } from '../dashboard/server.ts';
import { createLogger, type Logger } from '../logging.ts';
import { createContext, type PipelineContext } from '../pipeline/context.ts';
import { startSchedulerRole, startWorkerRole } from '../pipeline/roles.ts';
import { runOnce, type WindowOutcome } from '../pipeline/run-once.ts';
import { renderTable } from '../pipeline/status.ts';
import { RedisNotInstalledError, startPrivateRedis } from '../state/private-redis.ts';
import type { Command } from './command.ts';
import { stackConfig } from './emulator-config.ts';
import { summarise, untilSignal } from './start-command.ts';
import { COMMAND_SUMMARIES } from './summaries.ts';

// `lsa demo`: the whole product on one machine with nothing to configure. Redis (REDIS_URL, or a private
// redis-server), the three emulators with three Looker instances of different sizes, every role in one
// process, a run at once with live progress, then a summary read back from BigQuery with the real client.

function liveProgress(logger: Logger) {
  let last = 0;
  return (windows: WindowOutcome[]) => {
    if (Date.now() - last < 2000) return;
    last = Date.now();
    const perInstance = new Map<string, { done: number; total: number; rows: number }>();
    for (const w of windows) {
      const g = perInstance.get(w.instanceId) ?? { done: 0, total: 0, rows: 0 };
      g.total++;
      if (w.state !== 'pending') g.done++;
      g.rows += w.rows;
      perInstance.set(w.instanceId, g);
    }
    const done = windows.filter((w) => w.state !== 'pending').length;
    const parts = [...perInstance.entries()].map(
      ([id, g]) => `${id} ${g.done}/${g.total} windows, ${g.rows} rows`,
    );
    logger.info(`progress ${done}/${windows.length}: ${parts.join(' | ')}`);
  };
}

export async function bigQuerySummary(context: PipelineContext): Promise<string> {
  const { projectId, dataset } = context.config.bigquery;
  const exports = [
    ...new Map(
      context.config.instances.flatMap((i) => i.exports.map((e) => [e.definition.name, e])),
    ).values(),
  ];
  const rows: string[][] = [];
  for (const e of exports) {
    const key = e.definition.fields.find((f) => f.field === e.definition.key)!.column;
    const [result] = await context.bigquery.query({
      query: `SELECT looker_instance, COUNT(*) AS row_count, COUNT(DISTINCT \`${key}\`) AS distinct_keys FROM \`${projectId}.${dataset}.${e.definition.name}\` GROUP BY looker_instance ORDER BY looker_instance`,
    });
    for (const r of result as { looker_instance: string; row_count: number; distinct_keys: number }[]) {
      rows.push([e.definition.name, r.looker_instance, String(r.row_count), String(r.distinct_keys)]);
    }
  }
  return renderTable(['table', 'looker_instance', 'rows', 'distinct keys'], rows);
}

export const demoCommand: Command = {
  name: 'demo',
  summary: COMMAND_SUMMARIES.demo,
  usage: 'demo [--once] [--redis-url url] [--dashboard-host host] [--dashboard-port port]',
  examples: [
    { command: 'lsa demo', does: 'emulators, every role and the dashboard on http://127.0.0.1:3000' },
    { command: 'lsa demo --once', does: 'one run, a summary read back from BigQuery, then exit' },
  ],
  options: {
    once: {
      type: 'boolean',
      description: 'exit after the first full run (status 0 when every window loaded)',
    },
    'redis-url': {
      type: 'string',
      valueName: 'url',
      description: 'use this Redis (default: $REDIS_URL, else a private redis-server)',
    },
    'dashboard-host': {
      type: 'string',
      valueName: 'host',
      description: 'dashboard address (default 127.0.0.1)',
    },
    'dashboard-port': {
      type: 'string',
      valueName: 'port',
      description: 'dashboard port (default 3000; 0 = any free port)',
    },
  },
  async run(values) {
    const logger = createLogger();
    let redisUrl = typeof values['redis-url'] === 'string' ? values['redis-url'] : process.env.REDIS_URL;
    let privateRedis: Awaited<ReturnType<typeof startPrivateRedis>> | undefined;
    if (!redisUrl) {
      try {
        privateRedis = await startPrivateRedis({ persistence: false });
      } catch (error) {
        if (error instanceof RedisNotInstalledError) {
          process.stderr.write(`lsa demo: ${error.message}\n`);
          return 1;
        }
        throw error;
      }
      redisUrl = privateRedis.url;
      logger.info({ redis: redisUrl }, 'started a private redis-server for the demo');
    }
    const workDir = mkdtempSync(join(tmpdir(), 'lsa-demo-'));
    const stack = await startEmulatorStack();
    const { yaml, env } = stackConfig(stack, {
      redisUrl,
      spoolDir: join(workDir, 'spool'),
      prefix: '{lsa-demo}',
      // Larger windows than production's default day: the demo's 90 days load in a few windows per export.
      defaults: { window: '15d' },
      // The demo's Looker behaves like Elite System Activity: look-back and lag follow each table's cadence.
      timing: 'derived',
    });
    Object.assign(process.env, env);
    const config = parseConfigText(yaml, 'demo config');
    const context = createContext(config, { logger });
    // A previous demo on the same Redis must not make this one skip its windows.
    for (const instance of config.instances) {
      for (const e of instance.exports) await context.exportState.reset(instance.id, e.definition.name);
    }
    await context.queues.extract.obliterate({ force: true }).catch(() => undefined);
    await context.queues.load.obliterate({ force: true }).catch(() => undefined);
    const worker = await startWorkerRole(context);
    const scheduler = await startSchedulerRole(context);
    const port = typeof values['dashboard-port'] === 'string' ? Number(values['dashboard-port']) : 3000;
    const dashboard = await startDashboard(context, {
      host: typeof values['dashboard-host'] === 'string' ? values['dashboard-host'] : '127.0.0.1',
      port,
    }).catch(async (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EADDRINUSE') throw error;
      logger.warn(`port ${port} is taken: the dashboard uses a free port instead`);
      return startDashboard(context, { host: '127.0.0.1', port: 0 });
    });
    const shutdown = async () => {
      await dashboard.close();
      await scheduler.close();
      await worker.close();
      await context.close();
      await stack.close();
      await privateRedis?.stop();
      rmSync(workDir, { recursive: true, force: true });
    };
    let ok = false;
    try {
      logger.info(
        `instances: ${stack.instances.map((i) => `${i.id} (${i.historyRows} history rows)`).join(', ')}`,
      );
      const report = await runOnce(context, { onProgress: liveProgress(logger) });
      ok = report.ok;
      process.stdout.write(
        `\nRun summary\n${summarise(report)}\n\nRows in BigQuery (read back with @google-cloud/bigquery)\n${await bigQuerySummary(context)}\n\n`,
      );
      process.stdout.write(`Dashboard: ${dashboard.url}/admin/queues   Status: ${dashboard.url}/\n`);
    } catch (error) {
      await shutdown();
      throw error;
    }
    if (values.once) {
      await shutdown();
      return ok ? 0 : 1;
    }
    process.stdout.write('The pipeline keeps running on its schedule (every 5 minutes). Ctrl-C to stop.\n');
    await untilSignal(logger);
    await shutdown();
    return 0;
  },
};
