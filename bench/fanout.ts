import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { startEmulatorStack } from 'lsa-emulators';
import type { LookerInstanceSpec } from 'lsa-emulators/looker';
import { envFileText, stackConfig } from '../src/cli/emulator-config.ts';
import { parseConfigText } from '../src/config/load.ts';
import { BUILT_IN_EXPORT_NAMES } from '../src/exports/registry.ts';
import { silentLogger } from '../src/logging.ts';
import { createContext } from '../src/pipeline/context.ts';
import { fanout } from '../src/pipeline/processors/fanout.ts';
import { startPrivateRedis } from '../src/state/private-redis.ts';
import { extractJob } from './baseline.ts';
import {
  commandDelta,
  commandMicros,
  commandStats,
  connectionOwners,
  connectionsPerProcess,
  type ProcessConnections,
  redisCpuSeconds,
  sleep,
  table,
  waitUntil,
} from './measure.ts';
import { type Attribution, purpose, RedisMonitor } from './redis-attribution.ts';

// `npm run bench -- fanout --instances 200 --exports 5`: the whole pipeline (Looker, GCS and BigQuery emulators
// in this process, a private Redis, two `lsa start --role worker` processes) on tiny data, then a bare BullMQ
// baseline with the same number of three-job flows on the same Redis, in two processes. Figures: time from
// trigger to all loaded, flows/s, Redis commands and Redis CPU per flow (INFO commandstats / INFO cpu deltas),
// Redis connections per worker process (CLIENT LIST matched to each process's sockets). With --attribute, each
// run is repeated under MONITOR to say which code sends which command.

export interface FanoutBenchOptions {
  instances: number;
  exports: number;
  /** Repeat each run under MONITOR to attribute commands (its timings are not reported). */
  attribute: boolean;
  /** Jobs of each kind per worker process (extract, upload, load). */
  concurrency: number;
}

/** Exports taken in this order; each instance × export is one window (window 90d, horizon 1d). */
const EXPORT_ORDER = [
  'history',
  'user',
  'event',
  'content_usage',
  'dashboard',
  'look',
  'field_usage',
  'event_attribute',
  'scheduled_job',
  'pdt_event_log',
];
const RUN_TIMEOUT_MS = 15 * 60_000;

interface Figures {
  seconds: number;
  windows: number;
  /** Load jobs completed (windows with rows). */
  loads: number;
  perCommand: Map<string, number>;
  commands: number;
  redisCpuSeconds: number;
  /** command → microseconds spent in it (INFO commandstats) */
  usec: Map<string, number>;
  /** Redis CPU seconds per second while the two worker processes sit idle, measured just before the trigger. */
  idleRedisCpuPerSecond: number;
  connections: ProcessConnections[];
  /** Mean time a job of each queue spent being processed, in ms (pipeline only). */
  stageMs?: Record<string, number>;
  attribution?: Attribution;
  /** BigQuery jobs the cycle ran (pipeline only): load jobs, query jobs (MERGE, counts, runs), per export table. */
  bigqueryJobs?: { load: number; query: number; tables: number; maxPerTable: number };
}

interface Spawned {
  child: ChildProcess;
  exited: Promise<void>;
  output(): string;
}

