import { randomBytes } from 'node:crypto';
import { type BigQueryEmulator, startBigQueryEmulator } from './bigquery/server.ts';
import { type GcsEmulator, MemoryObjectStore, startGcsEmulator } from './gcs/server.ts';
import { type LookerEmulator, type LookerInstanceSpec, startLookerEmulator } from './looker/index.ts';

// The three emulators together, as `lsa emulators`, `lsa demo` and the integration tests run them: Looker with
// several seeded instances, GCS, and BigQuery loading from that GCS's objects in process.

export interface EmulatorStack {
  looker: LookerEmulator;
  gcs: GcsEmulator;
  bigquery: BigQueryEmulator;
  instances: LookerInstanceSpec[];
  close(): Promise<void>;
}

export interface StackOptions {
  instances?: LookerInstanceSpec[];
  host?: string;
  /** Keep GCS objects on disk under this folder. */
  gcsDir?: string;
  ports?: { looker?: number; gcs?: number; bigquery?: number };
}

/** Three instances of different sizes; credentials are random per start (they are the emulator's, not real). */
export function demoInstances(): LookerInstanceSpec[] {
  const secret = () => randomBytes(12).toString('hex');
  return [
    {
      id: 'emea-small',
      clientId: 'emea-small-client',
      clientSecret: secret(),
      seed: 11,
      historyRows: 1_500,
      historyDays: 30,
    },
    {
      id: 'us-medium',
      clientId: 'us-medium-client',
      clientSecret: secret(),
      seed: 22,
      historyRows: 12_000,
      historyDays: 60,
    },
    {
      id: 'apac-large',
      clientId: 'apac-large-client',
      clientSecret: secret(),
      seed: 33,
      historyRows: 40_000,
      historyDays: 90,
    },
  ];
}

export async function startEmulatorStack(options: StackOptions = {}): Promise<EmulatorStack> {
  const instances = options.instances ?? demoInstances();
  const host = options.host ?? '127.0.0.1';
  const store = new MemoryObjectStore(options.gcsDir ? { dir: options.gcsDir } : {});
  const gcs = await startGcsEmulator({ store, host, port: options.ports?.gcs ?? 0 });
  const bigquery = await startBigQueryEmulator({ gcs: store, host, port: options.ports?.bigquery ?? 0 });
  const looker = await startLookerEmulator({ instances, host, port: options.ports?.looker ?? 0 });
  return {
    looker,
    gcs,
    bigquery,
    instances,
    async close() {
      await Promise.all([looker.close(), gcs.close(), bigquery.close()]);
    },
  };
}

export interface StackConfigOptions {
  redisUrl: string;
  spoolDir: string;
  prefix?: string;
  bucket?: string;
  projectId?: string;
  dataset?: string;
  /** Export settings for every export (merged over lag 0s, lookback 10m). */
  defaults?: Record<string, string>;
  /** Extra top-level YAML (tests tune worker timings). */
  extraYaml?: string;
  /** Per-instance YAML lines (indented under the instance). */
  instanceYaml?: string;
  exports?: string[];
}

/** `KEY=value` lines, the format `--env-file` (and Node's process.loadEnvFile) reads. */
export function envFileText(env: Record<string, string>): string {
  return `${Object.entries(env)
    .map(([key, value]) => `${key}=${value}`)
    .join('\n')}\n`;
}

export function secretEnvName(instanceId: string, what: 'CLIENT_ID' | 'CLIENT_SECRET'): string {
  return `LSA_${instanceId.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_${what}`;
}

/** A ready pipeline config for the stack, and the environment (secrets) it references. */
export function stackConfig(
  stack: EmulatorStack,
  options: StackConfigOptions,
): { yaml: string; env: Record<string, string> } {
  const bucket = options.bucket ?? 'lsa-demo';
  const env: Record<string, string> = { LSA_HASH_KEY: randomBytes(24).toString('hex') };
  const instances = stack.instances
    .map((i) => {
      env[secretEnvName(i.id, 'CLIENT_ID')] = i.clientId;
      env[secretEnvName(i.id, 'CLIENT_SECRET')] = i.clientSecret;
      return [
        `  - id: ${i.id}`,
        `    baseUrl: ${stack.looker.baseUrl(i.id)}`,
        `    clientId: "\${${secretEnvName(i.id, 'CLIENT_ID')}}"`,
        `    clientSecret: "\${${secretEnvName(i.id, 'CLIENT_SECRET')}}"`,
        ...(options.exports ? [`    exports: [${options.exports.join(', ')}]`] : []),
        ...(options.instanceYaml ? [options.instanceYaml] : []),
      ].join('\n');
    })
    .join('\n');
  const yaml = `# Generated for the local emulators: every endpoint below is on this machine.
redis:
  url: ${options.redisUrl}
  prefix: "${options.prefix ?? '{lsa}'}"
schedule:
  cron: "*/5 * * * *"
  timezone: UTC
spool:
  dir: ${options.spoolDir}
gcs:
  bucket: ${bucket}
  prefix: looker-activity
  apiEndpoint: ${stack.gcs.url}
bigquery:
  projectId: ${options.projectId ?? 'local-project'}
  dataset: ${options.dataset ?? 'looker_system_activity'}
  location: US
  apiEndpoint: ${stack.bigquery.url}
masking:
  hashKey: "\${LSA_HASH_KEY}"
defaults:
${Object.entries({ lag: '0s', lookback: '10m', ...options.defaults })
  .map(([k, v]) => `  ${k}: ${v}`)
  .join('\n')}
${options.extraYaml ?? ''}
instances:
${instances}
`;
  stack.gcs.store.createBucket(bucket);
  return { yaml, env };
}
