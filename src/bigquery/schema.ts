import {
  type ExportDefinition,
  OWN_QUERY_COLUMN,
  QUARANTINE_RAW_COLUMN,
  QUARANTINE_REASON_COLUMN,
} from '../exports/types.ts';

// The BigQuery table of an export: the registry's columns, plus the instance each row came from and when it was
// extracted. Incremental exports are partitioned by day on their cursor column and every table is clustered by
// instance, so per-instance MERGEs and queries scan little. Snapshot tables carry `_deleted_at`: when a row is
// gone from its instance's latest snapshot (see load.ts).
//
// Whether a MERGE may read only the partitions its rows fall in depends on the cursor: a cursor set once at
// insert (created_time) never moves a row to another partition, so the target row of a staged key is in the
// staged row's partition; a cursor that moves (content_usage.last_accessed_time) can leave the old row in any
// partition, so that MERGE reads every partition of its instances (pruning there would insert a duplicate).

export interface ColumnSchema {
  name: string;
  type: string;
  mode: 'NULLABLE' | 'REQUIRED';
}

export interface TableSpec {
  tableId: string;
  columns: ColumnSchema[];
  keyColumn: string;
  partitionColumn: string | undefined;
  clustering: string[];
  /** The partition column never changes after insert: a MERGE may restrict the target to the staged range. */
  prunable: boolean;
  /** A snapshot export: rows missing from an instance's latest snapshot get `_deleted_at`. */
  snapshot: boolean;
}

/** Looker fields set when the row is created and never updated: cursors on them do not move rows. */
const INSERT_TIME_FIELDS = new Set([
  'history.created_time',
  'event.created_time',
  'pdt_event_log.created_time',
  'scheduled_job.created_time',
]);

export const DELETED_AT_COLUMN = '_deleted_at';

/** The columns a spool line may carry (every column but `_deleted_at`, which only the MERGE sets). */
export function dataColumns(spec: TableSpec): ColumnSchema[] {
  return spec.columns.filter((c) => c.name !== DELETED_AT_COLUMN);
}

/**
 * The staging table: the data columns plus the quarantine pair. A quarantined spool line carries only
 * looker_instance, _extracted_at and the pair; every other column is NULLABLE, so it loads.
 */
export function stagingColumns(spec: TableSpec): ColumnSchema[] {
  return [
    ...dataColumns(spec),
    { name: QUARANTINE_REASON_COLUMN, type: 'STRING', mode: 'NULLABLE' },
    { name: QUARANTINE_RAW_COLUMN, type: 'STRING', mode: 'NULLABLE' },
  ];
}

export function tableSpec(definition: ExportDefinition): TableSpec {
  const column = (field: string) => definition.fields.find((f) => f.field === field)!.column;
  const cursor = definition.mode.kind === 'incremental' ? definition.mode.cursor : undefined;
  const snapshot = definition.mode.kind === 'snapshot';
  return {
    tableId: definition.name,
    columns: [
      { name: 'looker_instance', type: 'STRING', mode: 'REQUIRED' },
      ...definition.fields.map((f) => ({ name: f.column, type: f.bigqueryType, mode: 'NULLABLE' as const })),
      { name: '_extracted_at', type: 'TIMESTAMP', mode: 'REQUIRED' },
      // After _extracted_at, so tables made before these columns existed take them by appending.
      ...(definition.ownQueryUserField
        ? [{ name: OWN_QUERY_COLUMN, type: 'BOOLEAN', mode: 'NULLABLE' as const }]
        : []),
      ...(snapshot ? [{ name: DELETED_AT_COLUMN, type: 'TIMESTAMP', mode: 'NULLABLE' as const }] : []),
    ],
    keyColumn: column(definition.key),
    partitionColumn: cursor === undefined ? undefined : column(cursor),
    clustering: ['looker_instance'],
    prunable: cursor !== undefined && INSERT_TIME_FIELDS.has(cursor),
    snapshot,
  };
}

const TYPE_ALIASES: Record<string, string> = { INT64: 'INTEGER', FLOAT64: 'FLOAT', BOOL: 'BOOLEAN' };

/** Differences between an existing table's schema and the expected one, each naming the column. */
export function schemaDifferences(
  expected: ColumnSchema[],
  actual: { name: string; type?: string; mode?: string }[],
): string[] {
  const problems: string[] = [];
  const actualByName = new Map(actual.map((c) => [c.name, c]));
  for (const column of expected) {
    const found = actualByName.get(column.name);
    if (!found) {
      problems.push(`column ${column.name} (${column.type}) is missing`);
      continue;
    }
    const type = TYPE_ALIASES[found.type ?? ''] ?? found.type;
    if (type !== column.type)
      problems.push(`column ${column.name} is ${found.type}, expected ${column.type}`);
    const mode = found.mode ?? 'NULLABLE';
    if (mode !== column.mode && !(column.mode === 'NULLABLE' && mode === 'NULLABLE')) {
      problems.push(`column ${column.name} is ${mode}, expected ${column.mode}`);
    }
  }
  const expectedNames = new Set(expected.map((c) => c.name));
  for (const column of actual) {
    if (!expectedNames.has(column.name)) problems.push(`column ${column.name} is not part of the export`);
  }
  return problems;
}