function spawnProcess(args: string[]): Spawned {
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LSA_LOG_LEVEL: 'warn' },
  });
  let output = '';
  const keep = (c: Buffer) => {
    output = (output + c.toString()).slice(-20_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return { child, exited, output: () => output };
}

async function stopProcesses(processes: Spawned[]): Promise<void> {
  for (const p of processes) if (p.child.exitCode === null) p.child.kill('SIGTERM');
  const done = Promise.all(processes.map((p) => p.exited));
  const timedOut = await Promise.race([done.then(() => false), sleep(20_000).then(() => true)]);
  if (timedOut) for (const p of processes) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  await done;
}

async function meanProcessingMs(queue: Queue): Promise<number> {
  const jobs = await queue.getJobs(['completed'], 0, 4999);
  const durations = jobs
    .filter((j) => j.processedOn && j.finishedOn)
    .map((j) => j.finishedOn! - j.processedOn!);
  return Math.round(durations.reduce((a, b) => a + b, 0) / Math.max(1, durations.length));
}

/**
 * Polls until every extract job has completed and the load queue has nothing left; one pipeline of cheap
 * commands (ZCARD/LLEN) per poll, which the figures leave out (`pollCommands`).
 */
async function waitForDrain(
  poller: Redis,
  prefix: string,
  windows: number,
  processes: Spawned[],
  pollCommands: Map<string, number>,
): Promise<void> {
  const k = (queue: string, key: string) => `${prefix}:${queue}:${key}`;
  await waitUntil(
    async () => {
      const dead = processes.find((p) => p.child.exitCode !== null);
      if (dead) throw new Error(`a worker process exited:\n${dead.output().slice(-3000)}`);
      const results = await poller
        .pipeline()
        .zcard(k('extract', 'completed'))
        .zcard(k('extract', 'failed'))
        .llen(k('load', 'wait'))
        .llen(k('load', 'active'))
        .zcard(k('load', 'delayed'))
        .zcard(k('load', 'waiting-children'))
        .zcard(k('load', 'prioritized'))
        .exec();
      pollCommands.set('zcard', (pollCommands.get('zcard') ?? 0) + 5);
      pollCommands.set('llen', (pollCommands.get('llen') ?? 0) + 2);
      const [extracted, failed, ...loadsLeft] = results!.map(([, value]) => Number(value));
      if (failed! > 0) throw new Error(`${failed} extract job(s) failed`);
      return extracted === windows && loadsLeft.every((n) => n === 0);
    },
    RUN_TIMEOUT_MS,
    `${windows} windows to load`,
  );
}

function subtract(delta: Map<string, number>, own: Map<string, number>): Map<string, number> {
  const out = new Map(delta);
  for (const [name, calls] of own) out.set(name, Math.max(0, (out.get(name) ?? 0) - calls));
  return out;
}

const sum = (values: Iterable<number>) => [...values].reduce((a, b) => a + b, 0);

async function measureIdle(admin: Redis): Promise<number> {
  const before = await redisCpuSeconds(admin);
  await sleep(2000);
  return ((await redisCpuSeconds(admin)) - before) / 2;
}

/** Every job BigQuery ran in the cycle, by kind, and how many fell to each export's table (quota: per table). */
async function countBigQueryJobs(
  bigquery: ReturnType<typeof createContext>['bigquery'],
  exports: string[],
): Promise<NonNullable<Figures['bigqueryJobs']>> {
  const [jobs] = await bigquery.getJobs({ allUsers: true, autoPaginate: true, projection: 'full' });
  let load = 0;
  let query = 0;
  const perTable = new Map<string, number>();
  // Longest name first: a job of event_attribute must not count for event.
  const tables = [...exports].sort((a, b) => b.length - a.length);
  for (const job of jobs) {
    // Staging loads are load jobs; everything else the pipeline runs (MERGE, staging counts, run records) queries.
    const configuration = job.metadata?.configuration ?? {};
    if (configuration.load || job.id?.startsWith('lsa_stage_')) load++;
    else query++;
    const table = tables.find((e) => job.id?.includes(`_${e}_`));
    if (table) perTable.set(table, (perTable.get(table) ?? 0) + 1);
  }
  return { load, query, tables: perTable.size, maxPerTable: Math.max(0, ...perTable.values()) };
}

interface CycleSetup {
  admin: Redis;
  redisPort: number;
  poller: Redis;
  prefix: string;
  workers: Spawned[];
  monitor: boolean;
}

/**
 * One measured cycle, the same for the pipeline and the bare baseline: connections and idle Redis CPU of the
 * ready workers, then `trigger` (which returns how many flows it started), until every flow drained; Redis
 * commands, their microseconds and Redis CPU of the cycle, the bench's own polling subtracted.
 */
async function measureCycle(
  setup: CycleSetup,
  trigger: () => Promise<number>,
): Promise<Omit<Figures, 'loads' | 'stageMs' | 'bigqueryJobs'>> {
  const { admin, redisPort, poller, prefix, workers, monitor } = setup;
  const pids = workers.map((w) => w.child.pid!);
  const connections = await connectionsPerProcess(admin, redisPort, pids);
  const idleRedisCpuPerSecond = await measureIdle(admin);
  const mon = monitor ? await RedisMonitor.start(admin, prefix) : undefined;
  const pollCommands = new Map<string, number>();
  const before = await commandStats(admin);
  const usecBefore = await commandMicros(admin);
  const cpuBefore = await redisCpuSeconds(admin);
  const started = performance.now();
  const windows = await trigger();
  await waitForDrain(poller, prefix, windows, workers, pollCommands);
  const seconds = (performance.now() - started) / 1000;
  const redisCpu = (await redisCpuSeconds(admin)) - cpuBefore;
  const perCommand = subtract(commandDelta(before, await commandStats(admin)), pollCommands);
  const usec = commandDelta(usecBefore, await commandMicros(admin));
  let attribution: Attribution | undefined;
  if (mon) {
    const roles = new Map<string, string>();
    for (const [addr, pid] of connectionOwners(redisPort, [process.pid, ...pids])) {
      roles.set(addr, pid === process.pid ? 'trigger (fan-out) + bench' : 'worker processes');
    }
    attribution = await mon.stop(roles);
  }
  return {
    seconds,
    windows,
    perCommand,
    commands: sum(perCommand.values()),
    redisCpuSeconds: redisCpu,
    usec,
    idleRedisCpuPerSecond,
    connections,
    ...(attribution ? { attribution } : {}),
  };
}

async function pipelineRun(
  redisUrl: string,
  redisPort: number,
  admin: Redis,
  options: FanoutBenchOptions,
  dir: string,
  prefix: string,
  monitor: boolean,
): Promise<Figures> {
  const instances: LookerInstanceSpec[] = Array.from({ length: options.instances }, (_, i) => ({
    id: `bench-${String(i).padStart(4, '0')}`,
    clientId: `bench-${i}-id`,
    clientSecret: `bench-${i}-secret`,
    seed: 1000 + i,
    historyRows: 20,
    historyDays: 1,
  }));
  const stack = await startEmulatorStack({ instances });
  const exports = EXPORT_ORDER.filter((e) => BUILT_IN_EXPORT_NAMES.includes(e)).slice(0, options.exports);
  const c = options.concurrency;
  const { yaml, env } = stackConfig(stack, {
    redisUrl,
    spoolDir: join(dir, 'spool'),
    prefix,
    exports,
    defaults: { window: '90d', horizon: '1d' },
    extraYaml: `workers: { extractConcurrency: ${c}, uploadConcurrency: ${c}, loadConcurrency: ${c}, backoff: 200ms }`,
  });
  const configFile = join(dir, `${prefix.replace(/\W/g, '')}.yaml`);
  const envFile = `${configFile}.env`;
  writeFileSync(configFile, yaml);
  writeFileSync(envFile, envFileText(env));
  Object.assign(process.env, env);
  const config = parseConfigText(yaml, configFile);
  const context = createContext(config, { logger: silentLogger(), nodeId: 'bench-trigger' });
  const poller = new Redis(redisUrl, { connectionName: 'bench-poller' });
  const nodes = ['bench-node-1', 'bench-node-2'];
  const workers = nodes.map((node) =>
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
    await sleep(1500); // every Worker has opened its blocking connection
    const cycle = await measureCycle({ admin, redisPort, poller, prefix, workers, monitor }, async () => {
      // What `lsa run` and runOnce() call; runOnce's follow-up polling of every window is an observer's cost and
      // is left out (the bench polls queue counts instead, and subtracts its own commands).
      const summary = await fanout(context, undefined, {
        instanceIds: null,
        exports: null,
        reason: 'manual',
      });
      return summary.planned.reduce((n, p) => n + p.windows, 0);
    });
    const loads = await context.queues.load.getCompletedCount();
    const bigqueryJobs = await countBigQueryJobs(context.bigquery, exports);
    const stageMs = monitor
      ? undefined
      : {
          extract: await meanProcessingMs(context.queues.extract),
          upload: Math.round(
            ((await meanProcessingMs(context.queues.upload(nodes[0]!))) +
              (await meanProcessingMs(context.queues.upload(nodes[1]!)))) /
              2,
          ),
          load: await meanProcessingMs(context.queues.load),
        };
    const figures: Figures = { ...cycle, loads, bigqueryJobs };
    if (stageMs) figures.stageMs = stageMs;
    return figures;
  } finally {
    await stopProcesses(workers);
    await poller.quit();
    await context.close();
    await stack.close();
  }
}

async function baselineRun(
  redisUrl: string,
  redisPort: number,
  admin: Redis,
  windows: number,
  concurrency: number,
  prefix: string,
  monitor: boolean,
  pace?: Record<string, number>,
): Promise<Figures> {
  const workers = ['base-1', 'base-2'].map((node) =>
    spawnProcess([
      '--import',
      'tsx',
      resolve('bench/baseline-worker.ts'),
      redisUrl,
      prefix,
      node,
      String(concurrency),
      ...(pace ? [JSON.stringify(pace)] : []),
    ]),
  );
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null, connectionName: 'bench-trigger' });
  const poller = new Redis(redisUrl, { connectionName: 'bench-poller' });
  const extract = new Queue('extract', { connection, prefix });
  const load = new Queue('load', { connection, prefix });
  try {
    await waitUntil(
      async () => workers.every((w) => w.output().includes('"ready"')),
      60_000,
      'baseline workers',
    );
    await sleep(1500);
    const cycle = await measureCycle({ admin, redisPort, poller, prefix, workers, monitor }, async () => {
      await extract.addBulk(Array.from({ length: windows }, (_, i) => extractJob(i)));
      return windows;
    });
    return { ...cycle, loads: await load.getCompletedCount() };
  } finally {
    await stopProcesses(workers);
    await extract.close();
    await load.close();
    await poller.quit();
    await connection.quit();
  }
}

