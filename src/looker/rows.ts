import type { ResolvedExport } from '../config/model.ts';
import { NonRetryableError } from '../errors.ts';
import {
  type BigQueryType,
  type ExportField,
  OWN_QUERY_COLUMN,
  QUARANTINE_RAW_COLUMN,
  QUARANTINE_REASON_COLUMN,
} from '../exports/types.ts';
import { utcDateTimeText, wallTimeToUtcMs } from './datetime.ts';
import { hashMask, REDACTED, redactMask, type StringMask } from './masking.ts';

// Turns one Looker JSON row into one NDJSON line for BigQuery: registry column names, BigQuery types, masking
// applied, times moved from the instance's system time zone to UTC. A value that cannot be converted losslessly
// makes the row bad (BadRowError names the column and the value): nothing is guessed. A bad row does not fail
// its window: it becomes a quarantine line (the raw row, masked, and the reason), which the load puts in the
// `_lsa_quarantine` table instead of the export's, so one bad row never blocks an export. Fields Looker adds
// beyond the ones we asked for (LookML `required_fields`) are ignored: we never promised them a column.

export class BadRowError extends NonRetryableError {
  constructor(
    readonly column: string,
    readonly detail: string,
  ) {
    super(detail);
    this.name = 'BadRowError';
  }
}

type Converter = (value: unknown, field: ExportField, zone: string) => unknown;

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

const CONVERTERS: Record<BigQueryType, Converter> = {
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

interface ColumnPlan {
  field: ExportField;
  /** `"column":` ready to concatenate. */
  prefix: string;
  convert: Converter;
  mask: StringMask | undefined;
  dropped: boolean;
  isKey: boolean;
  /** The converted value is text that needs only quotes (dates and times). */
  quoteAsIs: boolean;
}

export interface RowConverter {
  /** The Looker fields to ask for (dropped fields are never requested). */
  queryFields: string[];
  /** BigQuery column names, in file order. */
  columns: string[];
  /** One NDJSON line (without newline) for a Looker row; throws BadRowError for a row BigQuery cannot take. */
  toLine(row: Record<string, unknown>): string;
  /** The line that puts a bad row in quarantine: the row as Looker sent it, masked, and why it is bad. */
  quarantineLine(row: Record<string, unknown>, reason: string): string;
}

export interface RowContext {
  instanceId: string;
  extractedAt: Date;
  hashKey: () => string;
  /** The instance's system time zone (IANA). */
  timezone: string;
  /** The Looker user id the pipeline's queries run as, for exports that flag their own queries. */
  apiUserId?: number | undefined;
}

/** Distinct values whose hash is remembered per converter: a window's emails repeat (one per user, not per row),
 * and an HMAC costs more than the rest of a row's conversion. Bounded so a window of unique values stays flat. */
const HASH_MEMO_SIZE = 16_384;

function memoized(mask: StringMask): StringMask {
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

const DATE_TYPES: ReadonlySet<BigQueryType> = new Set(['TIMESTAMP', 'DATETIME', 'DATE']);

/** A string JSON.stringify would only wrap in quotes: no quote, backslash, control character or surrogate. */
const NEEDS_NO_ESCAPE = /^[^"\\\u0000-\u001f\ud800-\udfff]*$/;

/** The JSON text of a converted value; the same text as JSON.stringify, without its call for the common cases. */
function jsonText(value: unknown): string {
  if (typeof value === 'string') return NEEDS_NO_ESCAPE.test(value) ? `"${value}"` : JSON.stringify(value);
  if ((typeof value === 'number' && Number.isFinite(value)) || typeof value === 'boolean')
    return String(value);
  return JSON.stringify(value);
}

export function rowConverter(resolved: ResolvedExport, context: RowContext): RowConverter {
  const { definition } = resolved;
  let hash: StringMask | undefined;
  const plans: ColumnPlan[] = definition.fields.map((field) => {
    const rule = resolved.masking[field.field];
    let mask: StringMask | undefined;
    if (rule === 'hash') {
      hash ??= memoized(hashMask(context.hashKey()));
      mask = hash;
    } else if (rule === 'redact') mask = redactMask;
    return {
      field,
      prefix: `,${JSON.stringify(field.column)}:`,
      convert: CONVERTERS[field.bigqueryType],
      mask,
      dropped: rule === 'drop',
      isKey: field.field === definition.key,
      quoteAsIs: DATE_TYPES.has(field.bigqueryType),
    };
  });
  const head = `{"looker_instance":${JSON.stringify(context.instanceId)}`;
  const tail = `,"_extracted_at":${JSON.stringify(context.extractedAt.toISOString())}}`;
  const zone = context.timezone;
  const ownQueryField = definition.ownQueryUserField;
  const queryFields = plans.filter((p) => !p.dropped).map((p) => p.field.field);
  if (ownQueryField && !queryFields.includes(ownQueryField)) queryFields.push(ownQueryField);
  const columns = [
    'looker_instance',
    ...plans.map((p) => p.field.column),
    ...(ownQueryField ? [OWN_QUERY_COLUMN] : []),
    '_extracted_at',
  ];
  /** The JSON text of one column's converted value, or a BadRowError. */
  const columnText = (plan: ColumnPlan, row: Record<string, unknown>): string => {
    if (plan.dropped) return 'null';
    const raw = row[plan.field.field];
    if (raw === undefined) {
      throw new BadRowError(
        plan.field.column,
        `column ${plan.field.column}: Looker's row has no field ${plan.field.field}`,
      );
    }
    if (raw === null) {
      if (plan.isKey) {
        throw new BadRowError(
          plan.field.column,
          `column ${plan.field.column}: the key ${plan.field.field} is null`,
        );
      }
      return 'null';
    }
    const value = plan.convert(raw, plan.field, zone);
    if (plan.mask) return jsonText(plan.mask(value as string));
    // A date or time the converter accepted is digits and separators: nothing to escape.
    return plan.quoteAsIs ? `"${value as string}"` : jsonText(value);
  };
  const isOwnQuery = (row: Record<string, unknown>) =>
    context.apiUserId !== undefined && Number(row[ownQueryField!]) === context.apiUserId;
  const ownQuery = (row: Record<string, unknown>) => `,"${OWN_QUERY_COLUMN}":${isOwnQuery(row)}`;
  const lineOf = (row: Record<string, unknown>): string => {
    let line = head;
    for (const plan of plans) line += plan.prefix + columnText(plan, row);
    if (ownQueryField) line += ownQuery(row);
    return line + tail;
  };
  return {
    queryFields,
    columns,
    quarantineLine(row, reason) {
      const raw: Record<string, unknown> = {};
      for (const plan of plans) {
        if (plan.dropped || !(plan.field.field in row)) continue;
        const value = row[plan.field.field];
        raw[plan.field.field] = plan.mask && value !== null ? maskAny(plan.mask, value) : value;
      }
      return `${head},"${QUARANTINE_REASON_COLUMN}":${JSON.stringify(reason)},"${QUARANTINE_RAW_COLUMN}":${JSON.stringify(JSON.stringify(raw))}${tail}`;
    },
    toLine(row) {
      return lineOf(row);
    },
  };
}

/** A masked field of a bad row: strings masked as usual, anything else (the reason it is bad) redacted. */
function maskAny(mask: StringMask, value: unknown): unknown {
  return typeof value === 'string' ? mask(value) : REDACTED;
}
