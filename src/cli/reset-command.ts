import { findExport, findInstance } from '../config/model.ts';
import { silentLogger } from '../logging.ts';
import { createContext } from '../pipeline/context.ts';
import { CONFIG_OPTIONS, type Command, ensureRedisReachable, loadConfig, UsageError } from './command.ts';
import { COMMAND_SUMMARIES } from './summaries.ts';

export const resetCommand: Command = {
  name: 'reset',
  summary: COMMAND_SUMMARIES.reset,
  usage: 'reset --instance <id> [--export <name>] [--config file]',
  options: {
    ...CONFIG_OPTIONS,
    instance: { type: 'string', valueName: 'id', description: 'the Looker instance to reset (required)' },
    export: {
      type: 'string',
      valueName: 'name',
      description: "only this export (default: all of the instance's exports)",
    },
  },
  examples: [
    { command: 'lsa reset --instance prod-eu', does: 'every export of prod-eu back to initial load' },
    { command: 'lsa reset --instance prod-eu --export history', does: 'only history' },
  ],
  exitCodes: { 1: 'unknown instance or export, bad config, or Redis unreachable' },
  async run(values) {
    if (typeof values.instance !== 'string') throw new UsageError('--instance is required');
    const config = loadConfig(values, { requireSecrets: false });
    const instance = findInstance(config, values.instance);
    const exports =
      typeof values.export === 'string' ? [findExport(instance, values.export)] : instance.exports;
    await ensureRedisReachable(config);
    const context = createContext(config, { logger: silentLogger() });
    try {
      for (const e of exports) {
        await context.exportState.reset(instance.id, e.definition.name);
        process.stdout.write(`${instance.id}/${e.definition.name}: back to initial load\n`);
      }
      return 0;
    } finally {
      await context.close();
    }
  },
};
