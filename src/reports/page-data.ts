import type { BigQuery } from '@google-cloud/bigquery';
import { errorMessage } from '../errors.ts';
import { qualifiedName, type ReportDataset } from './dataset.ts';
import { plainRow, type ReportRow } from './read.ts';

// The data behind the /reports page, read from BigQuery on each request: rows loaded per day per instance and
// export (from the `_lsa_runs` table when it has the columns needed, else counted from each export table's
// `_extracted_at`), query volume and p95 runtime per instance and day (view query_performance_daily), and
// unused content (view unused_content). A section that cannot be read carries the reason instead of rows,
// and the page says it rather than failing.

export type Section<T> = { rows: T[]; source: string } | { problem: string };

export interface LoadedRows {
  instance: string;
  export: string;
  day: string;
  rows: number;
}

export interface QueryDay {
  instance: string;
  day: string;
  queries: number;
  p95: number | null;
}

export interface ReportsPageData {
  loads: Section<LoadedRows>;
  queries: Section<QueryDay>;
  unused: Section<ReportRow>;
}

const DAYS = 30;

export async function collectReportsPageData(
  bigquery: BigQuery,
  target: ReportDataset,
  exportNames: string[],
  location?: string,
): Promise<ReportsPageData> {
  const query = async (sql: string): Promise<ReportRow[]> => {
    const [rows] = await bigquery.query({ query: sql, ...(location ? { location } : {}) });
    return (rows as Record<string, unknown>[]).map(plainRow);
  };
  const [loads, queries, unused] = await Promise.all([
    section(() => loadedRows(bigquery, target, exportNames, query)),
    section(async () => ({
      source: 'query_performance_daily',
      rows: (
        await query(
          `SELECT looker_instance, day, queries, p95_runtime_s FROM ${qualifiedName(target, 'query_performance_daily')}
           WHERE day >= DATE_SUB(CURRENT_DATE(), INTERVAL ${DAYS} DAY) ORDER BY day, looker_instance`,
        )
      ).map((r) => ({
        instance: String(r.looker_instance),
        day: String(r.day),
        queries: Number(r.queries),
        p95: r.p95_runtime_s === null ? null : Number(r.p95_runtime_s),
      })),
    })),
    section(async () => ({
      source: 'unused_content',
      rows: await query(
        `SELECT * FROM ${qualifiedName(target, 'unused_content')} ORDER BY looker_instance, content_type`,
      ),
    })),
  ]);
  return { loads, queries, unused };
}

async function section<T>(read: () => Promise<{ rows: T[]; source: string }>): Promise<Section<T>> {
  try {
    return await read();
  } catch (error) {
    const notFound = (error as { code?: number }).code === 404;
    return {
      problem: notFound
        ? `${errorMessage(error)}: install the report views with \`lsa reports install\``
        : errorMessage(error),
    };
  }
}

/** The `_lsa_runs` columns this page needs; other layouts fall back to counting `_extracted_at`. */
interface RunsColumns {
  instance: string;
  export: string;
  rows: string;
  time: string;
}

function runsColumns(fields: { name?: string; type?: string }[]): RunsColumns | undefined {
  const names = new Set(fields.map((f) => f.name));
  const instance = ['looker_instance', 'instance'].find((n) => names.has(n));
  const time = fields.find(
    (f) => f.type === 'TIMESTAMP' && /loaded|committed|finished|completed|ended|end/.test(f.name ?? ''),
  )?.name;
  if (!instance || !names.has('export') || !names.has('rows') || !time) return undefined;
  return { instance, export: 'export', rows: 'rows', time };
}

async function loadedRows(
  bigquery: BigQuery,
  target: ReportDataset,
  exportNames: string[],
  query: (sql: string) => Promise<ReportRow[]>,
): Promise<{ rows: LoadedRows[]; source: string }> {
  const dataset = bigquery.dataset(target.dataset, { projectId: target.projectId });
  const [tables] = await dataset.getTables();
  const present = new Set(tables.map((t) => t.id));
  const since = `TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL ${DAYS} DAY)`;
  let sql: string | undefined;
  let source = '';
  if (present.has('_lsa_runs')) {
    const [metadata] = await dataset.table('_lsa_runs').getMetadata();
    const columns = runsColumns(metadata.schema?.fields ?? []);
    if (columns) {
      const c = (name: string) => `\`${name}\``;
      sql = `SELECT ${c(columns.instance)} AS instance, ${c(columns.export)} AS export, DATE(${c(columns.time)}) AS day,
          SUM(${c(columns.rows)}) AS row_count
        FROM ${qualifiedName(target, '_lsa_runs')} WHERE ${c(columns.time)} >= ${since} GROUP BY instance, export, day`;
      source = '_lsa_runs';
    }
  }
  if (sql === undefined) {
    const exports = exportNames.filter((name) => present.has(name));
    if (exports.length === 0) return { rows: [], source: 'no export table yet' };
    sql = exports
      .map(
        (name) =>
          `SELECT looker_instance AS instance, '${name}' AS export, DATE(_extracted_at) AS day, COUNT(*) AS row_count
           FROM ${qualifiedName(target, name)} WHERE _extracted_at >= ${since} GROUP BY instance, day`,
      )
      .join('\nUNION ALL\n');
    source = '_extracted_at of each export table (rows by the day of their latest extraction)';
  }
  const rows = await query(`${sql}\nORDER BY day, instance, export`);
  return {
    source,
    rows: rows.map((r) => ({
      instance: String(r.instance),
      export: String(r.export),
      day: String(r.day),
      rows: Number(r.row_count),
    })),
  };
}
