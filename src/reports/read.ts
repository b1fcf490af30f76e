import type { BigQuery } from '@google-cloud/bigquery';
import type { ReportDefinition } from './catalog.ts';
import { qualifiedName, type ReportDataset } from './dataset.ts';

// Reads one installed report view, optionally for one instance, in the view's own order. Cells come back as
// plain JSON values (BigQuery's DATE/TIMESTAMP/NUMERIC wrappers unwrapped), ready for a table, CSV or JSON.

export type ReportCell = string | number | boolean | null | ReportCell[] | { [key: string]: ReportCell };
export type ReportRow = Record<string, ReportCell>;

export interface ReadOptions {
  instance?: string;
  limit?: number;
  location?: string;
}

export async function readReport(
  bigquery: BigQuery,
  target: ReportDataset,
  report: ReportDefinition,
  options: ReadOptions = {},
): Promise<ReportRow[]> {
  const where = options.instance === undefined ? '' : ' WHERE looker_instance = @instance';
  const limit = options.limit === undefined ? '' : ` LIMIT ${Math.max(0, Math.trunc(options.limit))}`;
  const [rows] = await bigquery.query({
    query: `SELECT * FROM ${qualifiedName(target, report.name)}${where} ORDER BY ${report.orderBy}${limit}`,
    ...(options.instance === undefined ? {} : { params: { instance: options.instance } }),
    ...(options.location ? { location: options.location } : {}),
  });
  return (rows as Record<string, unknown>[]).map((row) => plainRow(row));
}

export function plainRow(row: Record<string, unknown>): ReportRow {
  return Object.fromEntries(Object.entries(row).map(([key, value]) => [key, plainCell(value)]));
}

/** BigQueryDate/Datetime/Timestamp → their text; Big (NUMERIC) → number text; Buffers → base64. */
export function plainCell(value: unknown): ReportCell {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  if (typeof value === 'bigint') return value.toString();
  if (Buffer.isBuffer(value)) return value.toString('base64');
  if (Array.isArray(value)) return value.map(plainCell);
  if (typeof value === 'object') {
    const constructorName = value.constructor?.name ?? '';
    if (constructorName.startsWith('BigQuery') && 'value' in value) return String(value.value);
    if (constructorName === 'Big') return String(value);
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plainCell(v)]));
  }
  return String(value);
}
