import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { parseConfigText } from '../src/config/load.ts';
import type { LookerInstanceSpec } from '../src/emulators/looker/index.ts';
import { envFileText, stackConfig, startEmulatorStack } from '../src/emulators/stack.ts';
import { BUILT_IN_EXPORT_NAMES } from '../src/exports/registry.ts';
import { silentLogger } from '../src/logging.ts';
import { createContext } from '../src/pipeline/context.ts';
import { fanout } from '../src/pipeline/processors/fanout.ts';
import { startPrivateRedis } from '../src/state/private-redis.ts';
import { table } from './measure.ts';

// `npm run bench -- fanout --instances 200 --exports 5`: the whole pipeline (emulators, a private Redis, two
// worker processes) on tiny data, and a bare BullMQ baseline with the same number of three-job flows on the
// same Redis and two processes. Figures: time from trigger to all loaded, flows/s, Redis commands per flow
// (INFO commandstats), Redis connections per worker process (CLIENT LIST).

export interface FanoutBenchOptions {
  instances: number;
  exports: number;
}

const EXPORT_ORDER = ['history', 'user', 'event', 'content_usage', 'dashboard', 'look', 'field_usage'];

interface Figures {
  seconds: number;
  windows: number;
  flows: number;
  commands: number;
  perCommand: Map<string, number>;
  connectionsPerWorker: number;
  /** Mean time a job of each queue spent being processed, in ms. */
  stageMs?: Record<string, number>;
}

async function meanProcessingMs(queue: Queue): Promise<number> {
  const jobs = await queue.getJobs(['completed'], 0, 999);
  const durations = jobs
    .filter((j) => j.processedOn && j.finishedOn)
    .map((j) => j.finishedOn! - j.processedOn!);
  return Math.round(durations.reduce((a, b) => a + b, 0) / Math.max(1, durations.length));
}

async function commandStats(redis: Redis): Promise<Map<string, number>> {
  const info = await redis.info('commandstats');
  const stats = new Map<string, number>();
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) stats.set(match[1]!, Number(match[2]));
  return stats;
}

function delta(before: Map<string, number>, after: Map<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [name, calls] of after) {
    const d = calls - (before.get(name) ?? 0);
    if (d > 0) out.set(name, d);
  }
  return out;
}

/** Connected clients now. BullMQ renames its blocking connections, so names cannot tell processes apart:
 * connections per worker process are the difference before and after the processes start, halved. */
