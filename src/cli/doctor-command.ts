import { runDoctor } from '../doctor/doctor.ts';
import { renderReport } from '../doctor/report.ts';
import { CONFIG_OPTIONS, type Command, loadConfig } from './command.ts';
import { COMMAND_SUMMARIES } from './summaries.ts';

export const doctorCommand: Command = {
  name: 'doctor',
  summary: COMMAND_SUMMARIES.doctor,
  usage: 'doctor [--instance id] [--json] [--config file]',
  options: {
    ...CONFIG_OPTIONS,
    instance: {
      type: 'string',
      valueName: 'id',
      description: 'check only this Looker instance (and GCS, BigQuery)',
    },
    json: { type: 'boolean', description: 'print JSON instead of a table' },
  },
  examples: [
    {
      command: 'lsa doctor',
      does: 'every instance, Cloud Storage and BigQuery: a table of checks, a fix for each ❌',
    },
    {
      command: 'lsa doctor --instance prod-eu',
      does: "only prod-eu's Looker checks (and Cloud Storage, BigQuery)",
    },
    { command: 'lsa doctor --json', does: 'the same checks as JSON: {ok, summary, checks[]}' },
  ],
  exitCodes: {
    0: 'every check passed',
    1: 'at least one check failed (each ❌ carries its fix)',
    2: 'bad usage or unknown --instance',
  },
  async run(values) {
    const config = loadConfig(values);
    const instanceId = typeof values.instance === 'string' ? values.instance : undefined;
    if (instanceId !== undefined && !config.instances.some((i) => i.id === instanceId)) {
      process.stderr.write(
        `lsa doctor: unknown instance "${instanceId}" (configured: ${config.instances.map((i) => i.id).join(', ')})\n`,
      );
      return 2;
    }
    const report = await runDoctor(config, instanceId ? { instanceId } : {});
    process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : `${renderReport(report)}\n`);
    return report.ok ? 0 : 1;
  },
};
