import { QUARANTINE_RAW_COLUMN, QUARANTINE_REASON_COLUMN } from '../exports/types.ts';
import { type ColumnSchema, DELETED_AT_COLUMN, dataColumns, type TableSpec } from './schema.ts';

// The GoogleSQL a load runs against its staging table: the per-window row count, the MERGE (or INSERT) into the
// target, and the MERGE of quarantined lines into `_lsa_quarantine`. Values inlined here are ours (instance ids
// and window ids match strict patterns, times are numbers); data never is: it is read from the staging table.

export interface Dataset {
  projectId: string;
  datasetId: string;
}

export function quotedTable(dataset: Dataset, tableId: string): string {
  return `\`${dataset.projectId}.${dataset.datasetId}.${tableId}\``;
}

const name = (column: string) => `\`${column}\``;

/** A GoogleSQL string literal. */
export function sqlString(value: string): string {
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

const GOOD_ROW = `${name(QUARANTINE_REASON_COLUMN)} IS NULL`;

/** The range of the partition column the staged good rows cover; the MERGE reads only these partitions. */
export interface PartitionRange {
  column: string;
  type: string;
  /** Bounds as BigQuery prints them (CAST(… AS STRING)), inclusive. */
  min: string;
  max: string;
}

/**
 * Per (instance, extraction time) — one window's rows, since a window's rows share one `_extracted_at` — the
 * rows staged, how many are quarantined lines, and the range of the partition column over the good rows.
 */
export function stagingStatsQuery(spec: TableSpec, dataset: Dataset, staging: string): string {
  const column = spec.prunable && spec.partitionColumn ? name(spec.partitionColumn) : undefined;
  const range = column
    ? `, CAST(MIN(IF(${GOOD_ROW}, ${column}, NULL)) AS STRING) AS range_min` +
      `, CAST(MAX(IF(${GOOD_ROW}, ${column}, NULL)) AS STRING) AS range_max` +
      `, COUNTIF(${GOOD_ROW} AND ${column} IS NULL) AS range_nulls`
    : '';
  return [
    `SELECT looker_instance AS instance, UNIX_MILLIS(_extracted_at) AS extracted_ms, COUNT(*) AS staged,`,
    `  COUNTIF(${name(QUARANTINE_REASON_COLUMN)} IS NOT NULL) AS quarantined${range}`,
    `FROM ${quotedTable(dataset, staging)}`,
    'GROUP BY instance, extracted_ms',
  ].join('\n');
}

export interface MergeOptions {
  spec: TableSpec;
  dataset: Dataset;
  staging: string;
  /** Instances with rows in the batch: the target is read for these only (clustering prunes the rest). */
  instances: string[];
  /** Set for exports whose partition column never moves: the target is read in this range only. */
  range?: PartitionRange;
  /** Snapshot exports: per instance whose snapshot is in the batch, the snapshot's time (epoch ms). */
  snapshots?: Map<string, number>;
}

const list = (columns: ColumnSchema[], prefix = '') => columns.map((c) => prefix + name(c.name)).join(', ');
const instanceList = (instances: string[]) => instances.map(sqlString).join(', ');

function stagedRows(options: MergeOptions, columns: ColumnSchema[]): string {
  const key = name(options.spec.keyColumn);
  // One source row per key (latest extraction wins): BigQuery refuses a MERGE in which two source rows match one
  // target row. A snapshot keeps only each instance's latest snapshot in the batch: it alone says what exists.
  const latestSnapshot = options.spec.snapshot
    ? ' AND _extracted_at = MAX(_extracted_at) OVER (PARTITION BY looker_instance)'
    : '';
  return [
    `SELECT ${list(columns)} FROM ${quotedTable(options.dataset, options.staging)} WHERE ${GOOD_ROW}`,
    `  QUALIFY ROW_NUMBER() OVER (PARTITION BY looker_instance, ${key} ORDER BY _extracted_at DESC) = 1${latestSnapshot}`,
  ].join('\n');
}

/**
 * The upsert on (looker_instance, key). The ON clause restricts the target with constant expressions only, so
 * BigQuery prunes: the batch's instances (clustering) and, for a non-moving partition column, the staged range
 * (partitions). A snapshot marks, in the same statement, the rows of its instances that are no longer in it.
 */
export function mergeStatement(options: MergeOptions): string {
  const { spec } = options;
  const columns = dataColumns(spec);
  const key = name(spec.keyColumn);
  const updates = columns
    .filter((c) => c.name !== 'looker_instance' && c.name !== spec.keyColumn)
    .map((c) => `${name(c.name)} = S.${name(c.name)}`);
  if (spec.snapshot) updates.push(`${name(DELETED_AT_COLUMN)} = NULL`);
  const on = [
    'T.looker_instance = S.looker_instance',
    `T.${key} = S.${key}`,
    `T.looker_instance IN (${instanceList(options.instances)})`,
  ];
  if (options.range) {
    const { column, type, min, max } = options.range;
    on.push(
      `T.${name(column)} >= ${type} ${sqlString(min)}`,
      `T.${name(column)} <= ${type} ${sqlString(max)}`,
    );
  }
  const statement = [
    `MERGE INTO ${quotedTable(options.dataset, spec.tableId)} T`,
    `USING (${stagedRows(options, columns)}) S`,
    `ON ${on.join(' AND ')}`,
    `WHEN MATCHED THEN UPDATE SET ${updates.join(', ')}`,
    `WHEN NOT MATCHED THEN INSERT (${list(columns)}) VALUES (${list(columns, 'S.')})`,
  ];
  const snapshots = [...(options.snapshots ?? new Map<string, number>())];
  if (spec.snapshot && snapshots.length > 0) {
    const deletedAt = snapshots
      .map(([instance, atMs]) => `WHEN ${sqlString(instance)} THEN TIMESTAMP_MILLIS(${atMs})`)
      .join(' ');
    statement.push(
      `WHEN NOT MATCHED BY SOURCE AND T.looker_instance IN (${instanceList(snapshots.map(([i]) => i))})` +
        ` AND T.${name(DELETED_AT_COLUMN)} IS NULL`,
      `  THEN UPDATE SET ${name(DELETED_AT_COLUMN)} = CASE T.looker_instance ${deletedAt} END`,
    );
  }
  return statement.join('\n');
}

/** `append`: every good staged row is a new row of the target. */
export function insertStatement(spec: TableSpec, dataset: Dataset, staging: string): string {
  const columns = dataColumns(spec);
  return [
    `INSERT INTO ${quotedTable(dataset, spec.tableId)} (${list(columns)})`,
    `SELECT ${list(columns)} FROM ${quotedTable(dataset, staging)} WHERE ${GOOD_ROW}`,
  ].join('\n');
}

export const QUARANTINE_TABLE = '_lsa_quarantine';

export const QUARANTINE_COLUMNS: ColumnSchema[] = [
  { name: 'looker_instance', type: 'STRING', mode: 'REQUIRED' },
  { name: 'export', type: 'STRING', mode: 'REQUIRED' },
  { name: 'window', type: 'STRING', mode: 'REQUIRED' },
  { name: 'raw', type: 'STRING', mode: 'NULLABLE' },
  { name: 'reason', type: 'STRING', mode: 'NULLABLE' },
  { name: 'quarantined_at', type: 'TIMESTAMP', mode: 'REQUIRED' },
];

/** Which window a staged row came from: its instance and extraction time. */
export interface WindowOrigin {
  instanceId: string;
  extractedMs: number;
  windowId: string;
}

/**
 * Quarantined lines into `_lsa_quarantine`, once: a line already there for the same instance, export, window
 * and raw text is not inserted again, so replaying a batch adds nothing.
 */
export function quarantineStatement(
  spec: TableSpec,
  dataset: Dataset,
  staging: string,
  origins: WindowOrigin[],
): string {
  const window = origins.length
    ? `CASE ${origins
        .map(
          (o) =>
            `WHEN looker_instance = ${sqlString(o.instanceId)} AND UNIX_MILLIS(_extracted_at) = ${o.extractedMs} THEN ${sqlString(o.windowId)}`,
        )
        .join(' ')} ELSE 'unknown' END`
    : `'unknown'`;
  const columns = QUARANTINE_COLUMNS.map((c) => name(c.name));
  const w = name('window');
  return [
    `MERGE INTO ${quotedTable(dataset, QUARANTINE_TABLE)} Q`,
    `USING (SELECT looker_instance, export, ${w}, raw, ANY_VALUE(reason) AS reason FROM (`,
    `    SELECT looker_instance, ${sqlString(spec.tableId)} AS export, ${window} AS ${w},`,
    `      IFNULL(${name(QUARANTINE_RAW_COLUMN)}, '') AS raw, ${name(QUARANTINE_REASON_COLUMN)} AS reason`,
    `    FROM ${quotedTable(dataset, staging)} WHERE ${name(QUARANTINE_REASON_COLUMN)} IS NOT NULL)`,
    `  GROUP BY looker_instance, export, ${w}, raw) S`,
    `ON Q.looker_instance = S.looker_instance AND Q.export = S.export AND Q.${w} = S.${w} AND Q.raw = S.raw`,
    `WHEN NOT MATCHED THEN INSERT (${columns.join(', ')})`,
    `  VALUES (S.looker_instance, S.export, S.${w}, S.raw, S.reason, CURRENT_TIMESTAMP())`,
  ].join('\n');
}

/** One row per committed window: what the pipeline did, for operators and the /reports page. */
export const RUNS_TABLE = '_lsa_runs';

export const RUNS_COLUMNS: ColumnSchema[] = [
  { name: 'looker_instance', type: 'STRING', mode: 'REQUIRED' },
  { name: 'export', type: 'STRING', mode: 'REQUIRED' },
  { name: 'window', type: 'STRING', mode: 'REQUIRED' },
  { name: 'plan', type: 'INTEGER', mode: 'REQUIRED' },
  { name: 'backfill', type: 'INTEGER', mode: 'NULLABLE' },
  { name: 'rows', type: 'INTEGER', mode: 'REQUIRED' },
  { name: 'quarantined', type: 'INTEGER', mode: 'REQUIRED' },
  { name: 'bytes', type: 'INTEGER', mode: 'NULLABLE' },
  { name: 'extract_ms', type: 'INTEGER', mode: 'NULLABLE' },
  { name: 'upload_ms', type: 'INTEGER', mode: 'NULLABLE' },
  { name: 'load_ms', type: 'INTEGER', mode: 'NULLABLE' },
  { name: 'batch', type: 'STRING', mode: 'NULLABLE' },
  { name: 'bigquery_job_ids', type: 'STRING', mode: 'NULLABLE' },
  { name: 'attempts', type: 'INTEGER', mode: 'NULLABLE' },
  { name: 'outcome', type: 'STRING', mode: 'REQUIRED' },
  { name: 'committed_at', type: 'TIMESTAMP', mode: 'REQUIRED' },
];

/** What the pipeline knows of a window beyond its staged rows, for its `_lsa_runs` row. */
export interface RunRecord {
  exportName: string;
  /** The window id without plan or backfill (those have columns of their own). */
  window: string;
  plan: number;
  backfill?: number;
  /** Gzipped spool bytes. */
  bytes?: number;
  extractMs?: number;
  uploadMs?: number;
  /** When the load of the window began (epoch ms): `load_ms` runs from it to the statement. */
  loadStartedMs?: number;
  /** The `load-batch` job that loaded the window; absent when it was loaded alone. */
  batch?: string;
  attempts?: number;
}

export interface RunRow extends RunRecord {
  instanceId: string;
  rows: number;
  quarantined: number;
  jobIds: string[];
}

const sqlInt = (value: number | undefined) =>
  value === undefined || !Number.isFinite(value) ? 'CAST(NULL AS INT64)' : String(Math.round(value));
const sqlText = (value: string | undefined) =>
  value === undefined ? 'CAST(NULL AS STRING)' : sqlString(value);

/**
 * The batch's windows into `_lsa_runs`, once: a row already there for the same instance, export, window, plan
 * and backfill is left as it is, so replaying a batch adds nothing. One statement for the whole batch.
 */
export function runsStatement(dataset: Dataset, runs: RunRow[], nowMs: number): string {
  const source = runs
    .map((r) =>
      [
        `SELECT ${sqlString(r.instanceId)} AS looker_instance, ${sqlString(r.exportName)} AS export`,
        `${sqlString(r.window)} AS \`window\`, ${sqlInt(r.plan)} AS plan, ${sqlInt(r.backfill)} AS backfill`,
        `${sqlInt(r.rows)} AS \`rows\`, ${sqlInt(r.quarantined)} AS quarantined, ${sqlInt(r.bytes)} AS bytes`,
        `${sqlInt(r.extractMs)} AS extract_ms, ${sqlInt(r.uploadMs)} AS upload_ms`,
        `${sqlInt(r.loadStartedMs === undefined ? undefined : nowMs - r.loadStartedMs)} AS load_ms`,
        `${sqlText(r.batch)} AS batch, ${sqlString(r.jobIds.join(','))} AS bigquery_job_ids`,
        `${sqlInt(r.attempts)} AS attempts`,
      ].join(', '),
    )
    .join('\n  UNION ALL ');
  const columns = RUNS_COLUMNS.map((c) => name(c.name));
  const values = RUNS_COLUMNS.map((c) =>
    c.name === 'outcome'
      ? `'committed'`
      : c.name === 'committed_at'
        ? 'CURRENT_TIMESTAMP()'
        : `S.${name(c.name)}`,
  );
  return [
    `MERGE INTO ${quotedTable(dataset, RUNS_TABLE)} R`,
    `USING (${source}) S`,
    'ON R.looker_instance = S.looker_instance AND R.export = S.export AND R.`window` = S.`window`',
    '  AND R.plan = S.plan AND IFNULL(R.backfill, 0) = IFNULL(S.backfill, 0)',
    `WHEN NOT MATCHED THEN INSERT (${columns.join(', ')})`,
    `  VALUES (${values.join(', ')})`,
  ].join('\n');
}
