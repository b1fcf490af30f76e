import type { BigQuery } from '@google-cloud/bigquery';
import { errorMessage } from '../errors.ts';
import type { ReportDefinition } from './catalog.ts';
import { type ReportDataset, renderTemplate } from './dataset.ts';

// `lsa reports install`: CREATE OR REPLACE every report view, each after the views it reads. Idempotent. A view
// that reads a table the dataset does not have (an export nobody configured) is skipped, and so are the views
// that read it; a view BigQuery refuses is reported and the others are still installed.

export type InstallOutcome =
  | { name: string; status: 'installed' }
  | { name: string; status: 'skipped'; reason: string }
  | { name: string; status: 'failed'; reason: string };

export async function installReports(
  bigquery: BigQuery,
  target: ReportDataset,
  reports: ReportDefinition[],
  options: { location?: string } = {},
): Promise<InstallOutcome[]> {
  const [tables] = await bigquery.dataset(target.dataset, { projectId: target.projectId }).getTables();
  const present = new Set(tables.map((t) => t.id!));
  const reportNames = new Set(reports.map((r) => r.name));
  const outcomes: InstallOutcome[] = [];
  const unavailable = new Map<string, string>();
  for (const report of reports) {
    const missing = report.reads.filter((read) => !present.has(read) && !reportNames.has(read));
    const blockedBy = report.reads.find((read) => unavailable.has(read));
    if (missing.length > 0 || blockedBy) {
      const reason =
        missing.length > 0
          ? `table ${missing.join(', ')} not in ${target.projectId}.${target.dataset}`
          : `it reads ${blockedBy}, which is not installed`;
      unavailable.set(report.name, reason);
      outcomes.push({ name: report.name, status: 'skipped', reason });
      continue;
    }
    try {
      const [job] = await bigquery.createQueryJob({
        query: renderTemplate(report.template, target),
        ...(options.location ? { location: options.location } : {}),
      });
      await job.getQueryResults({ maxResults: 0 });
      present.add(report.name);
      outcomes.push({ name: report.name, status: 'installed' });
    } catch (error) {
      const reason = errorMessage(error);
      unavailable.set(report.name, reason);
      outcomes.push({ name: report.name, status: 'failed', reason });
    }
  }
  return outcomes;
}
