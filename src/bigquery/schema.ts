import type { ExportDefinition } from '../exports/types.ts';

// The BigQuery table of an export: the registry's columns, plus the instance each row came from and when it was
// extracted. Incremental exports are partitioned by day on their cursor column and every table is clustered by
// instance, so per-instance MERGEs and queries scan little.

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
}

export function tableSpec(definition: ExportDefinition): TableSpec {
  const column = (field: string) => definition.fields.find((f) => f.field === field)!.column;
  return {
    tableId: definition.name,
    columns: [
      { name: 'looker_instance', type: 'STRING', mode: 'REQUIRED' },
      ...definition.fields.map((f) => ({ name: f.column, type: f.bigqueryType, mode: 'NULLABLE' as const })),
      { name: '_extracted_at', type: 'TIMESTAMP', mode: 'REQUIRED' },
    ],
    keyColumn: column(definition.key),
    partitionColumn: definition.mode.kind === 'incremental' ? column(definition.mode.cursor) : undefined,
    clustering: ['looker_instance'],
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