function connectionSummary(connections: ProcessConnections[]): string {
  const first = connections[0];
  if (!first) return '-';
  const names = [...first.byName.entries()]
    .sort((a, b) => a[0].localeCompare(b[0]))
    .map(([name, n]) => `${n}× ${name}`)
    .join(', ');
  return `${connections.map((c) => c.total).join(' + ')} (${names})`;
}

function attributionTable(ours: Figures, bare: Figures): string {
  const a = ours.attribution!;
  const b = bare.attribution!;
  const labels = new Set([...a.sent.keys(), ...b.sent.keys()]);
  const per = (n: number | undefined, f: Figures) => (n ?? 0) / f.windows;
  const rows = [...labels]
    .map((label) => ({
      label,
      ours: per(a.sent.get(label), ours),
      bare: per(b.sent.get(label), bare),
      oursInner: per(a.inner.get(label), ours),
      bareInner: per(b.inner.get(label), bare),
    }))
    .map((r) => ({ ...r, diff: r.ours + r.oursInner - r.bare - r.bareInner }))
    .filter((r) => Math.abs(r.diff) >= 0.5 || r.ours >= 1)
    .sort((x, y) => y.diff - x.diff);
  return table(
    [
      'command (key kind)',
      'ours sent',
      'ours in script',
      'bare sent',
      'bare in script',
      'ours − bare',
      'from',
    ],
    rows.map((r) => [
      r.label,
      r.ours.toFixed(1),
      r.oursInner.toFixed(1),
      r.bare.toFixed(1),
      r.bareInner.toFixed(1),
      r.diff.toFixed(1),
      purpose(r.label),
    ]),
  );
}

