import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { startEmulatorStack } from 'lsa-emulators';
import { createLogger } from '../logging.ts';
import { type Command, UsageError } from './command.ts';
import { envFileText, stackConfig } from './emulator-config.ts';
import { untilSignal } from './start-command.ts';
import { COMMAND_SUMMARIES } from './summaries.ts';

// The project, bucket and dataset the written config uses, repeated in the lines for gcloud and bq.
const GOOGLE_NAMES = { projectId: 'local-project', bucket: 'lsa-demo', dataset: 'looker_system_activity' };

// gcloud and bq need an access token before they send anything; the emulators accept any. Not a secret.
const PLACEHOLDER_TOKEN = 'emulator-placeholder-token';

/**
 * The lines a user pastes to look at what landed with Google's own CLIs: `gcloud storage` through the endpoint
 * override (an absolute URL ending in /storage/v1/, the form gcloud accepts), `bq` through --api; both
 * authenticated by the placeholder token file, so no gcloud login is needed or used.
 */
export function googleCliLines(options: {
  gcsUrl: string;
  bigqueryUrl: string;
  tokenFile: string;
}): string[] {
  const { projectId, bucket, dataset } = GOOGLE_NAMES;
  const bq = `bq --api ${options.bigqueryUrl} --project_id ${projectId}`;
  return [
    'Look at what landed with gcloud and bq (paste into a shell):',
    `  export CLOUDSDK_AUTH_ACCESS_TOKEN_FILE=${options.tokenFile}`,
    `  export CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE=${options.gcsUrl}/storage/v1/`,
    `  export CLOUDSDK_CORE_PROJECT=${projectId}`,
    `  gcloud storage ls --recursive gs://${bucket}/`,
    `  ${bq} ls ${dataset}`,
    `  ${bq} query --nouse_legacy_sql 'SELECT looker_instance, COUNT(*) AS n FROM ${dataset}.history GROUP BY 1'`,
  ];
}

export const emulatorsCommand: Command = {
  name: 'emulators',
  summary: COMMAND_SUMMARIES.emulators,
  usage: 'emulators --config-out <file> [--redis-url url] [--host host]',
  examples: [
    {
      command: 'lsa emulators --config-out lsa.yaml',
      does: 'start the emulators, write lsa.yaml and lsa.yaml.env',
    },
  ],
  options: {
    'config-out': {
      type: 'string',
      valueName: 'file',
      description: 'where to write the pipeline config (required)',
    },
    'redis-url': {
      type: 'string',
      valueName: 'url',
      description: 'Redis for the pipeline config (default: ${REDIS_URL})',
    },
    host: { type: 'string', valueName: 'host', description: 'address to listen on (default 127.0.0.1)' },
  },
  async run(values) {
    if (typeof values['config-out'] !== 'string') throw new UsageError('--config-out is required');
    const logger = createLogger();
    const host = typeof values.host === 'string' ? values.host : '127.0.0.1';
    const stack = await startEmulatorStack({ host });
    const configFile = resolve(values['config-out']);
    const envFile = `${configFile}.env`;
    const { yaml, env } = stackConfig(stack, {
      redisUrl: typeof values['redis-url'] === 'string' ? values['redis-url'] : '${REDIS_URL}',
      spoolDir: resolve('.lsa/spool'),
      ...GOOGLE_NAMES,
      timing: 'derived',
    });
    writeFileSync(configFile, yaml);
    // The emulators' credentials are random per start; they go to an env file, never into the config.
    writeFileSync(envFile, envFileText(env), { mode: 0o600 });
    const tokenFile = `${configFile}.token`;
    writeFileSync(tokenFile, `${PLACEHOLDER_TOKEN}\n`);
    logger.info(
      {
        looker: stack.looker.url,
        gcs: stack.gcs.url,
        bigquery: stack.bigquery.url,
        instances: stack.instances.map((i) => i.id),
      },
      'emulators running',
    );
    process.stdout.write(
      `\nConfig written to ${configFile}; secrets to ${envFile}.\nRun the pipeline against them with:\n  REDIS_URL=redis://127.0.0.1:6379 npx lsa start --config ${configFile} --env-file ${envFile}\n\n`,
    );
    const cliLines = googleCliLines({ gcsUrl: stack.gcs.url, bigqueryUrl: stack.bigquery.url, tokenFile });
    process.stdout.write(`${cliLines.join('\n')}\n\n`);
    await untilSignal(logger);
    await stack.close();
    return 0;
  },
};
