import { invalid } from './errors.ts';

// BigQuery table schemas: normalisation of the type names the API accepts, and the DuckDB column types the
// emulator stores them as. Mapping choices that are not 1:1 (see the research note, section 7):
// - FLOAT is 64-bit in BigQuery but 32-bit in DuckDB, so FLOAT/FLOAT64 → DOUBLE.
// - NUMERIC is DECIMAL(38,9) in BigQuery; DuckDB's bare NUMERIC is DECIMAL(18,3).
// - TIMESTAMP is an absolute instant → TIMESTAMPTZ (the connection runs with TimeZone=UTC); DATETIME is civil
//   time → TIMESTAMP.
// - BIGNUMERIC (76 digits) does not fit DuckDB's 38-digit DECIMAL; it is stored as DECIMAL(38,9) — a known
//   limitation of the emulator.

export type BigQueryType =
  | 'INTEGER'
  | 'FLOAT'
  | 'NUMERIC'
  | 'BIGNUMERIC'
  | 'BOOLEAN'
  | 'STRING'
  | 'BYTES'
  | 'TIMESTAMP'
  | 'DATETIME'
  | 'DATE'
  | 'TIME'
  | 'JSON'
  | 'GEOGRAPHY'
  | 'INTERVAL'
  | 'RECORD';

export type FieldMode = 'NULLABLE' | 'REQUIRED' | 'REPEATED';

export interface TableFieldSchema {
  name: string;
  type: BigQueryType;
  mode: FieldMode;
  fields?: TableFieldSchema[];
  description?: string;
}

export interface TableSchema {
  fields: TableFieldSchema[];
}

const TYPE_ALIASES: Record<string, BigQueryType> = {
  INTEGER: 'INTEGER',
  INT64: 'INTEGER',
  FLOAT: 'FLOAT',
  FLOAT64: 'FLOAT',
  NUMERIC: 'NUMERIC',
  DECIMAL: 'NUMERIC',
  BIGNUMERIC: 'BIGNUMERIC',
  BIGDECIMAL: 'BIGNUMERIC',
  BOOLEAN: 'BOOLEAN',
  BOOL: 'BOOLEAN',
  STRING: 'STRING',
  BYTES: 'BYTES',
  TIMESTAMP: 'TIMESTAMP',
  DATETIME: 'DATETIME',
  DATE: 'DATE',
  TIME: 'TIME',
  JSON: 'JSON',
  GEOGRAPHY: 'GEOGRAPHY',
  INTERVAL: 'INTERVAL',
  RECORD: 'RECORD',
  STRUCT: 'RECORD',
};

/** Canonical (legacy) type name for any name the API accepts; tables.get answers with these. */
export function normalizeTypeName(type: unknown, fieldName: string): BigQueryType {
  const canonical = typeof type === 'string' ? TYPE_ALIASES[type.toUpperCase()] : undefined;
  if (!canonical)
    throw invalid(`Invalid value for type: ${String(type)} is not a valid value (field ${fieldName})`);
  return canonical;
}

// BigQuery column names: letters, digits and underscores, not starting with a digit (flexible column names are
// wider, but the emulator keeps to the classic rule), at most 300 characters.
const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,299}$/;

/** Validates and normalises a schema from a request body (type aliases, default mode NULLABLE). */
export function normalizeSchema(raw: unknown, where = 'schema'): TableSchema {
  const fields = (raw as { fields?: unknown } | undefined)?.fields;
  if (!Array.isArray(fields)) throw invalid(`Invalid ${where}: fields must be an array`);
  return { fields: normalizeFields(fields, '') };
}

function normalizeFields(raw: unknown[], parentPath: string): TableFieldSchema[] {
  const seen = new Set<string>();
  return raw.map((entry) => {
    const field = entry as Record<string, unknown>;
    const name = field.name;
    if (typeof name !== 'string' || !FIELD_NAME.test(name)) {
      throw invalid(
        `Invalid field name "${String(name)}". Fields must contain only letters, numbers, and underscores, start with a letter or underscore, and be at most 300 characters long.`,
      );
    }
    const path = parentPath + name;
    if (seen.has(name.toLowerCase())) throw invalid(`Field ${path} already exists in schema`);
    seen.add(name.toLowerCase());
    const type = normalizeTypeName(field.type, path);
    const modeText = typeof field.mode === 'string' ? field.mode.toUpperCase() : 'NULLABLE';
    if (modeText !== 'NULLABLE' && modeText !== 'REQUIRED' && modeText !== 'REPEATED') {
      throw invalid(`Invalid value for mode: ${String(field.mode)} is not a valid value (field ${path})`);
    }
    const normalized: TableFieldSchema = { name, type, mode: modeText };
    if (typeof field.description === 'string') normalized.description = field.description;
    if (type === 'RECORD') {
      if (!Array.isArray(field.fields) || field.fields.length === 0) {
        throw invalid(`Field ${path} is type RECORD but has no schema`);
      }
      normalized.fields = normalizeFields(field.fields, `${path}.`);
    }
    return normalized;
  });
}

