import type { Server } from 'node:http';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import express from 'express';
import { batching } from '../pipeline/batching/batching.ts';
import type { PipelineContext } from '../pipeline/context.ts';
import { checkHealth } from '../pipeline/health.ts';
import { collectStatus } from '../pipeline/status.ts';
import { StageMetrics } from '../state/stage-metrics.ts';
import { basicAuth, credentialsFromEnv, type DashboardCredentials, sameOriginWrites } from './auth.ts';
import { buildInfo } from './build-info.ts';
import { renderMetrics } from './metrics.ts';
import { reportsPage } from './reports-page.ts';
import { renderStatusPage } from './status-page.ts';

// The operator's dashboard: Bull Board at /admin/queues (every queue, per-node upload queues discovered at
// runtime; the scheduler queue read-only because config owns it), a status page at /, /metrics, and the
// /healthz and /readyz probes (the only routes open without credentials).

export interface DashboardHandle {
  url: string;
  host: string;
  port: number;
  close(): Promise<void>;
}

export interface DashboardOptions {
  host?: string;
  port?: number;
  credentials?: DashboardCredentials | null;
  /** How often upload queues of new nodes are looked for. */
  discoveryMs?: number;
}

const LOOPBACK = '127.0.0.1';

/** The readiness probe answers within this, whatever Redis does (commands wait for Redis to come back). */
const READY_TIMEOUT_MS = 1_500;

/** Why Redis is not usable now, or null when a PING answers in time. */
async function redisProblem(context: PipelineContext): Promise<string | null> {
  // A connection that is not ready queues commands until it is: do not wait for that.
  if (context.redis.status !== 'ready') return `connection ${context.redis.status}`;
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      context.redis.ping().then(() => null),
      new Promise<string>((resolve) => {
        timer = setTimeout(() => resolve(`no PING answer within ${READY_TIMEOUT_MS} ms`), READY_TIMEOUT_MS);
      }),
    ]);
  } catch (error) {
    return (error as Error).message;
  } finally {
    clearTimeout(timer);
  }
}

export async function startDashboard(
  context: PipelineContext,
  options: DashboardOptions = {},
): Promise<DashboardHandle> {
  const credentials = options.credentials === undefined ? credentialsFromEnv() : options.credentials;
  let host = options.host ?? context.config.dashboard.host;
  if (!credentials && host !== LOOPBACK && host !== 'localhost' && host !== '::1') {
    context.logger.warn(
      'LSA_DASHBOARD_USER and LSA_DASHBOARD_PASSWORD are not set: the dashboard listens on 127.0.0.1 only',
    );
    host = LOOPBACK;
  }
  const port = options.port ?? context.config.dashboard.port;

  const serverAdapter = new ExpressAdapter().setBasePath('/admin/queues');
  const staticAdapters = () => [
    new BullMQAdapter(context.queues.scheduler, {
      readOnlyMode: true,
      description: 'ticks of the job schedulers (owned by config)',
    }),
    new BullMQAdapter(context.queues.extract, { description: 'Looker → spool file, one job per window' }),
    new BullMQAdapter(context.queues.load, { description: 'GCS → BigQuery, then the watermark moves' }),
    new BullMQAdapter(batching(context).queue, {
      description: 'one load job and one MERGE per batch of windows',
    }),
  ];
  const board = createBullBoard({
    queues: staticAdapters(),
    serverAdapter,
    options: {
      uiConfig: { boardTitle: 'Looker System Activity' },
    },
  });
  const knownUploadQueues = new Set<string>();
  const discover = async () => {
    const nodes = await context.nodes.list();
    for (const node of nodes) {
      const queue = context.queues.upload(node.nodeId);
      if (!knownUploadQueues.has(queue.name)) {
        knownUploadQueues.add(queue.name);
        board.addQueue(
          new BullMQAdapter(queue, { description: `uploads of node ${node.nodeId} (${node.hostname})` }),
        );
      }
    }
  };
  await discover().catch(() => undefined);
  const discovery = setInterval(() => {
    discover().catch((error) => context.logger.warn({ err: String(error) }, 'upload queue discovery failed'));
  }, options.discoveryMs ?? 10_000);

  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => {
    res.type('text/plain').send('ok');
  });
  app.get('/readyz', async (_req, res) => {
    const problem = await redisProblem(context);
    if (problem) res.status(503).type('text/plain').send(`redis unreachable: ${problem}`);
    else res.type('text/plain').send('ready');
  });
  if (credentials) app.use(basicAuth(credentials));
  app.use(sameOriginWrites);
  app.get('/metrics', async (_req, res, next) => {
    try {
      const [status, health, stages] = await Promise.all([
        collectStatus(context),
        checkHealth(context),
        new StageMetrics(context.redis, context.keys).read(),
      ]);
      res
        .type('text/plain; version=0.0.4')
        .send(renderMetrics({ status, health, stages, build: buildInfo() }));
    } catch (error) {
      next(error);
    }
  });
  app.get('/', async (_req, res, next) => {
    try {
      const [status, health, schedulers] = await Promise.all([
        collectStatus(context),
        checkHealth(context),
        context.queues.scheduler.getJobSchedulers(0, -1),
      ]);
      const nextRuns = schedulers.map((s) => ({ id: s.key, nextMs: s.next ?? null }));
      res.type('html').send(renderStatusPage({ status, health, nextRuns, version: buildInfo().version }));
    } catch (error) {
      next(error);
    }
  });
  app.get('/reports', reportsPage(context));
  app.use('/admin/queues', serverAdapter.getRouter());

  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(port, host, () => resolve(s));
    s.once('error', reject);
  });
  const address = server.address();
  const boundPort = typeof address === 'object' && address ? address.port : port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${boundPort}`;
  context.logger.info(
    { url: `${url}/admin/queues`, auth: credentials ? 'basic' : 'none (loopback only)' },
    'dashboard listening',
  );
  return {
    url,
    host,
    port: boundPort,
    async close() {
      clearInterval(discovery);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
