import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { startEmulatorStack } from 'lsa-emulators';
import { createLogger } from '../logging.ts';
import { type Command, UsageError } from './command.ts';
import { envFileText, stackConfig } from './emulator-config.ts';
import { untilSignal } from './start-command.ts';
import { COMMAND_SUMMARIES } from './summaries.ts';

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
    });
    writeFileSync(configFile, yaml);
    // The emulators' credentials are random per start; they go to an env file, never into the config.
    writeFileSync(envFile, envFileText(env), { mode: 0o600 });
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
    await untilSignal(logger);
    await stack.close();
    return 0;
  },
};
