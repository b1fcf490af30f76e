import type { ReportCell, ReportRow } from './read.ts';

// `lsa report` output: an aligned text table for people, CSV (RFC 4180) for spreadsheets, JSON for programs.

export const REPORT_FORMATS = ['table', 'csv', 'json'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export function renderReport(rows: ReportRow[], format: ReportFormat, columns = columnsOf(rows)): string {
  switch (format) {
    case 'json':
      return `${JSON.stringify(rows, null, 2)}\n`;
    case 'csv':
      return [columns, ...rows.map((row) => columns.map((c) => cellText(row[c])))]
        .map((cells) => cells.map(csvField).join(','))
        .join('\r\n')
        .concat('\r\n');
    case 'table':
      return textTable(rows, columns);
  }
}

function columnsOf(rows: ReportRow[]): string[] {
  return rows.length > 0 ? Object.keys(rows[0]!) : [];
}

/** A cell as text: empty for NULL, numbers rounded for reading (4 decimals at most), nested values as JSON. */
export function cellText(value: ReportCell | undefined): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number')
    return Number.isInteger(value) ? String(value) : String(Number(value.toFixed(4)));
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function textTable(rows: ReportRow[], columns: string[]): string {
  if (rows.length === 0) return '(no rows)\n';
  const cells = rows.map((row) => columns.map((c) => cellText(row[c]).replace(/\s+/g, ' ')));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i]!.length)));
  const numeric = columns.map((c) => rows.every((row) => row[c] === null || typeof row[c] === 'number'));
  const line = (values: string[]) =>
    values
      .map((v, i) => (numeric[i] ? v.padStart(widths[i]!) : v.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(columns), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)]
    .join('\n')
    .concat('\n');
}