export interface FanoutReport {
  text: string;
  ours: Figures;
  bare: Figures;
  /** The bare flow with the pipeline's mean job durations (absent when they were not measured). */
  paced?: Figures;
}

export async function fanoutBench(options: FanoutBenchOptions): Promise<FanoutReport> {
  const dir = mkdtempSync(join(tmpdir(), 'lsa-fanout-'));
  const redis = await startPrivateRedis({ persistence: false });
  const admin = new Redis(redis.url, { connectionName: 'bench-admin' });
  try {
    const log = (what: string, f: Figures) =>
      process.stderr.write(
        `  fanout ${options.instances}×${options.exports} ${what}: ${f.windows} windows in ${f.seconds.toFixed(1)} s, ${Math.round(f.commands / f.windows)} commands per flow\n`,
      );
    const ours = await pipelineRun(redis.url, redis.port, admin, options, dir, '{lsa-bench}', false);
    log('pipeline', ours);
    const bare = await baselineRun(
      redis.url,
      redis.port,
      admin,
      ours.windows,
      options.concurrency,
      '{bare-bench}',
      false,
    );
    log('bare BullMQ', bare);
    // The same bare flow with each job taking as long as the pipeline's took on average: its uploads and loads
    // then arrive one by one, as the pipeline's do, and BullMQ fetches them one by one. What BullMQ costs for
    // this pace is in this row; what the pipeline adds is the difference to it.
    const paced = ours.stageMs
      ? await baselineRun(
          redis.url,
          redis.port,
          admin,
          ours.windows,
          options.concurrency,
          '{bare-paced}',
          false,
          ours.stageMs,
        )
      : undefined;
    if (paced) log("bare BullMQ at the pipeline's pace", paced);
    let attributed: { ours: Figures; bare: Figures } | undefined;
    if (options.attribute) {
      const o = await pipelineRun(redis.url, redis.port, admin, options, dir, '{lsa-mon}', true);
      log('pipeline (MONITOR)', o);
      const b = await baselineRun(
        redis.url,
        redis.port,
        admin,
        o.windows,
        options.concurrency,
        '{bare-mon}',
        true,
      );
      log('bare BullMQ (MONITOR)', b);
      attributed = { ours: o, bare: b };
    }
    const row = (name: string, f: Figures) => [
      name,
      f.windows,
      f.loads,
      f.seconds.toFixed(1),
      (f.windows / f.seconds).toFixed(1),
      Math.round(f.commands / f.windows),
      ((1000 * f.redisCpuSeconds) / f.windows).toFixed(2),
      connectionSummary(f.connections),
    ];
    const top = (f: Figures) =>
      [...f.perCommand.entries()]
        .sort((x, y) => y[1] - x[1])
        .slice(0, 10)
        .map(([name, calls]) => `${name} ${(calls / f.windows).toFixed(1)}`)
        .join(', ');
    const topUsec = (f: Figures) =>
      [...f.usec.entries()]
        .sort((x, y) => y[1] - x[1])
        .slice(0, 8)
        .map(([name, us]) => `${name} ${(us / f.windows).toFixed(0)}`)
        .join(', ');
    const lines = [
      `fanout, ${options.instances} instances × ${options.exports} exports (one window each, 20 history rows an instance), 2 worker processes × ${options.concurrency} jobs of each kind`,
      table(
        [
          'run',
          'flows (extract jobs)',
          'loads',
          'trigger → all loaded, s',
          'flows/s',
          'Redis commands per flow',
          'Redis CPU ms per flow',
          'Redis connections per worker process',
        ],
        [
          row('pipeline', ours),
          row('bare BullMQ', bare),
          ...(paced
            ? [
                row(
                  `bare BullMQ, jobs taking the pipeline's mean times (${paced.windows} flows: extract ${ours.stageMs!.extract} ms, upload ${ours.stageMs!.upload} ms, load ${ours.stageMs!.load} ms)`,
                  paced,
                ),
              ]
            : []),
        ],
      ),
      `idle Redis CPU with the 2 worker processes connected: pipeline ${(1000 * ours.idleRedisCpuPerSecond).toFixed(1)} ms/s, bare ${(1000 * bare.idleRedisCpuPerSecond).toFixed(1)} ms/s`,
      `pipeline, commands per flow (INFO commandstats, in-script included): ${top(ours)}`,
      `bare BullMQ, commands per flow: ${top(bare)}`,
      `pipeline, Redis µs per flow by command: ${topUsec(ours)}`,
      `bare BullMQ, Redis µs per flow by command: ${topUsec(bare)}`,
    ];
    if (ours.bigqueryJobs) {
      const j = ours.bigqueryJobs;
      lines.push(
        `pipeline, BigQuery jobs in the cycle: ${j.load} load jobs, ${j.query} query jobs (MERGEs, staging counts, run records), for ${j.tables} export tables; at most ${j.maxPerTable} jobs for one table (without batching: one load job and one MERGE per window, ${ours.windows} of each)`,
      );
    }
    if (ours.stageMs) {
      lines.push(
        `pipeline, mean processing time per job (ms): extract ${ours.stageMs.extract}, upload ${ours.stageMs.upload}, load ${ours.stageMs.load}`,
      );
    }
    if (attributed) {
      const { ours: o, bare: b } = attributed;
      const roles = [...o.attribution!.byRole.entries()]
        .map(([role, n]) => `${role} ${(n / o.windows).toFixed(1)}`)
        .join(', ');
      lines.push(
        '',
        `MONITOR attribution (a second run of each; per flow): pipeline ${(o.attribution!.totalSent / o.windows).toFixed(1)} commands sent by clients (${roles}) + ${(o.attribution!.totalInner / o.windows).toFixed(1)} run inside Lua scripts; bare BullMQ ${(b.attribution!.totalSent / b.windows).toFixed(1)} sent + ${(b.attribution!.totalInner / b.windows).toFixed(1)} in scripts`,
        attributionTable(o, b),
      );
    }
    return { text: lines.join('\n'), ours, bare, ...(paced ? { paced } : {}) };
  } finally {
    await admin.quit();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
