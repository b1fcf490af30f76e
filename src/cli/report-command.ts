import { createBigQuery } from '../bigquery/client.ts';
import { findReport, loadReports, type ReportDefinition } from '../reports/catalog.ts';
import { checkReportDataset } from '../reports/dataset.ts';
import { readReport } from '../reports/read.ts';
import { REPORT_FORMATS, type ReportFormat, renderReport } from '../reports/render.ts';
import { CONFIG_OPTIONS, type Command, loadConfig } from './command.ts';
import { COMMAND_SUMMARIES } from './summaries.ts';

// `lsa report <name>` prints one installed report view. It reads only the config's BigQuery project and dataset:
// no Looker secret, no Redis.

function reportList(reports: ReportDefinition[]): string {
  const width = Math.max(...reports.map((r) => r.name.length)) + 2;
  return reports.map((r) => `  ${r.name.padEnd(width)}${r.summary}`).join('\n');
}

export const reportCommand: Command = {
  name: 'report',
  summary: COMMAND_SUMMARIES.report,
  usage: 'report <name> [--instance id] [--format table|csv|json] [--limit n] [--config file]',
  options: {
    ...CONFIG_OPTIONS,
    instance: { type: 'string', valueName: 'id', description: 'only the rows of this Looker instance' },
    format: {
      type: 'string',
      valueName: 'table|csv|json',
      description: 'output format (default: table)',
      default: 'table',
    },
    limit: { type: 'string', valueName: 'n', description: 'print at most n rows' },
    list: { type: 'boolean', description: 'list the reports and what each answers' },
  },
  examples: [
    { command: 'lsa report instance_overview', does: 'queries, users, errors and content per instance' },
    {
      command: 'lsa report query_performance_daily --instance prod-eu --limit 14',
      does: "prod-eu's last 14 days: queries, p50/p95 runtime, error rate",
    },
    {
      command: 'lsa report unused_content --format csv > unused.csv',
      does: 'unused content, for a spreadsheet',
    },
    { command: 'lsa report --list', does: 'every report and the question it answers' },
  ],
  exitCodes: {
    0: 'report printed',
    1: 'BigQuery refused the query (e.g. the views are not installed: run lsa reports install)',
    2: 'bad usage: unknown report, format or limit',
  },
  async run(values, positionals) {
    const reports = loadReports();
    if (values.list) {
      process.stdout.write(`${reportList(reports)}\n`);
      return 0;
    }
    const [name, ...extra] = positionals;
    const format = values.format as ReportFormat;
    const limit = typeof values.limit === 'string' ? Number(values.limit) : undefined;
    const problem =
      name === undefined
        ? 'which report? name one of:'
        : extra.length > 0
          ? `one report at a time (got "${positionals.join(' ')}"); reports:`
          : !reports.some((r) => r.name === name)
            ? `unknown report "${name}"; reports:`
            : !REPORT_FORMATS.includes(format)
              ? `--format "${values.format}" is not one of ${REPORT_FORMATS.join(', ')}`
              : limit !== undefined && !(Number.isInteger(limit) && limit >= 0)
                ? `--limit "${values.limit}" is not a whole number`
                : undefined;
    if (problem) {
      const listing = problem.endsWith(':') ? `\n${reportList(reports)}` : '';
      process.stderr.write(`lsa report: ${problem}${listing}\n`);
      return 2;
    }
    const config = loadConfig(values, { requireSecrets: false });
    const target = checkReportDataset({
      projectId: config.bigquery.projectId,
      dataset: config.bigquery.dataset,
    });
    const report = findReport(reports, name!);
    try {
      const rows = await readReport(createBigQuery(config.bigquery), target, report, {
        ...(typeof values.instance === 'string' ? { instance: values.instance } : {}),
        ...(limit !== undefined ? { limit } : {}),
        location: config.bigquery.location,
      });
      process.stdout.write(renderReport(rows, format));
      return 0;
    } catch (error) {
      if ((error as { code?: number }).code === 404) {
        process.stderr.write(
          `lsa report: ${report.name} is not in ${target.projectId}.${target.dataset} (${(error as Error).message}); run lsa reports install\n`,
        );
        return 1;
      }
      throw error;
    }
  },
};
