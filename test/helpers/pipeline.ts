import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type EmulatorStack, startEmulatorStack } from 'lsa-emulators';
import type { LookerInstanceSpec } from 'lsa-emulators/looker';
import { envFileText, type StackConfigOptions, stackConfig } from '../../src/cli/emulator-config.ts';
import { parseConfigText } from '../../src/config/load.ts';
import type { PipelineConfig, ResolvedExport } from '../../src/config/model.ts';

import { silentLogger } from '../../src/logging.ts';
import { createContext, type PipelineContext } from '../../src/pipeline/context.ts';
import { type RoleHandle, startWorkerRole } from '../../src/pipeline/roles.ts';
import { redisUrl, uniquePrefix } from './redis.ts';

// A whole pipeline for one test file: the emulator stack, a config pointing at it under a key prefix of its own,
// the secrets in the environment, and (optionally) an in-process worker. Nothing is mocked.

export interface TestPipeline {
  stack: EmulatorStack;
  config: PipelineConfig;
  configFile: string;
  envFile: string;
  env: Record<string, string>;
  dir: string;
  context: PipelineContext;
  worker?: RoleHandle;
  /** Same config, another context (a second process's view), e.g. for a second node. */
  newContext(nodeId?: string): PipelineContext;
  close(): Promise<void>;
}

export const FAST_WORKERS = `workers:
  lockDuration: 5s
  stalledInterval: 2s
  heartbeat: 1s
  deadNodeAfter: 5s
  shutdownGrace: 10s
  backoff: 200ms`;

/**
 * A load batch closes 100 ms after its last window joined instead of the default 2 s: a test's windows are ready
 * within milliseconds of each other, and every run otherwise waited 2 s idle before its first load. Windows that
 * arrive later simply open the next batch, so batching is still exercised (load-batch.test.ts tunes its own).
 */
export const FAST_LOADS = `load:
  batch:
    quiet: 100ms`;

/** The timings every test pipeline gets unless it passes its own `extraYaml`. */
export const FAST_TIMINGS = `${FAST_WORKERS}\n${FAST_LOADS}`;

export interface TestPipelineOptions extends Omit<Partial<StackConfigOptions>, 'redisUrl'> {
  /** Another Redis than the run's shared one (e.g. one the test restarts). */
  redisUrl?: string;
  instances: LookerInstanceSpec[];
  startWorker?: boolean;
  /** The pipeline's clock (planning), shared with the emulators' in tests that move time. */
  now?: () => number;
}

export async function startTestPipeline(options: TestPipelineOptions): Promise<TestPipeline> {
  const dir = mkdtempSync(join(tmpdir(), 'lsa-test-'));
  const stack = await startEmulatorStack({
    instances: options.instances,
    ...(options.now ? { clock: options.now } : {}),
  });
  const { yaml, env } = stackConfig(stack, {
    redisUrl: options.redisUrl ?? redisUrl(),
    spoolDir: join(dir, 'spool'),
    prefix: options.prefix ?? uniquePrefix(),
    extraYaml: options.extraYaml ?? FAST_TIMINGS,
    ...(options.exports ? { exports: options.exports } : {}),
    ...(options.defaults ? { defaults: options.defaults } : {}),
    ...(options.instanceYaml ? { instanceYaml: options.instanceYaml } : {}),
    ...(options.timing ? { timing: options.timing } : {}),
  });
  Object.assign(process.env, env);
  const configFile = join(dir, 'lsa.yaml');
  const envFile = join(dir, 'lsa.env');
  writeFileSync(configFile, yaml);
  writeFileSync(envFile, envFileText(env));
  const config = parseConfigText(yaml, configFile);
  const contexts: PipelineContext[] = [];
  const newContext = (nodeId?: string) => {
    const context = createContext(config, {
      logger: silentLogger(),
      ...(nodeId ? { nodeId } : {}),
      ...(options.now ? { now: options.now } : {}),
    });
    contexts.push(context);
    return context;
  };
  const context = newContext();
  const worker = options.startWorker === false ? undefined : await startWorkerRole(context);
  return {
    stack,
    config,
    configFile,
    envFile,
    env,
    dir,
    context,
    ...(worker ? { worker } : {}),
    newContext,
    async close() {
      await worker?.close();
      for (const c of contexts) await c.close();
      await stack.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Keys the emulator holds for an export, i.e. what BigQuery must hold after a complete run (ground truth). */
export function expectedKeys(
  stack: EmulatorStack,
  instanceId: string,
  resolved: ResolvedExport,
  beforeMs?: number,
): number[] {
  const { definition } = resolved;
  const filters: Record<string, string> = { ...definition.filters };
  if (
    beforeMs !== undefined &&
    definition.mode.kind === 'incremental' &&
    resolved.settings.horizon !== 'all'
  ) {
    filters[definition.mode.cursor] =
      `before ${new Date(beforeMs).toISOString().slice(0, 19).replace('T', ' ')}`;
  }
  const rows = stack.looker.instance(instanceId).runQuery({
    model: definition.model,
    view: definition.explore,
    fields: [definition.key],
    filters,
    sorts: [definition.key],
    query_timezone: 'UTC',
  });
  return rows.map((r) => Number(r[definition.key])).sort((a, b) => a - b);
}

/** Keys in the BigQuery table for one instance, read back with the real client. */
export async function loadedKeys(
  context: PipelineContext,
  resolved: ResolvedExport,
  instanceId: string,
): Promise<number[]> {
  const { projectId, dataset } = context.config.bigquery;
  const key = resolved.definition.fields.find((f) => f.field === resolved.definition.key)!.column;
  const [rows] = await context.bigquery.query({
    query: `SELECT \`${key}\` AS k FROM \`${projectId}.${dataset}.${resolved.definition.name}\` WHERE looker_instance = @instance ORDER BY k`,
    params: { instance: instanceId },
  });
  return (rows as { k: number }[]).map((r) => Number(r.k));
}
