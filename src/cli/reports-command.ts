import { createBigQuery } from '../bigquery/client.ts';
import { loadReports } from '../reports/catalog.ts';
import { checkReportDataset } from '../reports/dataset.ts';
import { installReports } from '../reports/install.ts';
import { CONFIG_OPTIONS, type Command, loadConfig } from './command.ts';
import { COMMAND_SUMMARIES } from './summaries.ts';

// `lsa reports install` creates (or replaces) the report views in the pipeline's dataset; `lsa reports list`
// names them. Installing needs BigQuery rights only: no Looker secret, no Redis.

export const reportsCommand: Command = {
  name: 'reports',
  summary: COMMAND_SUMMARIES.reports,
  usage: 'reports install|list [--config file]',
  options: { ...CONFIG_OPTIONS },
  examples: [
    {
      command: 'lsa reports install --config lsa.yaml',
      does: 'CREATE OR REPLACE every report view in bigquery.projectId.dataset (safe to repeat)',
    },
    { command: 'lsa reports list', does: 'the views and the question each answers' },
  ],
  exitCodes: {
    0: 'every view installed (install) or listed (list)',
    1: 'BigQuery refused at least one view (each is named with its error)',
    3: 'installed what it could: some views read tables the dataset does not have yet (run the pipeline first)',
  },
  async run(values, positionals) {
    const [action, ...extra] = positionals;
    const reports = loadReports();
    if (action === 'list' && extra.length === 0) {
      const width = Math.max(...reports.map((r) => r.name.length)) + 2;
      process.stdout.write(`${reports.map((r) => `${r.name.padEnd(width)}${r.summary}`).join('\n')}\n`);
      return 0;
    }
    if (action !== 'install' || extra.length > 0) {
      process.stderr.write(`lsa reports: expected "install" or "list", got "${positionals.join(' ')}"\n`);
      return 2;
    }
    const config = loadConfig(values, { requireSecrets: false });
    const target = checkReportDataset({
      projectId: config.bigquery.projectId,
      dataset: config.bigquery.dataset,
    });
    const outcomes = await installReports(createBigQuery(config.bigquery), target, reports, {
      location: config.bigquery.location,
    });
    for (const outcome of outcomes) {
      const detail = outcome.status === 'installed' ? '' : `: ${outcome.reason}`;
      process.stdout.write(
        `${outcome.status.padEnd(9)} ${target.projectId}.${target.dataset}.${outcome.name}${detail}\n`,
      );
    }
    if (outcomes.some((o) => o.status === 'failed')) return 1;
    return outcomes.some((o) => o.status === 'skipped') ? 3 : 0;
  },
};
