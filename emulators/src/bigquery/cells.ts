import {
  DuckDBBlobValue,
  DuckDBDateValue,
  DuckDBDecimalValue,
  DuckDBListValue,
  DuckDBStructValue,
  DuckDBTimestampMillisecondsValue,
  DuckDBTimestampNanosecondsValue,
  DuckDBTimestampSecondsValue,
  DuckDBTimestampTZValue,
  DuckDBTimestampValue,
  DuckDBTimeValue,
  type DuckDBType,
  DuckDBTypeId,
  type DuckDBValue,
} from '@duckdb/node-api';
import type { BigQueryType, TableFieldSchema } from './schema.ts';
import { formatCivilDateTime, formatDate, formatTimeOfDay, MICROS_PER_SECOND } from './time-values.ts';

// Rows on the wire (tabledata.list, jobs.query, jobs.getQueryResults): `{f:[{v:…}]}` where every scalar `v` is a
// string or null. The installed client (@google-cloud/bigquery 8.3.1, `convertSchemaFieldValue`) calls
// `v.toLowerCase()` on BOOLEAN cells and `BigInt(v)` on TIMESTAMP cells when it asked for int64 timestamps, so a
// JSON boolean or a float-seconds timestamp would throw inside the client. REPEATED cells are arrays of `{v}` (never
// null: the client maps over them), RECORD cells are `{f:[…]}`.

export type Cell = { v: CellValue };
export type CellValue = string | null | Cell[] | { f: Cell[] };
export type Row = { f: Cell[] };

/**
 * How TIMESTAMP cells are written. The client asks for int64 microseconds on every path it uses
 * (`formatOptions.useInt64Timestamp=true`); `timestampOutputFormat=ISO8601_STRING` (sent when
 * BIGQUERY_PICOSECOND_SUPPORT=true) wants ISO strings; an explicit `useInt64Timestamp=false` or no format option at
 * all gets BigQuery's historical float seconds.
 */
export type TimestampFormat = 'int64' | 'float' | 'iso';

export function timestampFormatFrom(useInt64Timestamp: unknown, outputFormat: unknown): TimestampFormat {
  if (outputFormat === 'ISO8601_STRING') return 'iso';
  if (outputFormat === 'INT64') return 'int64';
  if (outputFormat === 'FLOAT64') return 'float';
  if (useInt64Timestamp === true || useInt64Timestamp === 'true') return 'int64';
  return 'float';
}

function formatTimestamp(micros: bigint, format: TimestampFormat): string {
  if (format === 'int64') return micros.toString();
  if (format === 'iso') return `${formatCivilDateTime(micros, 'T')}Z`;
  const negative = micros < 0n;
  const magnitude = negative ? -micros : micros;
  const fraction = (magnitude % MICROS_PER_SECOND).toString().padStart(6, '0').replace(/0+$/, '');
  const seconds = `${negative ? '-' : ''}${magnitude / MICROS_PER_SECOND}`;
  return fraction ? `${seconds}.${fraction}` : seconds;
}

function trimDecimal(text: string): string {
  return text.includes('.') ? text.replace(/0+$/, '').replace(/\.$/, '') : text;
}

function formatNumber(value: number): string {
  // String() gives "NaN", "Infinity", "-Infinity" and "1e+21", all of which the client's Number() reads back.
  return String(value);
}

function encodeScalar(value: DuckDBValue, format: TimestampFormat): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') return formatNumber(value);
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof DuckDBTimestampTZValue) return formatTimestamp(value.micros, format);
  if (value instanceof DuckDBTimestampValue) return formatCivilDateTime(value.micros, 'T');
  if (value instanceof DuckDBTimestampSecondsValue)
    return formatCivilDateTime(value.seconds * MICROS_PER_SECOND);
  if (value instanceof DuckDBTimestampMillisecondsValue) return formatCivilDateTime(value.millis * 1000n);
  if (value instanceof DuckDBTimestampNanosecondsValue) return formatCivilDateTime(value.nanos / 1000n);
  if (value instanceof DuckDBDateValue) return formatDate(value.days);
  if (value instanceof DuckDBTimeValue) return formatTimeOfDay(value.micros);
  if (value instanceof DuckDBDecimalValue) return trimDecimal(value.toString());
  if (value instanceof DuckDBBlobValue) return Buffer.from(value.bytes).toString('base64');
  return String(value);
}

/** Encodes one value of a field. */
export function encodeValue(value: DuckDBValue, field: TableFieldSchema, format: TimestampFormat): CellValue {
  if (field.mode === 'REPEATED') {
    const items = value instanceof DuckDBListValue ? value.items : [];
    return items.map((item) => ({ v: encodeSingle(item, field, format) }));
  }
  return encodeSingle(value, field, format);
}

