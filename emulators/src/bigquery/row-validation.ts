import {
  DuckDBBlobValue,
  DuckDBDateValue,
  DuckDBDecimalValue,
  DuckDBListValue,
  DuckDBStructValue,
  DuckDBTimestampTZValue,
  DuckDBTimestampValue,
  DuckDBTimeValue,
  type DuckDBValue,
} from '@duckdb/node-api';
import { JsonNumber, type JsonObject, type JsonValue, jsonValueText } from './json-text.ts';
import type { TableFieldSchema } from './schema.ts';
import {
  parseDateText,
  parseDatetimeText,
  parseEpochSecondsText,
  parseTimestampText,
  parseTimeText,
} from './time-values.ts';

// Validates one NDJSON row against the destination schema the way BigQuery's JSON loader does, and converts it to
// the DuckDB values the appender stores. Policy (research note §5): accept exactly the documented forms, make every
// other value a bad row, with BigQuery-style messages that name the field and the offending value.
//  - INTEGER: a JSON integer or a string holding a decimal integer, within int64. 1.5, 1e3 and "abc" are bad.
//  - FLOAT: a JSON number, or a string holding a number / NaN / Infinity / -Infinity.
//  - NUMERIC: a JSON number or decimal string; more than 9 fraction digits are rounded (half away from zero).
//  - BOOLEAN: true/false, or the strings "true"/"false" in any case. 1/0 and "yes" are bad (those are CSV forms).
//  - STRING: a JSON string only (a number in a STRING column is bad).
//  - TIMESTAMP: RFC 3339 / `YYYY-MM-DD HH:MM:SS[.ffffff][zone]`, or a JSON number of seconds since the epoch.
//  - DATETIME: `YYYY-MM-DD[( |T)HH:MM:SS[.ffffff]]` without a zone. DATE: `YYYY-MM-DD`. TIME: `HH:MM:SS[.ffffff]`.
//  - REQUIRED: null or absent is bad. REPEATED: null/absent is an empty array; null elements are bad.
//  - A JSON object or array in a scalar column is bad; unknown keys are bad unless ignoreUnknownValues.

export class BadRowError extends Error {}

