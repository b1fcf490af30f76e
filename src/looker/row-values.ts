import { NonRetryableError } from '../errors.ts';
import type { BigQueryType, ExportField } from '../exports/types.ts';
import { utcDateTimeText, wallTimeToUtcMs } from './datetime.ts';
import type { StringMask } from './masking.ts';

// One value of a Looker row converted for its BigQuery column, the same whichever path reads the row (rows.ts):
// the converter of each BigQuery type, the error that makes a row bad, the JSON text of a converted value, and
// the memos that spare repeated work (a hash per distinct value, a zone conversion per distinct wall time).

export class BadRowError extends NonRetryableError {
  constructor(
    readonly column: string,
    readonly detail: string,
  ) {
    super(detail);
    this.name = 'BadRowError';
  }
}

export type Converter = (value: unknown, field: ExportField, zone: string) => unknown;

const INTEGER_TEXT = /^-?\d{1,19}$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,6})?$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

function show(value: unknown): string {
  const text =
    typeof value === 'string'
      ? JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value)
      : JSON.stringify(value);
  return text ?? String(value);
}

function bad(field: ExportField, value: unknown, expected: string): never {
  throw new BadRowError(
    field.column,
    `column ${field.column} (${field.field}): ${show(value)} is not ${expected}`,
  );
}

function dateTimeInUtc(value: unknown, field: ExportField, zone: string): unknown {
  if (typeof value !== 'string' || !DATE_TIME.test(value)) {
    return bad(field, value, 'a datetime like "2024-01-02 03:04:05"');
  }
  return zone === 'UTC' ? value : utcDateTimeText(wallTimeToUtcMs(value, zone));
}

export const CONVERTERS: Record<BigQueryType, Converter> = {
  INTEGER(value, field) {
    if (typeof value === 'number')
      return Number.isSafeInteger(value) ? value : bad(field, value, 'a whole number');
    if (typeof value === 'string' && INTEGER_TEXT.test(value)) {
      const n = Number(value);
      // Beyond 2^53 BigQuery wants the digits as a string, so nothing is rounded.
      return Number.isSafeInteger(n) ? n : value;
    }
    return bad(field, value, 'a whole number');
  },
  FLOAT(value, field) {
    if (typeof value === 'number' && Number.isFinite(value)) return value;
    if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)))
      return Number(value);
    return bad(field, value, 'a number');
  },
  BOOLEAN(value, field) {
    if (typeof value === 'boolean') return value;
    if (typeof value === 'string') {
      const lower = value.toLowerCase();
      if (lower === 'yes' || lower === 'true') return true;
      if (lower === 'no' || lower === 'false') return false;
    }
    return bad(field, value, 'Yes or No');
  },
  STRING(value, field) {
    if (typeof value === 'string') return value;
    // Numbers and booleans convert to text without loss; objects do not.
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    return bad(field, value, 'a string');
  },
  // System Activity datetimes are wall times in the instance's system zone; both column types hold them as UTC.
  TIMESTAMP: dateTimeInUtc,
  DATETIME: dateTimeInUtc,
  DATE(value, field) {
    if (typeof value === 'string' && DATE.test(value)) return value;
    return bad(field, value, 'a date like "2024-01-02"');
  },
};

export const DATE_TYPES: ReadonlySet<BigQueryType> = new Set(['TIMESTAMP', 'DATETIME', 'DATE']);

/** Distinct values whose hash is remembered per converter: a window's emails repeat (one per user, not per row),
 * and an HMAC costs more than the rest of a row's conversion. Bounded so a window of unique values stays flat. */
export const HASH_MEMO_SIZE = 16_384;

export function memoized(mask: StringMask): StringMask {
  let memo = new Map<string, string>();
  return (value) => {
    let masked = memo.get(value);
    if (masked === undefined) {
      masked = mask(value);
      if (memo.size >= HASH_MEMO_SIZE) memo = new Map();
      memo.set(value, masked);
    }
    return masked;
  };
}

/** The converter of a date-time column in a non-UTC zone, remembering its last answer: rows come sorted by their
 * cursor, so the same wall time repeats, and each conversion asks Intl for the zone's offsets four times. */
export function lastValueMemo(convert: Converter): Converter {
  let lastValue: unknown;
  let lastResult: unknown;
  return (value, field, zone) => {
    if (value !== lastValue || typeof value !== 'string') {
      lastResult = convert(value, field, zone);
      lastValue = value;
    }
    return lastResult;
  };
}

/** A string JSON.stringify would only wrap in quotes: no quote, backslash, control character or surrogate. */
const NEEDS_NO_ESCAPE = /^[^"\\\u0000-\u001f\ud800-\udfff]*$/;

/** The JSON text of a converted value; the same text as JSON.stringify, without its call for the common cases. */
export function jsonText(value: unknown): string {
  if (typeof value === 'string') return NEEDS_NO_ESCAPE.test(value) ? `"${value}"` : JSON.stringify(value);
  if ((typeof value === 'number' && Number.isFinite(value)) || typeof value === 'boolean')
    return String(value);
  return JSON.stringify(value);
}