async function connectedClients(redis: Redis): Promise<number> {
  return String(await redis.client('LIST'))
    .split('\n')
    .filter((line) => line.trim() !== '').length;
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function spawnProcess(args: string[]) {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (c: Buffer) => {
    output += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    output += c.toString();
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return { child, exited, output: () => output };
}

async function pipelineRun(
  redisUrl: string,
  admin: Redis,
  options: FanoutBenchOptions,
  dir: string,
): Promise<Figures> {
  const instances: LookerInstanceSpec[] = Array.from({ length: options.instances }, (_, i) => ({
    id: `bench-${String(i).padStart(3, '0')}`,
    clientId: `bench-${i}-id`,
    clientSecret: `bench-${i}-secret`,
    seed: 1000 + i,
    historyRows: 5,
    historyDays: 1,
  }));
  const stack = await startEmulatorStack({ instances });
  const exports = EXPORT_ORDER.filter((e) => BUILT_IN_EXPORT_NAMES.includes(e)).slice(0, options.exports);
  const { yaml, env } = stackConfig(stack, {
    redisUrl,
    spoolDir: join(dir, 'spool'),
    prefix: '{lsa-bench}',
    exports,
    defaults: { window: '90d', horizon: '1d' },
    extraYaml: 'workers: { extractConcurrency: 8, uploadConcurrency: 8, loadConcurrency: 8, backoff: 200ms }',
  });
  const configFile = join(dir, 'lsa.yaml');
  const envFile = join(dir, 'lsa.env');
  writeFileSync(configFile, yaml);
  writeFileSync(envFile, envFileText(env));
  Object.assign(process.env, env);
  const config = parseConfigText(yaml, configFile);
  const context = createContext(config, { logger: silentLogger(), nodeId: 'bench-trigger' });
  const clientsBefore = await connectedClients(admin);
  const workers = ['bench-node-1', 'bench-node-2'].map((node) =>
    spawnProcess([
      resolve('bin/lsa.js'),
      'start',
      '--role',
      'worker',
      '--config',
      configFile,
      '--env-file',
      envFile,
      '--node-id',
      node,
    ]),
  );
  try {
    await waitUntil(async () => (await context.nodes.list()).length === 2, 60_000, 'two worker processes');
    await new Promise((r) => setTimeout(r, 2000)); // let every Worker open its blocking connection
    const connectionsPerWorker = ((await connectedClients(admin)) - clientsBefore) / 2;
    const before = await commandStats(admin);
    const started = Date.now();
    const summary = await fanout(context, undefined, { instanceIds: null, exports: null, reason: 'manual' });
    const windows = summary.planned.reduce((n, p) => n + p.windows, 0);
    await waitUntil(
      async () => {
        const done = await context.queues.extract.getCompletedCount();
        const load = await context.queues.load.getJobCounts(
          'waiting',
          'active',
          'delayed',
          'waiting-children',
          'failed',
        );
        return done === windows && Object.values(load).every((n) => n === 0);
      },
      600_000,
      'every flow to finish',
    );
    const seconds = (Date.now() - started) / 1000;
    const perCommand = delta(before, await commandStats(admin));
    const flows = await context.queues.load.getCompletedCount();
    const stageMs = {
      extract: await meanProcessingMs(context.queues.extract),
      upload: await meanProcessingMs(context.queues.upload('bench-node-1')),
      load: await meanProcessingMs(context.queues.load),
    };
    return {
      seconds,
      windows,
      flows,
      commands: [...perCommand.values()].reduce((a, b) => a + b, 0),
      perCommand,
      connectionsPerWorker,
      stageMs,
    };
  } finally {
    for (const w of workers) w.child.kill('SIGTERM');
    await Promise.all(workers.map((w) => w.exited));
    await context.close();
    await stack.close();
  }
}

async function baselineRun(redisUrl: string, admin: Redis, flows: number): Promise<Figures> {
  const prefix = '{bare-bench}';
  const clientsBefore = await connectedClients(admin);
  const workers = ['base-1', 'base-2'].map((node) =>
    spawnProcess(['--import', 'tsx', resolve('bench/baseline-worker.ts'), redisUrl, prefix, node]),
  );
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const extract = new Queue('extract', { connection, prefix });
  const load = new Queue('load', { connection, prefix });
  try {
    await waitUntil(
      async () => workers.every((w) => w.output().includes('"ready"')),
      60_000,
      'baseline workers',
    );
    await new Promise((r) => setTimeout(r, 2000));
    const connectionsPerWorker = ((await connectedClients(admin)) - clientsBefore) / 2;
    const before = await commandStats(admin);
    const started = Date.now();
    await extract.addBulk(
      Array.from({ length: flows }, (_, i) => ({
        name: 'extract',
        data: { i },
        opts: { jobId: `e${i}`, attempts: 3 },
      })),
    );
    await waitUntil(async () => (await load.getCompletedCount()) === flows, 600_000, 'baseline flows');
    const seconds = (Date.now() - started) / 1000;
    const perCommand = delta(before, await commandStats(admin));
    return {
      seconds,
      windows: flows,
      flows,
      commands: [...perCommand.values()].reduce((a, b) => a + b, 0),
      perCommand,
      connectionsPerWorker,
    };
  } finally {
    for (const w of workers) w.child.kill('SIGTERM');
    await Promise.all(workers.map((w) => w.exited));
    await extract.close();
    await load.close();
    await connection.quit();
  }
}

export async function fanoutBench(options: FanoutBenchOptions): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'lsa-fanout-'));
  const redis = await startPrivateRedis({ persistence: false });
  const admin = new Redis(redis.url);
  try {
    const ours = await pipelineRun(redis.url, admin, options, dir);
    const bare = await baselineRun(redis.url, admin, ours.windows);
    const row = (name: string, f: Figures) => [
      name,
      f.windows,
      f.flows,
      f.seconds.toFixed(1),
      (f.windows / f.seconds).toFixed(1),
      Math.round(f.commands / f.windows),
      f.connectionsPerWorker,
    ];
    const top = (f: Figures) =>
      [...f.perCommand.entries()]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 8)
        .map(([name, calls]) => `${name} ${(calls / f.windows).toFixed(1)}`)
        .join(', ');
    return [
      `fanout, ${options.instances} instances × ${options.exports} exports, 2 worker processes`,
      table(
        [
          'run',
          'extract jobs',
          'loads',
          'seconds',
          'jobs/s',
          'Redis cmds per extract job',
          'connections per worker',
        ],
        [row('pipeline', ours), row('bare BullMQ', bare)],
      ),
      `pipeline, commands per extract job: ${top(ours)}`,
      `pipeline, mean processing time per job (ms): ${JSON.stringify(ours.stageMs)}`,
      `bare BullMQ, commands per flow: ${top(bare)}`,
    ].join('\n');
  } finally {
    await admin.quit();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