export interface RowValidationOptions {
  ignoreUnknownValues: boolean;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const INTEGER_STRING = /^[+-]?\d+$/;
const FLOAT_STRING = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const DECIMAL_STRING = /^([+-]?)(\d*)(?:\.(\d*))?$/;
const NUMERIC_SCALE = 9;
const NUMERIC_MAX_INTEGER_DIGITS = 29;

/** Validates `row` and returns one DuckDB value per schema field, in schema order. Throws BadRowError. */
export function validateRow(
  row: JsonValue,
  fields: TableFieldSchema[],
  options: RowValidationOptions,
): DuckDBValue[] {
  if (row === null || typeof row !== 'object' || row instanceof JsonNumber || Array.isArray(row)) {
    throw new BadRowError(`Row is not a JSON object. Value: ${truncate(jsonValueText(row))}`);
  }
  return recordValues(row, fields, options, '');
}

function recordValues(
  object: JsonObject,
  fields: TableFieldSchema[],
  options: RowValidationOptions,
  parentPath: string,
): DuckDBValue[] {
  // BigQuery matches JSON keys to column names case-insensitively.
  const byName = new Map<string, JsonValue>();
  for (const [key, value] of Object.entries(object)) {
    const lower = key.toLowerCase();
    if (!fields.some((f) => f.name.toLowerCase() === lower)) {
      if (options.ignoreUnknownValues) continue;
      throw new BadRowError(`No such field: ${parentPath}${key}.`);
    }
    byName.set(lower, value);
  }
  return fields.map((field) => fieldValue(byName.get(field.name.toLowerCase()), field, options, parentPath));
}

function fieldValue(
  value: JsonValue | undefined,
  field: TableFieldSchema,
  options: RowValidationOptions,
  parentPath: string,
): DuckDBValue {
  const path = parentPath + field.name;
  if (field.mode === 'REPEATED') {
    if (value === undefined || value === null) return new DuckDBListValue([]);
    if (!Array.isArray(value)) {
      throw new BadRowError(
        `Repeated field must be imported as a JSON array. Field: ${path}; Value: ${text(value)}`,
      );
    }
    return new DuckDBListValue(
      value.map((element) => {
        if (element === null) throw new BadRowError(`Array cannot have a null element. Field: ${path}`);
        return singleValue(element, field, options, path);
      }),
    );
  }
  if (value === undefined || value === null) {
    if (field.mode === 'REQUIRED') {
      throw new BadRowError(`Only optional fields can be set to NULL. Field: ${path}; Value: NULL`);
    }
    return null;
  }
  if (Array.isArray(value)) {
    throw new BadRowError(`Array specified for non-repeated field: ${path}. Value: ${text(value)}`);
  }
  return singleValue(value, field, options, path);
}

function singleValue(
  value: Exclude<JsonValue, null>,
  field: TableFieldSchema,
  options: RowValidationOptions,
  path: string,
): DuckDBValue {
  if (field.type === 'RECORD') {
    if (typeof value !== 'object' || value instanceof JsonNumber || Array.isArray(value)) {
      throw new BadRowError(
        `Could not convert value to a record (JSON object). Field: ${path}; Value: ${text(value)}`,
      );
    }
    const nested = field.fields ?? [];
    const values = recordValues(value, nested, options, `${path}.`);
    return new DuckDBStructValue(Object.fromEntries(nested.map((f, i) => [f.name, values[i] ?? null])));
  }
  if (field.type === 'JSON') return jsonValueText(value);
  if (Array.isArray(value)) {
    throw new BadRowError(`Array specified for non-repeated field: ${path}. Value: ${text(value)}`);
  }
  if (typeof value === 'object' && !(value instanceof JsonNumber)) {
    throw new BadRowError(`JSON object specified for non-record field: ${path}. Value: ${text(value)}`);
  }
  const scalar = value as string | boolean | JsonNumber;
  switch (field.type) {
    case 'INTEGER':
      return integerValue(scalar, path);
    case 'FLOAT':
      return floatValue(scalar, path);
    case 'NUMERIC':
    case 'BIGNUMERIC':
      return numericValue(scalar, path);
    case 'BOOLEAN':
      return booleanValue(scalar, path);
    case 'STRING':
    case 'GEOGRAPHY':
      if (typeof scalar !== 'string') throw conversionError(scalar, 'string', path);
      return scalar;
    case 'BYTES':
      return bytesValue(scalar, path);
    case 'TIMESTAMP':
      return timestampValue(scalar, path);
    case 'DATETIME': {
      const micros = typeof scalar === 'string' ? parseDatetimeText(scalar) : undefined;
      if (micros === undefined)
        throw parseError(scalar, 'datetime', 'YYYY-MM-DD[( |T)HH:MM:SS[.SSSSSS]]', path);
      return new DuckDBTimestampValue(micros);
    }
    case 'DATE': {
      const days = typeof scalar === 'string' ? parseDateText(scalar) : undefined;
      if (days === undefined) throw parseError(scalar, 'date', 'YYYY-MM-DD', path);
      return new DuckDBDateValue(days);
    }
    case 'TIME': {
      const micros = typeof scalar === 'string' ? parseTimeText(scalar) : undefined;
      if (micros === undefined) throw parseError(scalar, 'time', 'HH:MM:SS[.SSSSSS]', path);
      return new DuckDBTimeValue(micros);
    }
    case 'INTERVAL':
      if (typeof scalar !== 'string') throw conversionError(scalar, 'interval', path);
      return scalar;
  }
}

function integerValue(value: string | boolean | JsonNumber, path: string): bigint {
  let digits: string | undefined;
  if (value instanceof JsonNumber && value.isInteger()) digits = value.text;
  else if (typeof value === 'string' && INTEGER_STRING.test(value.trim())) digits = value.trim();
  if (digits === undefined) throw conversionError(value, 'integer', path);
  const parsed = BigInt(digits);
  if (parsed < INT64_MIN || parsed > INT64_MAX) throw conversionError(value, 'integer', path);
  return parsed;
}

function floatValue(value: string | boolean | JsonNumber, path: string): number {
  if (value instanceof JsonNumber) return Number(value.text);
  if (typeof value === 'string') {
    const trimmed = value.trim();
    if (FLOAT_STRING.test(trimmed)) return Number(trimmed);
    if (trimmed === 'NaN') return Number.NaN;
    if (trimmed === 'Infinity' || trimmed === '+Infinity') return Number.POSITIVE_INFINITY;
    if (trimmed === '-Infinity') return Number.NEGATIVE_INFINITY;
  }
  throw conversionError(value, 'double', path);
}

function numericValue(value: string | boolean | JsonNumber, path: string): DuckDBDecimalValue {
  const source =
    value instanceof JsonNumber ? value.text : typeof value === 'string' ? value.trim() : undefined;
  const match = source === undefined ? null : DECIMAL_STRING.exec(source);
  const integerDigits = match?.[2] ?? '';
  const fractionDigits = match?.[3] ?? '';
  if (!match || (integerDigits === '' && fractionDigits === ''))
    throw conversionError(value, 'numeric', path);
  let scaled = BigInt(
    (integerDigits || '0') + fractionDigits.slice(0, NUMERIC_SCALE).padEnd(NUMERIC_SCALE, '0'),
  );
  // Round half away from zero on the first dropped digit.
  if (Number(fractionDigits[NUMERIC_SCALE] ?? '0') >= 5) scaled += 1n;
  if (integerDigits.replace(/^0+/, '').length > NUMERIC_MAX_INTEGER_DIGITS) {
    throw new BadRowError(`Invalid NUMERIC value: ${source}. Field: ${path}; Value: ${source}`);
  }
  return new DuckDBDecimalValue(match[1] === '-' ? -scaled : scaled, 38, NUMERIC_SCALE);
}

function booleanValue(value: string | boolean | JsonNumber, path: string): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') {
    const lower = value.toLowerCase();
    if (lower === 'true') return true;
    if (lower === 'false') return false;
  }
  throw conversionError(value, 'boolean', path);
}

