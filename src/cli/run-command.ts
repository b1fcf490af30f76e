import { findExport, findInstance } from '../config/model.ts';
import { silentLogger } from '../logging.ts';
import { createContext } from '../pipeline/context.ts';
import { fanout } from '../pipeline/processors/fanout.ts';
import { CONFIG_OPTIONS, type Command, ensureRedisReachable, loadConfig, UsageError } from './command.ts';
import { COMMAND_SUMMARIES } from './summaries.ts';

export const runCommand: Command = {
  name: 'run',
  summary: COMMAND_SUMMARIES.run,
  usage: 'run --instance <id> [--export <name>] [--config file]',
  options: {
    ...CONFIG_OPTIONS,
    instance: { type: 'string', valueName: 'id', description: 'the Looker instance to run (required)' },
    export: { type: 'string', valueName: 'name', description: 'only this export' },
  },
  examples: [
    { command: 'lsa run --instance prod-eu', does: 'plan and enqueue every export of prod-eu now' },
    { command: 'lsa run --instance prod-eu --export user', does: 'only the user snapshot' },
  ],
  exitCodes: { 1: 'unknown instance or export, bad config, or Redis unreachable' },
  async run(values) {
    if (typeof values.instance !== 'string') throw new UsageError('--instance is required');
    const config = loadConfig(values);
    const instance = findInstance(config, values.instance);
    if (typeof values.export === 'string') findExport(instance, values.export);
    await ensureRedisReachable(config);
    const context = createContext(config, { logger: silentLogger() });
    try {
      const summary = await fanout(context, undefined, {
        instanceIds: [instance.id],
        exports: typeof values.export === 'string' ? [values.export] : null,
        reason: 'manual',
      });
      for (const p of summary.planned)
        process.stdout.write(`${p.instanceId}/${p.exportName}: ${p.windows} window(s) enqueued\n`);
      for (const s of summary.skipped)
        process.stdout.write(`${s.instanceId}/${s.exportName}: skipped (${s.reason})\n`);
      return 0;
    } finally {
      await context.close();
    }
  },
};
