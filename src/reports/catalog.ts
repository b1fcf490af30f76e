import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// The report views: one GoogleSQL template per view in the repository's `reports/` folder, each a
// `CREATE OR REPLACE VIEW` of `{{project}}.{{dataset}}.<file name>`. A template's leading comment is its
// description, `-- @order …` the ORDER BY `lsa report` uses, and the tables and views it reads are found in its
// text, so a view is installed after the views it reads and skipped when a table it reads is missing.

export const REPORTS_DIR = fileURLToPath(new URL('../../reports/', import.meta.url));

export interface ReportDefinition {
  name: string;
  /** The template's leading comment, without the `name:` prefix. */
  description: string;
  /** Its first sentence, for listings. */
  summary: string;
  /** ORDER BY for `lsa report` (from `-- @order`). */
  orderBy: string;
  /** Tables and views of the dataset the view reads. */
  reads: string[];
  template: string;
}

const REFERENCE = /`\{\{project\}\}\.\{\{dataset\}\}\.([A-Za-z0-9_]+)`/g;

export function parseReportTemplate(name: string, template: string): ReportDefinition {
  const header: string[] = [];
  let orderBy = 'looker_instance';
  for (const line of template.split('\n')) {
    if (!line.startsWith('--')) break;
    const text = line.replace(/^--\s?/, '');
    if (text.startsWith('@order ')) orderBy = text.slice('@order '.length).trim();
    else header.push(text);
  }
  const references = [...template.matchAll(REFERENCE)].map((m) => m[1]!);
  if (references[0] !== name || !/CREATE OR REPLACE VIEW/i.test(template)) {
    throw new Error(
      `report template ${name}.sql must start with CREATE OR REPLACE VIEW \`{{project}}.{{dataset}}.${name}\`, found ${references[0] ?? 'no view name'}`,
    );
  }
  const description = header
    .join(' ')
    .replace(new RegExp(`^${name}:\\s*`), '')
    .trim();
  return {
    name,
    description,
    summary: /^.*?[.](?=\s|$)/.exec(description)?.[0] ?? description,
    orderBy,
    reads: [...new Set(references.slice(1))],
    template,
  };
}

/** Every report, each after the reports it reads. */
export function loadReports(dir = REPORTS_DIR): ReportDefinition[] {
  const reports = readdirSync(dir)
    .filter((file) => file.endsWith('.sql'))
    .sort()
    .map((file) => parseReportTemplate(file.slice(0, -4), readFileSync(`${dir}/${file}`, 'utf8')));
  return dependencyOrder(reports);
}

function dependencyOrder(reports: ReportDefinition[]): ReportDefinition[] {
  const byName = new Map(reports.map((r) => [r.name, r]));
  const ordered: ReportDefinition[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (report: ReportDefinition, path: string[]) => {
    if (state.get(report.name) === 'done') return;
    if (state.get(report.name) === 'visiting') {
      throw new Error(`report views read each other in a circle: ${[...path, report.name].join(' → ')}`);
    }
    state.set(report.name, 'visiting');
    for (const read of report.reads) {
      const dependency = byName.get(read);
      if (dependency) visit(dependency, [...path, report.name]);
    }
    state.set(report.name, 'done');
    ordered.push(report);
  };
  for (const report of reports) visit(report, []);
  return ordered;
}

export function findReport(reports: ReportDefinition[], name: string): ReportDefinition {
  const report = reports.find((r) => r.name === name);
  if (!report) {
    throw new Error(`unknown report "${name}"; reports: ${reports.map((r) => r.name).join(', ')}`);
  }
  return report;
}
