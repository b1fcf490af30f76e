import { ConfigError } from '../config/errors.ts';
import { loadConfigFile } from '../config/load.ts';
import { configJsonSchema } from '../config/schema.ts';
import { CONFIG_OPTIONS, type Command, configPath, UsageError } from './command.ts';
import { COMMAND_SUMMARIES } from './summaries.ts';

export const configCommand: Command = {
  name: 'config',
  summary: COMMAND_SUMMARIES.config,
  usage: 'config validate [file] [--skip-env] | config schema',
  options: {
    ...CONFIG_OPTIONS,
    'skip-env': {
      type: 'boolean',
      description: "do not require the secrets' environment variables to be set",
    },
  },
  examples: [
    { command: 'lsa config validate lsa.yaml', does: 'check a config and the environment its secrets need' },
    { command: 'lsa config validate lsa.yaml --skip-env', does: 'check the file alone (CI)' },
    { command: 'lsa config schema > lsa.schema.json', does: 'a JSON Schema for editors' },
  ],
  exitCodes: {
    0: 'the config is valid (or the schema was printed)',
    1: 'the config has problems: each is listed',
  },
  async run(values, positionals) {
    const [action, file] = positionals;
    if (action === 'schema') {
      process.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
      return 0;
    }
    if (action !== 'validate') throw new UsageError('expected "config validate [file]" or "config schema"');
    const path = file ?? configPath(values);
    try {
      const config = loadConfigFile(path, { requireSecrets: !values['skip-env'] });
      const exports = new Set(config.instances.flatMap((i) => i.exports.map((e) => e.definition.name)));
      process.stdout.write(
        `${path}: valid — ${config.instances.length} instance(s) (${config.instances.map((i) => i.id).join(', ')}), ${exports.size} export(s), schedule "${config.schedule.cron}" ${config.schedule.timezone}\n`,
      );
      return 0;
    } catch (error) {
      if (error instanceof ConfigError) {
        process.stderr.write(`${error.message}\n`);
        return 1;
      }
      throw error;
    }
  },
};