function bytesValue(value: string | boolean | JsonNumber, path: string): DuckDBBlobValue {
  if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 === 1) {
    throw conversionError(value, 'bytes (base64)', path);
  }
  return new DuckDBBlobValue(Buffer.from(value, 'base64'));
}

function timestampValue(value: string | boolean | JsonNumber, path: string): DuckDBTimestampTZValue {
  let micros: bigint | undefined;
  if (value instanceof JsonNumber) micros = parseEpochSecondsText(value.text);
  else if (typeof value === 'string') micros = parseTimestampText(value.trim());
  if (micros === undefined) {
    throw parseError(value, 'timestamp', 'YYYY-MM-DD HH:MM:SS[.SSSSSS][ UTC|Z|±HH:MM]', path);
  }
  return new DuckDBTimestampTZValue(micros);
}

function text(value: JsonValue): string {
  return truncate(typeof value === 'string' ? value : jsonValueText(value));
}

function truncate(value: string): string {
  return value.length > 200 ? `${value.slice(0, 200)}…` : value;
}

/** BigQuery describes the offending JSON value by its protobuf kind, e.g. `string_value: "abc"`. */
function describeValue(value: string | boolean | JsonNumber): string {
  if (typeof value === 'string') return `string_value: ${JSON.stringify(truncate(value))}`;
  if (typeof value === 'boolean') return `bool_value: ${value}`;
  return `number_value: ${value.text}`;
}

function conversionError(value: string | boolean | JsonNumber, target: string, path: string): BadRowError {
  return new BadRowError(
    `Could not convert value '${describeValue(value)}' to ${target}. Field: ${path}; Value: ${text(value)}`,
  );
}

function parseError(
  value: string | boolean | JsonNumber,
  kind: string,
  format: string,
  path: string,
): BadRowError {
  if (typeof value !== 'string' && !(kind === 'timestamp' && value instanceof JsonNumber)) {
    return conversionError(value, kind, path);
  }
  const shown = text(value);
  return new BadRowError(
    `Could not parse '${shown}' as a ${kind}. Required format is ${format}. Field: ${path}; Value: ${shown}`,
  );
}
