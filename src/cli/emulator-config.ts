import { randomBytes } from 'node:crypto';
import type { EmulatorStack } from 'lsa-emulators';

// The pipeline's side of the local emulator stack: a ready config for `lsa demo`, `lsa emulators`, the tests and
// the benchmarks, with the emulators' credentials in environment variables the config references (never in
// the config itself). The emulators know nothing of this config; this module knows nothing of their insides.

export interface StackConfigOptions {
  redisUrl: string;
  spoolDir: string;
  prefix?: string;
  bucket?: string;
  projectId?: string;
  dataset?: string;
  /** Export settings for every export (merged over lag 0s, lookback 10m). */
  defaults?: Record<string, string>;
  /**
   * `emulator` (default): lag 0s and look-back 10m, right for an ideal emulator whose rows are final and visible
   * at once. `derived`: no override, so each export's look-back and lag follow its refresh cadence, as in
   * production: right for an emulator that behaves like real System Activity.
   */
  timing?: 'emulator' | 'derived';
  /** Extra top-level YAML (tests tune worker timings). */
  extraYaml?: string;
  /** Per-instance YAML lines (indented under the instance). */
  instanceYaml?: string | ((instanceId: string) => string);
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
        ...(typeof options.instanceYaml === 'function'
          ? [options.instanceYaml(i.id)]
          : options.instanceYaml
            ? [options.instanceYaml]
            : []),
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
defaults: {${Object.entries({
    ...(options.timing === 'derived' ? {} : { lag: '0s', lookback: '10m' }),
    ...options.defaults,
  })
    .map(([k, v]) => ` ${k}: ${v}`)
    .join(',')} }
${options.extraYaml ?? ''}
instances:
${instances}
`;
  stack.gcs.store.createBucket(bucket);
  return { yaml, env };
}
