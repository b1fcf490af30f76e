import { silentLogger } from '../logging.ts';
import { createContext } from '../pipeline/context.ts';
import { collectStatus, renderStatusTable } from '../pipeline/status.ts';
import { CONFIG_OPTIONS, type Command, loadConfig } from './command.ts';
import { COMMAND_SUMMARIES } from './summaries.ts';

export const statusCommand: Command = {
  name: 'status',
  summary: COMMAND_SUMMARIES.status,
  usage: 'status [--json] [--config file]',
  options: { ...CONFIG_OPTIONS, json: { type: 'boolean', description: 'print JSON instead of a table' } },
  async run(values) {
    const config = loadConfig(values);
    const context = createContext(config, { logger: silentLogger() });
    try {
      const status = await collectStatus(context);
      process.stdout.write(
        values.json ? `${JSON.stringify(status, null, 2)}\n` : `${renderStatusTable(status)}\n`,
      );
      return 0;
    } finally {
      await context.close();
    }
  },
};