/** Double-quoted SQL identifier, safe for any name. */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** GoogleSQL type names (and their aliases) → DuckDB types: one mapping for tables, CASTs and parameters. */
export const DUCKDB_SCALAR_TYPES: Record<string, string> = {
  INT64: 'BIGINT',
  INTEGER: 'BIGINT',
  INT: 'BIGINT',
  SMALLINT: 'BIGINT',
  BIGINT: 'BIGINT',
  TINYINT: 'BIGINT',
  BYTEINT: 'BIGINT',
  FLOAT64: 'DOUBLE',
  FLOAT: 'DOUBLE',
  NUMERIC: 'DECIMAL(38,9)',
  DECIMAL: 'DECIMAL(38,9)',
  BIGNUMERIC: 'DECIMAL(38,9)',
  BIGDECIMAL: 'DECIMAL(38,9)',
  BOOL: 'BOOLEAN',
  BOOLEAN: 'BOOLEAN',
  STRING: 'VARCHAR',
  BYTES: 'BLOB',
  TIMESTAMP: 'TIMESTAMPTZ',
  DATETIME: 'TIMESTAMP',
  DATE: 'DATE',
  TIME: 'TIME',
  JSON: 'JSON',
  GEOGRAPHY: 'VARCHAR',
  INTERVAL: 'INTERVAL',
};

export function duckDbTypeForField(field: TableFieldSchema): string {
  const element =
    field.type === 'RECORD'
      ? `STRUCT(${(field.fields ?? []).map((f) => `${quoteIdentifier(f.name)} ${duckDbTypeForField(f)}`).join(', ')})`
      : DUCKDB_SCALAR_TYPES[field.type]!;
  return field.mode === 'REPEATED' ? `${element}[]` : element;
}

export function duckDbColumnDefinition(field: TableFieldSchema): string {
  const notNull = field.mode === 'REQUIRED' ? ' NOT NULL' : '';
  return `${quoteIdentifier(field.name)} ${duckDbTypeForField(field)}${notNull}`;
}

/**
 * Compares a schema given in a load job with the destination table's schema the way BigQuery does for
 * WRITE_APPEND / WRITE_EMPTY: names match case-insensitively; types and modes must be equal; new fields are refused
 * ("Cannot add fields"); missing fields are refused too. Returns the mismatch message, or undefined when they match.
 */
export function schemaMismatch(
  tableLabel: string,
  tableSchema: TableSchema,
  provided: TableSchema,
): string | undefined {
  const prefix = `Provided Schema does not match Table ${tableLabel}.`;
  const existing = new Map(tableSchema.fields.map((f) => [f.name.toLowerCase(), f]));
  for (const field of provided.fields) {
    const current = existing.get(field.name.toLowerCase());
    if (!current) return `${prefix} Cannot add fields (field: ${field.name})`;
    if (current.type !== field.type) {
      return `${prefix} Field ${field.name} has changed type from ${current.type} to ${field.type}`;
    }
    if (current.mode !== field.mode) {
      return `${prefix} Field ${field.name} has changed mode from ${current.mode} to ${field.mode}`;
    }
    if (field.type === 'RECORD') {
      const nested = schemaMismatch(
        tableLabel,
        { fields: current.fields ?? [] },
        { fields: field.fields ?? [] },
      );
      if (nested) return nested;
    }
  }
  const providedNames = new Set(provided.fields.map((f) => f.name.toLowerCase()));
  for (const field of tableSchema.fields) {
    if (!providedNames.has(field.name.toLowerCase())) {
      return `${prefix} Field ${field.name} is missing in new schema`;
    }
  }
  return undefined;
}