function encodeSingle(value: DuckDBValue, field: TableFieldSchema, format: TimestampFormat): CellValue {
  if (value === null) return null;
  if (field.type === 'RECORD' && value instanceof DuckDBStructValue) {
    return {
      f: (field.fields ?? []).map((nested) => ({
        v: encodeValue(value.entries[nested.name] ?? null, nested, format),
      })),
    };
  }
  if (field.type === 'TIMESTAMP' && value instanceof DuckDBTimestampValue) {
    // A civil timestamp stored under a TIMESTAMP column (e.g. written by SQL without a zone): UTC by definition.
    return formatTimestamp(value.micros, format);
  }
  return encodeScalar(value, format);
}

export function encodeRow(
  values: readonly DuckDBValue[],
  fields: readonly TableFieldSchema[],
  format: TimestampFormat,
): Row {
  return { f: fields.map((field, index) => ({ v: encodeValue(values[index] ?? null, field, format) })) };
}

const SCALAR_TYPES: Partial<Record<DuckDBTypeId, BigQueryType>> = {
  [DuckDBTypeId.BOOLEAN]: 'BOOLEAN',
  [DuckDBTypeId.TINYINT]: 'INTEGER',
  [DuckDBTypeId.SMALLINT]: 'INTEGER',
  [DuckDBTypeId.INTEGER]: 'INTEGER',
  [DuckDBTypeId.BIGINT]: 'INTEGER',
  [DuckDBTypeId.UTINYINT]: 'INTEGER',
  [DuckDBTypeId.USMALLINT]: 'INTEGER',
  [DuckDBTypeId.UINTEGER]: 'INTEGER',
  [DuckDBTypeId.UBIGINT]: 'INTEGER',
  [DuckDBTypeId.HUGEINT]: 'INTEGER',
  [DuckDBTypeId.UHUGEINT]: 'INTEGER',
  [DuckDBTypeId.BIGNUM]: 'INTEGER',
  [DuckDBTypeId.INTEGER_LITERAL]: 'INTEGER',
  // BigQuery types an untyped NULL as INT64.
  [DuckDBTypeId.SQLNULL]: 'INTEGER',
  [DuckDBTypeId.FLOAT]: 'FLOAT',
  [DuckDBTypeId.DOUBLE]: 'FLOAT',
  [DuckDBTypeId.DECIMAL]: 'NUMERIC',
  [DuckDBTypeId.VARCHAR]: 'STRING',
  [DuckDBTypeId.STRING_LITERAL]: 'STRING',
  [DuckDBTypeId.UUID]: 'STRING',
  [DuckDBTypeId.ENUM]: 'STRING',
  [DuckDBTypeId.BLOB]: 'BYTES',
  [DuckDBTypeId.TIMESTAMP_TZ]: 'TIMESTAMP',
  [DuckDBTypeId.TIMESTAMP]: 'DATETIME',
  [DuckDBTypeId.TIMESTAMP_S]: 'DATETIME',
  [DuckDBTypeId.TIMESTAMP_MS]: 'DATETIME',
  [DuckDBTypeId.TIMESTAMP_NS]: 'DATETIME',
  [DuckDBTypeId.DATE]: 'DATE',
  [DuckDBTypeId.TIME]: 'TIME',
  [DuckDBTypeId.INTERVAL]: 'INTERVAL',
};

/** The BigQuery field a DuckDB column of this type is reported as (query results, tables made by SQL). */
export function fieldForDuckDbType(name: string, type: DuckDBType, nullable = true): TableFieldSchema {
  if (type.typeId === DuckDBTypeId.LIST || type.typeId === DuckDBTypeId.ARRAY) {
    const element = fieldForDuckDbType(name, type.valueType);
    // BigQuery has no arrays of arrays; a nested list is reported as its text.
    return element.mode === 'REPEATED'
      ? { name, type: 'STRING', mode: 'NULLABLE' }
      : { ...element, mode: 'REPEATED' };
  }
  const mode = nullable ? 'NULLABLE' : 'REQUIRED';
  if (type.typeId === DuckDBTypeId.STRUCT) {
    const fields = type.entryNames.map((entryName, i) => fieldForDuckDbType(entryName, type.entryTypes[i]!));
    return { name, type: 'RECORD', mode, fields };
  }
  if (type.typeId === DuckDBTypeId.VARCHAR && type.alias?.toUpperCase() === 'JSON')
    return { name, type: 'JSON', mode };
  return { name, type: SCALAR_TYPES[type.typeId] ?? 'STRING', mode };
}
