import { isUtf8 } from 'node:buffer';
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
import { FlatRowBytes, FlatRowFields, parseRow, ValueKind } from './json-rows.ts';
import { hashMask, REDACTED, redactMask, type StringMask } from './masking.ts';

// Turns one Looker JSON row into one NDJSON line for BigQuery: registry column names, BigQuery types, masking
// applied, times moved from the instance's system time zone to UTC. A value that cannot be converted losslessly
// makes the row bad (BadRowError names the column and the value): nothing is guessed. A bad row does not fail
// its window: it becomes a quarantine line (the raw row, masked, and the reason), which the load puts in the
// `_lsa_quarantine` table instead of the export's, so one bad row never blocks an export. Fields Looker adds
// beyond the ones we asked for (LookML `required_fields`) are ignored: we never promised them a column.
//
// Two ways to the same line. `toLine` takes a parsed row (JSON.parse): the reference, and the way for any row that
// is unusual or bad. `fromJson` takes the row's JSON text and, for the common row, never builds an object: it
// finds each field's value text (FlatRowFields) and copies the text that BigQuery takes as it is (a string into a
// STRING column, a whole number into an INTEGER one, a UTC datetime, null), converting only what needs it
// (yes/no, numbers as text, other zones, masked values) with the same functions as `toLine`. Whatever it does not
// handle itself (a missing field, a value BigQuery cannot take, a nested value, text JSON.parse would refuse)
// goes to `toLine` on the parsed row, so every quarantine reason and every invalid-JSON error is `toLine`'s and
// `parseRow`'s own. Its lines parse to what `toLine`'s parse to (test/unit/rows-from-json.test.ts).
//
// `fromBytes` is `fromJson` on the row's bytes, for the extract, and `rowAt` the same before the row's end is
// known: the common row (the fields asked in order, no escapes, valid UTF-8: `lineAt` in one pass; else printable
// ASCII in any order: FlatRowBytes) never becomes a string; its line is written as bytes, value bytes copied, into
// buffers handed on to the spool as they are. Any other row is decoded and goes to `fromJson`. Its lines are
// `fromJson`'s, byte for byte (test/unit/rows-from-bytes.test.ts).

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

/** One row's line, from its JSON text. */
export interface ConvertedRow {
  /** The NDJSON line (without newline): the row's, or its quarantine line when BigQuery cannot take it. */
  line: string;
  /** Why the row went to quarantine (BadRowError's message); undefined for a good row. */
  badReason: string | undefined;
  /** The values of the `pick` fields, in order, as JSON.parse gives them (undefined: the row has no such field). */
  picked: unknown[];
}

/** One row's line as bytes (see `fromBytes`). */
export interface RowLine {
  /** The line and its newline are `bytes[start, end)`; never written again, so they may be handed on uncopied. */
  bytes: Buffer;
  start: number;
  end: number;
  /** Why the row went to quarantine; undefined for a good row. */
  badReason: string | undefined;
  /** As `ConvertedRow.picked`. */
  picked: unknown[];
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
  /**
   * The line of one row's JSON text (as JsonArrayRowReader hands it; `index` counts from 0 for error messages),
   * its quarantine line if it is bad, and the values of the `pick` fields. Throws JsonRowsError for invalid JSON.
   */
  fromJson(json: string, index: number): ConvertedRow;
  /** `fromJson` on the row's bytes `bytes[start, end)` (valid only during the call): its line, newline included. */
  fromBytes(bytes: Buffer, start: number, end: number, index: number): RowLine;
  /**
   * The common row whose `{` is at `bytes[start]`, found and turned into its line in one pass (the fields asked,
   * in order, no escapes, valid UTF-8, values BigQuery takes): its line and where the row ends (after `}`), or undefined
   * for any other row (or one that runs past `limit`), which then goes to `fromBytes` once its end is known.
   */
  rowAt(bytes: Buffer, start: number, limit: number): { line: RowLine; end: number } | undefined;
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

/** The converter of a date-time column in a non-UTC zone, remembering its last answer: rows come sorted by their
 * cursor, so the same wall time repeats, and each conversion asks Intl for the zone's offsets four times. */
function lastValueMemo(convert: Converter): Converter {
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

/** A datetime's text followed by its closing quote, checked in place in the row's text (sticky: at lastIndex). */
const DATE_TIME_QUOTED = /\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,6})?"/y;
const DATE_QUOTED = /\d{4}-\d{2}-\d{2}"/y;

/** A string JSON.stringify would only wrap in quotes: no quote, backslash, control character or surrogate. */
const NEEDS_NO_ESCAPE = /^[^"\\\u0000-\u001f\ud800-\udfff]*$/;

/** The JSON text of a converted value; the same text as JSON.stringify, without its call for the common cases. */
function jsonText(value: unknown): string {
  if (typeof value === 'string') return NEEDS_NO_ESCAPE.test(value) ? `"${value}"` : JSON.stringify(value);
  if ((typeof value === 'number' && Number.isFinite(value)) || typeof value === 'boolean')
    return String(value);
  return JSON.stringify(value);
}

/**
 * `pick`: Looker fields whose values `fromJson` hands back with each line (the extract's cursor, key and open
 * field), so the caller needs no parsed row either.
 */
export function rowConverter(
  resolved: ResolvedExport,
  context: RowContext,
  pick: readonly string[] = [],
): RowConverter {
  const { definition } = resolved;
  let hash: StringMask | undefined;
  const plans: ColumnPlan[] = definition.fields.map((field) => {
    const rule = resolved.masking[field.field];
    let mask: StringMask | undefined;
    if (rule === 'hash') {
      hash ??= memoized(hashMask(context.hashKey()));
      mask = hash;
    } else if (rule === 'redact') mask = redactMask;
    const isDate = DATE_TYPES.has(field.bigqueryType);
    const convert = CONVERTERS[field.bigqueryType];
    return {
      field,
      prefix: `,${JSON.stringify(field.column)}:`,
      convert: isDate && context.timezone !== 'UTC' ? lastValueMemo(convert) : convert,
      mask,
      dropped: rule === 'drop',
      isKey: field.field === definition.key,
      quoteAsIs: isDate,
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
  /** The JSON text of a column's value (not null), converted and masked, or a BadRowError. */
  const valueText = (plan: ColumnPlan, raw: unknown): string => {
    const value = plan.convert(raw, plan.field, zone);
    if (plan.mask) return jsonText(plan.mask(value as string));
    // A date or time the converter accepted is digits and separators: nothing to escape.
    return plan.quoteAsIs ? `"${value as string}"` : jsonText(value);
  };
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
    return valueText(plan, raw);
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
  const quarantineLine = (row: Record<string, unknown>, reason: string): string => {
    const raw: Record<string, unknown> = {};
    for (const plan of plans) {
      if (plan.dropped || !(plan.field.field in row)) continue;
      const value = row[plan.field.field];
      raw[plan.field.field] = plan.mask && value !== null ? maskAny(plan.mask, value) : value;
    }
    return `${head},"${QUARANTINE_REASON_COLUMN}":${JSON.stringify(reason)},"${QUARANTINE_RAW_COLUMN}":${JSON.stringify(JSON.stringify(raw))}${tail}`;
  };

  // ---- fromJson: the row's text, field by field
  // Every field a line or a pick reads has a slot, set per row to where that field is in the row's text (-1:
  // absent). Looker returns the fields in the order asked, so each is first looked for at its own position.
  const wanted = [...queryFields, ...pick.filter((name) => !queryFields.includes(name))];
  const slotOf = new Map(wanted.map((name, slot) => [name, slot]));
  const slots = new Int32Array(wanted.length);
  const planSlots = plans.map((plan) => (plan.dropped ? -1 : slotOf.get(plan.field.field)!));
  const ownQuerySlot = ownQueryField ? slotOf.get(ownQueryField)! : -1;
  const pickSlots = pick.map((name) => slotOf.get(name)!);
  const fields = new FlatRowFields();
  const utc = zone === 'UTC';
  /** A masked string column's JSON text per value text, quotes included: emails repeat once per user, and
   * the memo of hashes still costs a lookup, a test for escapes and a new string per row. */
  const maskedTexts = plans.map((plan) =>
    plan.mask && plan.field.bigqueryType === 'STRING' ? new Map<string, string>() : undefined,
  );

  /** The JSON text of a field for a plan, or undefined when only `toLine` may say (missing, bad). */
  const fieldText = (plan: ColumnPlan, field: number, p: number): string | undefined => {
    const kind = fields.kind[field];
    if (kind === ValueKind.Null) return plan.isKey ? undefined : 'null';
    const memo = maskedTexts[p];
    if (memo && kind === ValueKind.PlainString) {
      const value = fields.text.slice(fields.valueStart[field], fields.valueEnd[field]);
      let text = memo.get(value);
      if (text === undefined) {
        text = jsonText(plan.mask!(value.slice(1, -1)));
        if (memo.size >= HASH_MEMO_SIZE) memo.clear();
        memo.set(value, text);
      }
      return text;
    }
    if (!plan.mask) {
      // Text BigQuery takes as it is: copied. Each case is the text `valueText` writes, or one that parses to it.
      const text = fields.text;
      const start = fields.valueStart[field]!;
      const end = fields.valueEnd[field]!;
      switch (plan.field.bigqueryType) {
        case 'STRING':
          // No escape, no control character, no lone surrogate (the text is decoded UTF-8): JSON.stringify
          // would only add quotes.
          if (kind === ValueKind.PlainString) return text.slice(start, end);
          break;
        case 'INTEGER':
          // At most 15 digits: a safe integer, written as String() writes it (but -0, which is 0).
          if (kind === ValueKind.Integer && end - start <= (text.charCodeAt(start) === 0x2d ? 16 : 15)) {
            const negativeZero =
              end - start === 2 && text.charCodeAt(start) === 0x2d && text.charCodeAt(start + 1) === 0x30;
            return negativeZero ? '0' : text.slice(start, end);
          }
          break;
        case 'FLOAT':
          if (kind === ValueKind.Integer || kind === ValueKind.Number) {
            // Any finite JSON number parses to the same double as String() of it; zero is written 0 (not -0).
            const number = text.slice(start, end);
            const value = Number(number);
            if (Number.isFinite(value)) return value === 0 ? '0' : number;
          }
          break;
        case 'BOOLEAN':
          if (kind === ValueKind.True) return 'true';
          if (kind === ValueKind.False) return 'false';
          break;
        case 'TIMESTAMP':
        case 'DATETIME':
          if (utc && kind === ValueKind.PlainString) {
            DATE_TIME_QUOTED.lastIndex = start + 1;
            if (DATE_TIME_QUOTED.test(text) && DATE_TIME_QUOTED.lastIndex === end)
              return text.slice(start, end);
          }
          break;
        case 'DATE':
          if (kind === ValueKind.PlainString) {
            DATE_QUOTED.lastIndex = start + 1;
            if (DATE_QUOTED.test(text) && DATE_QUOTED.lastIndex === end) return text.slice(start, end);
          }
          break;
      }
    }
    // Anything else: the value as JSON.parse gives it, through the same conversion as toLine.
    try {
      return valueText(plan, fields.value(field));
    } catch (error) {
      if (error instanceof BadRowError) return undefined;
      throw error;
    }
  };

  /** The line from the scanned fields, or undefined when toLine must decide. */
  const scannedLine = (): string | undefined => {
    slots.fill(-1);
    for (let field = 0; field < fields.count; field++) {
      const slot =
        field < wanted.length && fields.keyIs(field, wanted[field]!)
          ? field
          : (slotOf.get(fields.key(field)) ?? -1);
      if (slot >= 0) slots[slot] = field; // a repeated key: the last one counts, as in JSON.parse
    }
    let line = head;
    for (let p = 0; p < plans.length; p++) {
      const plan = plans[p]!;
      if (plan.dropped) {
        line += `${plan.prefix}null`;
        continue;
      }
      const field = slots[planSlots[p]!]!;
      if (field < 0) return undefined;
      const text = fieldText(plan, field, p);
      if (text === undefined) return undefined;
      line += plan.prefix + text;
    }
    if (ownQueryField) {
      const field = slots[ownQuerySlot]!;
      const own =
        context.apiUserId !== undefined &&
        Number(field < 0 ? undefined : fields.value(field)) === context.apiUserId;
      line += `,"${OWN_QUERY_COLUMN}":${own}`;
    }
    return line + tail;
  };

  /** A row JSON.parse reads: the reference path, for every row the scan leaves to it. */
  const fromParsed = (row: Record<string, unknown>): ConvertedRow => {
    const picked = pick.map((name) => row[name]);
    try {
      return { line: lineOf(row), badReason: undefined, picked };
    } catch (error) {
      if (!(error instanceof BadRowError)) throw error;
      return { line: quarantineLine(row, error.message), badReason: error.message, picked };
    }
  };

  const fromJson = (json: string, index: number): ConvertedRow => {
    if (fields.scan(json)) {
      const line = scannedLine();
      if (line !== undefined) {
        const picked = pickSlots.map((slot) => {
          const field = slots[slot]!;
          return field < 0 ? undefined : fields.value(field);
        });
        return { line, badReason: undefined, picked };
      }
    }
    return fromParsed(parseRow(json, index));
  };

  // ---- fromBytes: the row's bytes, field by field, into the line's bytes
  const bytesOf = (text: string) => Buffer.from(text, 'utf8');
  const headBytes = bytesOf(head);
  const tailBytes = bytesOf(`${tail}\n`);
  const prefixBytes = plans.map((plan) => bytesOf(plan.prefix));
  // Keys the byte scan can find are ASCII; a wanted name that is not never matches, and the text path decides.
  const wantedBytes = wanted.map(bytesOf);
  const ownQueryTrue = bytesOf(`,"${OWN_QUERY_COLUMN}":true`);
  const ownQueryFalse = bytesOf(`,"${OWN_QUERY_COLUMN}":false`);
  const maskedBytes = plans.map((plan) =>
    plan.mask && plan.field.bigqueryType === 'STRING' ? new Map<string, Buffer>() : undefined,
  );
  /** What a line adds to its row's bytes at most: head, tail, column names, null for a dropped value, true for
   * a yes/no, a masked value's hash. */
  const mostAddedBytes =
    headBytes.length +
    tailBytes.length +
    ownQueryFalse.length +
    plans.reduce((sum, plan, p) => sum + prefixBytes[p]!.length + 5 + (plan.mask ? 80 : 0), 0);
  /** How many columns read one field at most (1 unless two columns share a field): a row's value bytes are
   * copied that many times at most. */
  const fieldUses = Math.max(
    1,
    ...plans.map((plan) => plans.filter((other) => other.field.field === plan.field.field).length),
  );
  const byteFields = new FlatRowBytes();
  const byteSlots = new Int32Array(wanted.length);
  let out = Buffer.allocUnsafeSlow(LINE_BUFFER_BYTES);
  let outView = new DataView(out.buffer, out.byteOffset, out.length);
  let used = 0;
  /** Room for `bytes` more: a fresh buffer when this one is full (lines already handed out are never rewritten). */
  const reserve = (bytes: number) => {
    if (used + bytes <= out.length) return;
    out = Buffer.allocUnsafeSlow(Math.max(LINE_BUFFER_BYTES, bytes));
    outView = new DataView(out.buffer, out.byteOffset, out.length);
    used = 0;
  };

  /** A datetime value `bytes[start, end)` (quotes included) of the system zone written at `out[at]` in UTC, as
   * `valueText` writes it (the plan's converter, which remembers its last value): where it ends, or -1. */
  const zonedDateTime = (plan: ColumnPlan, bytes: Buffer, start: number, end: number, at: number): number => {
    let value: unknown;
    try {
      value = plan.convert(bytes.toString('latin1', start + 1, end - 1), plan.field, zone);
    } catch (error) {
      if (error instanceof BadRowError) return -1;
      throw error;
    }
    const text = value as string;
    let o = at;
    out[o++] = QUOTE_BYTE;
    for (let k = 0; k < text.length; k++) out[o++] = text.charCodeAt(k);
    out[o++] = QUOTE_BYTE;
    return o;
  };

  /** The line of the scanned bytes written at `out[used]`: where it ends, or -1 when fromJson must decide. */
  const bytesLine = (): number => {
    byteSlots.fill(-1);
    for (let field = 0; field < byteFields.count; field++) {
      const slot =
        field < wanted.length && byteFields.keyIs(field, wantedBytes[field]!)
          ? field
          : (slotOf.get(byteFields.key(field)) ?? -1);
      if (slot >= 0) byteSlots[slot] = field; // a repeated key: the last one counts, as in JSON.parse
    }
    const row = byteFields.bytes;
    let o = copyBytes(headBytes, 0, headBytes.length, out, used);
    for (let p = 0; p < plans.length; p++) {
      const plan = plans[p]!;
      const prefix = prefixBytes[p]!;
      o = copyBytes(prefix, 0, prefix.length, out, o);
      if (plan.dropped) {
        o = copyBytes(NULL_BYTES, 0, 4, out, o);
        continue;
      }
      const field = byteSlots[planSlots[p]!]!;
      if (field < 0) return -1;
      const kind = byteFields.kind[field];
      const start = byteFields.valueStart[field]!;
      const end = byteFields.valueEnd[field]!;
      if (kind === ValueKind.Null) {
        if (plan.isKey) return -1;
        o = copyBytes(NULL_BYTES, 0, 4, out, o);
        continue;
      }
      if (plan.mask) {
        const memo = maskedBytes[p];
        if (!memo || kind !== ValueKind.PlainString) return -1;
        const value = row.toString('latin1', start, end);
        let text = memo.get(value);
        if (text === undefined) {
          text = bytesOf(jsonText(plan.mask(value.slice(1, -1))));
          if (memo.size >= HASH_MEMO_SIZE) memo.clear();
          memo.set(value, text);
        }
        o = copyBytes(text, 0, text.length, out, o);
        continue;
      }
      // Bytes BigQuery takes as they are: copied, in the cases where fromJson copies the text.
      let copy = false;
      switch (plan.field.bigqueryType) {
        case 'STRING':
          copy = kind === ValueKind.PlainString;
          break;
        case 'INTEGER':
          if (kind === ValueKind.Integer && end - start <= (row[start] === 0x2d ? 16 : 15)) {
            if (end - start === 2 && row[start] === 0x2d && row[start + 1] === 0x30) {
              out[o++] = 0x30; // -0 is written 0
              continue;
            }
            copy = true;
          }
          break;
        case 'FLOAT':
          // Without an exponent and at most 300 characters, a number is finite and, unless all its digits are 0
          // (written 0), not rounded to zero.
          if ((kind === ValueKind.Integer || kind === ValueKind.Number) && !byteFields.exponent[field]) {
            if (end - start > 300) return -1;
            if (allZeroDigits(row, start, end)) {
              out[o++] = 0x30;
              continue;
            }
            copy = true;
          }
          break;
        case 'BOOLEAN': {
          const truth = kind === ValueKind.PlainString ? yesNo(row, start + 1, end - 1) : kind;
          if (truth === ValueKind.True) o = copyBytes(TRUE_BYTES, 0, 4, out, o);
          else if (truth === ValueKind.False) o = copyBytes(FALSE_BYTES, 0, 5, out, o);
          else return -1;
          continue;
        }
        case 'TIMESTAMP':
        case 'DATETIME':
          if (kind === ValueKind.PlainString && isDateTimeBytes(row, start + 1, end - 1)) {
            if (utc) copy = true;
            else {
              o = zonedDateTime(plan, row, start, end, o);
              if (o < 0) return -1;
              continue;
            }
          }
          break;
        case 'DATE':
          copy = kind === ValueKind.PlainString && isDateBytes(row, start + 1, end - 1);
          break;
      }
      if (!copy) return -1;
      o = copyBytes(row, start, end, out, o);
    }
    if (ownQueryField) {
      const field = byteSlots[ownQuerySlot]!;
      const own =
        context.apiUserId !== undefined &&
        field >= 0 &&
        Number(byteFields.value(field)) === context.apiUserId;
      const text = own ? ownQueryTrue : ownQueryFalse;
      o = copyBytes(text, 0, text.length, out, o);
    }
    return copyBytes(tailBytes, 0, tailBytes.length, out, o);
  };

  // ---- lineAt: the common row in one pass, its fields in the order asked, each value copied as it is checked
  /** Per query field (Looker's order): its plan (-1: a field no column reads, the own-query user's), the dropped
   * plans written just before it, and where its value goes in `picked` (-1: nowhere). */
  const fieldPlan = queryFields.map((name) =>
    plans.findIndex((plan) => !plan.dropped && plan.field.field === name),
  );
  const droppedBefore = queryFields.map((_, f) => {
    const from = f === 0 ? 0 : fieldPlan[f - 1]! + 1;
    const to = fieldPlan[f]! < 0 ? plans.length : fieldPlan[f]!;
    return plans.slice(from, to).filter((plan) => plan.dropped).length;
  });
  const lastPlan = Math.max(-1, ...fieldPlan);
  const droppedAfter = plans.slice(lastPlan + 1).filter((plan) => plan.dropped).length;
  const pickOfField = queryFields.map((name) => pick.indexOf(name));
  // The one-pass line holds only when every pick is a query field (else it is looked for among the others).
  // Keys are compared byte for byte with the names asked, so those must be printable ASCII needing no escape.
  const oneStep =
    pick.every((name) => name === 'looker_error' || queryFields.includes(name)) &&
    queryFields.every((name) => /^[\x20-\x7e]*$/.test(name) && !/["\\]/.test(name));
  const droppedPrefixes = plans.map((plan, p) =>
    plan.dropped ? bytesOf(`${plan.prefix}null`) : prefixBytes[p]!,
  );
  const ownQueryField_ = ownQueryField ? queryFields.indexOf(ownQueryField) : -1;
  const valueStarts = new Int32Array(queryFields.length);
  const valueEnds = new Int32Array(queryFields.length);
  const valueKinds = new Uint8Array(queryFields.length);
  let lineAtResult: RowLine | undefined;
  // The constant parts of a line, and the keys asked, as words: written and compared four bytes at a time.
  const headWords = wordsOf(headBytes);
  const tailWords = wordsOf(tailBytes);
  const prefixWords = prefixBytes.map(wordsOf);
  const droppedWords = droppedPrefixes.map(wordsOf);
  const wantedWords = wantedBytes.map(wordsOf);
  const ownQueryTrueWords = wordsOf(ownQueryTrue);
  const ownQueryFalseWords = wordsOf(ownQueryFalse);
  const maskedWords = plans.map((plan) =>
    plan.mask && plan.field.bigqueryType === 'STRING' ? new Map<string, Words>() : undefined,
  );
  /** A view of the last row's buffer (one per chunk). */
  let viewed: Buffer | undefined;
  let view: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));

  /**
   * The row whose `{` is at `bytes[start]`, when it is the common row: its fields exactly those asked, in the order
   * asked, no escape or control character in a string and any byte beyond ASCII valid UTF-8, every value one
   * BigQuery takes as it is (or a yes/no, a masked string, a datetime of another zone). Its line is written at `out[used]` in the same pass that finds its end; returns
   * that end (after `}`), its line in `lineAtResult`. -1 for any other row (nothing written): `fromBytes` decides.
   * `limit` bounds the search (the chunk's end).
   */
  const lineAt = (bytes: Buffer, start: number, limit: number): number => {
    const dst = out; // locals: the loops below read them per byte
    const dstView = outView;
    if (bytes !== viewed) {
      viewed = bytes;
      view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    }
    const src = view;
    let o = writeWords(dstView, used, headWords);
    let i = start + 1;
    let p = 0; // the next plan to write
    for (let f = 0; f < queryFields.length; f++) {
      // whitespace, then the key, exactly the field asked
      let c = bytes[i];
      while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = bytes[++i];
      if (f > 0) {
        if (c !== 0x2c) return -1; // ','
        c = bytes[++i];
        while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = bytes[++i];
      }
      if (c !== QUOTE_BYTE) return -1;
      const name = wantedWords[f]!;
      const keyEnd = i + 1 + name.length;
      if (keyEnd >= limit || bytes[keyEnd] !== QUOTE_BYTE || !sameWords(src, i + 1, name)) return -1;
      i = keyEnd + 1;
      c = bytes[i];
      while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = bytes[++i];
      if (c !== 0x3a) return -1; // ':'
      c = bytes[++i];
      while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = bytes[++i];
      // dropped columns before this one
      for (let d = droppedBefore[f]!; d > 0; d--) o = writeWords(dstView, o, droppedWords[p++]!);
      const planIndex = fieldPlan[f]!;
      const plan = planIndex >= 0 ? plans[planIndex]! : undefined;
      let valueOut = o;
      if (plan) {
        valueOut = writeWords(dstView, o, prefixWords[planIndex]!);
        p = planIndex + 1;
      }
      // the value, copied while it is checked
      const valueStart = i;
      let kind: ValueKind | typeof WIDE_STRING;
      let exponent = false;
      let w = valueOut;
      if (c === QUOTE_BYTE) {
        // No escape and no control character, found, then copied with its quotes four bytes a step. Bytes
        // beyond ASCII must be valid UTF-8 (checked natively, once): then they are what decoding the row and
        // JSON.stringify's encoding of the line would write (it escapes only lone surrogates, which UTF-8
        // cannot hold; invalid bytes would decode to U+FFFD, so such a row takes the text path).
        let wide = 0;
        for (i++; ; i++) {
          if (i >= limit) return -1;
          const byte = bytes[i]!;
          if (byte === QUOTE_BYTE) break;
          if (byte < 0x20 || byte === BACKSLASH_BYTE) return -1;
          if (byte > 0x7e) wide = 1;
        }
        if (wide && !isUtf8(bytes.subarray(valueStart + 1, i))) return -1;
        i++;
        w = copyWords(src, valueStart, i, dstView, w);
        kind = wide ? WIDE_STRING : ValueKind.PlainString;
      } else if (c === 0x2d || (c !== undefined && c >= 0x30 && c <= 0x39)) {
        // JSON's number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
        if (c === 0x2d) dst[w++] = bytes[i++]!;
        let d = bytes[i];
        if (d === 0x30) {
          dst[w++] = d;
          d = bytes[++i];
        } else if (d !== undefined && d >= 0x31 && d <= 0x39) {
          while (d !== undefined && d >= 0x30 && d <= 0x39) {
            dst[w++] = d;
            d = bytes[++i];
          }
        } else return -1;
        kind = ValueKind.Integer;
        if (d === 0x2e || d === 0x65 || d === 0x45) {
          // a fraction or an exponent: rare in System Activity, and left to the scan
          kind = ValueKind.Number;
          exponent = d !== 0x2e;
          if (exponent) return -1;
          dst[w++] = d;
          d = bytes[++i];
          if (d === undefined || d < 0x30 || d > 0x39) return -1;
          while (d !== undefined && d >= 0x30 && d <= 0x39) {
            dst[w++] = d;
            d = bytes[++i];
          }
          if (d === 0x65 || d === 0x45) return -1;
        }
        if (i >= limit) return -1;
      } else if (c === 0x6e && bytes[i + 1] === 0x75 && bytes[i + 2] === 0x6c && bytes[i + 3] === 0x6c) {
        kind = ValueKind.Null;
        i += 4;
      } else if (c === 0x74 && bytes[i + 1] === 0x72 && bytes[i + 2] === 0x75 && bytes[i + 3] === 0x65) {
        kind = ValueKind.True;
        i += 4;
      } else if (
        c === 0x66 &&
        bytes[i + 1] === 0x61 &&
        bytes[i + 2] === 0x6c &&
        bytes[i + 3] === 0x73 &&
        bytes[i + 4] === 0x65
      ) {
        kind = ValueKind.False;
        i += 5;
      } else return -1;
      valueStarts[f] = valueStart;
      valueEnds[f] = i;
      valueKinds[f] = kind;
      if (!plan) continue; // a field only read for the own-query flag: not written
      // what BigQuery takes: the copy as it is, or a value written in its place, or -1
      if (kind === ValueKind.Null) {
        if (plan.isKey) return -1;
        o = copyBytes(NULL_BYTES, 0, 4, dst, valueOut);
        continue;
      }
      if (plan.mask) {
        const memo = maskedWords[planIndex];
        if (!memo || (kind !== ValueKind.PlainString && kind !== WIDE_STRING)) return -1;
        // Keyed by the value's bytes (latin1 maps bytes to characters one to one); masked as decoded.
        const value = bytes.toString('latin1', valueStart, i);
        let text = memo.get(value);
        if (text === undefined) {
          text = wordsOf(bytesOf(jsonText(plan.mask(bytes.toString('utf8', valueStart + 1, i - 1)))));
          if (memo.size >= HASH_MEMO_SIZE) memo.clear();
          memo.set(value, text);
        }
        o = writeWords(dstView, valueOut, text);
        continue;
      }
      const length = i - valueStart;
      switch (plan.field.bigqueryType) {
        case 'STRING':
          if (kind !== ValueKind.PlainString && kind !== WIDE_STRING) return -1;
          break;
        case 'INTEGER':
          if (kind !== ValueKind.Integer || length > (c === 0x2d ? 16 : 15)) return -1;
          if (length === 2 && c === 0x2d && bytes[valueStart + 1] === 0x30) {
            dst[valueOut] = 0x30; // -0 is written 0
            w = valueOut + 1;
          }
          break;
        case 'FLOAT':
          if (kind !== ValueKind.Integer && kind !== ValueKind.Number) return -1;
          if (length > 300) return -1;
          if (allZeroDigits(bytes, valueStart, i)) {
            dst[valueOut] = 0x30;
            w = valueOut + 1;
          }
          break;
        case 'BOOLEAN': {
          const truth = kind === ValueKind.PlainString ? yesNo(bytes, valueStart + 1, i - 1) : kind;
          if (truth === ValueKind.True) w = copyBytes(TRUE_BYTES, 0, 4, dst, valueOut);
          else if (truth === ValueKind.False) w = copyBytes(FALSE_BYTES, 0, 5, dst, valueOut);
          else return -1;
          break;
        }
        case 'TIMESTAMP':
        case 'DATETIME':
          if (kind !== ValueKind.PlainString || !isDateTimeBytes(bytes, valueStart + 1, i - 1)) return -1;
          if (!utc) {
            w = zonedDateTime(plan, bytes, valueStart, i, valueOut);
            if (w < 0) return -1;
          }
          break;
        case 'DATE':
          if (kind !== ValueKind.PlainString || !isDateBytes(bytes, valueStart + 1, i - 1)) return -1;
          break;
      }
      o = w;
    }
    let c = bytes[i];
    while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = bytes[++i];
    if (c !== CLOSE_BRACE_BYTE || i >= limit) return -1; // another field (or the end of the chunk): the scan decides
    for (let d = droppedAfter; d > 0; d--) o = writeWords(dstView, o, droppedWords[p++]!);
    if (ownQueryField) {
      const f = ownQueryField_;
      const own =
        context.apiUserId !== undefined &&
        Number(fieldValue(bytes, valueStarts[f]!, valueEnds[f]!, valueKinds[f]!)) === context.apiUserId;
      o = writeWords(dstView, o, own ? ownQueryTrueWords : ownQueryFalseWords);
    }
    o = writeWords(dstView, o, tailWords);
    const picked = new Array<unknown>(pick.length).fill(undefined);
    for (let f = 0; f < queryFields.length; f++) {
      const k = pickOfField[f]!;
      if (k >= 0) picked[k] = fieldValue(bytes, valueStarts[f]!, valueEnds[f]!, valueKinds[f]!);
    }
    lineAtResult = { bytes: out, start: used, end: o, badReason: undefined, picked };
    used = o;
    return i + 1;
  };

  /** The common row in one pass (see lineAt), with room reserved for a row of up to `limit - start` bytes. */
  const tryLineAt = (bytes: Buffer, start: number, limit: number): RowLine | undefined => {
    if (!oneStep) return undefined;
    // A row longer than this is left to the scan, so the room reserved stays small whatever the chunk's size.
    const bound = Math.min(limit, start + ONE_STEP_ROW_BYTES);
    reserve(mostAddedBytes + 64 + (bound - start) * fieldUses);
    const end = lineAt(bytes, start, bound);
    if (end < 0) {
      refusedBytes = bytes;
      refusedStart = start;
      return undefined;
    }
    lastRowEnd = end;
    return lineAtResult;
  };
  let lastRowEnd = 0;
  /** The row rowAt refused last: when it comes whole to fromBytes, it is not tried in one pass again. */
  let refusedBytes: Buffer | undefined;
  let refusedStart = -1;

  const fromBytes = (bytes: Buffer, start: number, end: number, index: number): RowLine => {
    const line = bytes === refusedBytes && start === refusedStart ? undefined : tryLineAt(bytes, start, end);
    if (line && lastRowEnd === end) return line;
    if (line) throw new Error(`fromBytes: the row at ${start} ends at ${lastRowEnd}, not at ${end}`);
    reserve(mostAddedBytes + (end - start) * fieldUses);
    if (byteFields.scan(bytes, start, end)) {
      const lineEnd = bytesLine();
      if (lineEnd >= 0) {
        const picked = new Array<unknown>(pickSlots.length);
        for (let k = 0; k < pickSlots.length; k++) {
          const field = byteSlots[pickSlots[k]!]!;
          picked[k] = field < 0 ? undefined : byteFields.value(field);
        }
        const line: RowLine = { bytes: out, start: used, end: lineEnd, badReason: undefined, picked };
        used = lineEnd;
        return line;
      }
    }
    const converted = fromJson(bytes.toString('utf8', start, end), index);
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    reserve(converted.line.length * 3 + 1);
    const lineStart = used;
    used += out.write(converted.line, used, 'utf8');
    out[used++] = 0x0a;
    return {
      bytes: out,
      start: lineStart,
      end: used,
      badReason: converted.badReason,
      picked: converted.picked,
    };
  };

  return {
    queryFields,
    columns,
    quarantineLine,
    toLine(row) {
      return lineOf(row);
    },
    fromJson,
    fromBytes,
    rowAt(bytes, start, limit) {
      const line = tryLineAt(bytes, start, limit);
      return line ? { line, end: lastRowEnd } : undefined;
    },
  };
}

/** Bytes of lines `fromBytes` writes into one buffer before taking the next: the spool hands them to gzip as
 * views, so a buffer lives until its last line is compressed. */
const LINE_BUFFER_BYTES = 256 * 1024;

/** Rows up to this long are tried in one pass (rowAt); longer ones are found first, then scanned. */
const ONE_STEP_ROW_BYTES = 16 * 1024;

const NULL_BYTES = Buffer.from('null');
const QUOTE_BYTE = 0x22;
const BACKSLASH_BYTE = 0x5c;
const CLOSE_BRACE_BYTE = 0x7d;

/** A string of the one pass with bytes beyond ASCII (valid UTF-8): copied, but decoded as UTF-8, not latin1. */
const WIDE_STRING = 7 as const;

/** A value's JSON.parse value from its bytes (printable ASCII, where latin1 is UTF-8, or a WIDE_STRING). */
function fieldValue(bytes: Buffer, start: number, end: number, kind: number): unknown {
  switch (kind) {
    case WIDE_STRING:
      return bytes.toString('utf8', start + 1, end - 1);
    case ValueKind.Null:
      return null;
    case ValueKind.True:
      return true;
    case ValueKind.False:
      return false;
    case ValueKind.PlainString:
      return bytes.toString('latin1', start + 1, end - 1);
    default:
      return Number(bytes.toString('latin1', start, end));
  }
}
const TRUE_BYTES = Buffer.from('true');
const FALSE_BYTES = Buffer.from('false');

/** Constant bytes as little-endian 32-bit words and the 0–3 bytes after the last whole one. */
interface Words {
  length: number;
  words: Uint32Array;
  rest: Uint8Array;
}

function wordsOf(bytes: Uint8Array): Words {
  const whole = bytes.length >> 2;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const words = new Uint32Array(whole);
  for (let k = 0; k < whole; k++) words[k] = view.getUint32(4 * k, true);
  return { length: bytes.length, words, rest: bytes.slice(4 * whole) };
}

/** Writes `constant` at `at` (room reserved), four bytes a step; returns where it ends. */
function writeWords(to: DataView, at: number, constant: Words): number {
  let o = at;
  const { words, rest } = constant;
  for (let k = 0; k < words.length; k++, o += 4) to.setUint32(o, words[k]!, true);
  for (let k = 0; k < rest.length; k++) to.setUint8(o++, rest[k]!);
  return o;
}

/** Copies `from[start, end)` to `to[at]` four bytes a step (room reserved); returns where it ends. */
function copyWords(from: DataView, start: number, end: number, to: DataView, at: number): number {
  let k = start;
  let o = at;
  for (; k + 4 <= end; k += 4, o += 4) to.setUint32(o, from.getUint32(k, true), true);
  for (; k < end; k++) to.setUint8(o++, from.getUint8(k));
  return o;
}

/** Whether the bytes at `at` (all within the view) are `constant`, compared four at a time. */
function sameWords(view: DataView, at: number, constant: Words): boolean {
  let o = at;
  const { words, rest } = constant;
  for (let k = 0; k < words.length; k++, o += 4) if (view.getUint32(o, true) !== words[k]) return false;
  for (let k = 0; k < rest.length; k++) if (view.getUint8(o++) !== rest[k]) return false;
  return true;
}

/** Copies `from[start, end)` to `to[at]`, returning where it ends: a loop, cheaper than a native call for the few
 * bytes of a value. */
function copyBytes(from: Uint8Array, start: number, end: number, to: Uint8Array, at: number): number {
  let o = at;
  for (let k = start; k < end; k++) to[o++] = from[k]!;
  return o;
}

function allZeroDigits(bytes: Buffer, start: number, end: number): boolean {
  for (let k = start; k < end; k++) {
    const b = bytes[k]!;
    if (b >= 0x31 && b <= 0x39) return false;
  }
  return true;
}

/** True or False for yes/no/true/false in any case (as the BOOLEAN converter reads them), else Null. */
function yesNo(bytes: Buffer, start: number, end: number): ValueKind {
  let word = 0;
  const length = end - start;
  if (length < 2 || length > 5) return ValueKind.Null;
  // Up to five ASCII letters, lower-cased, as one number: 'yes' → 0x796573.
  for (let k = start; k < end; k++) {
    let b = bytes[k]!;
    if (b >= 0x41 && b <= 0x5a) b |= 0x20;
    word = word * 256 + b;
  }
  if (word === 0x796573 || word === 0x74727565) return ValueKind.True; // yes, true
  if (word === 0x6e6f || word === 0x66616c7365) return ValueKind.False; // no, false
  return ValueKind.Null;
}

function digitsAt(bytes: Buffer, start: number, count: number): boolean {
  for (let k = start; k < start + count; k++) {
    const b = bytes[k]!;
    if (b < 0x30 || b > 0x39) return false;
  }
  return true;
}

/** `DATE`'s pattern on bytes: 2024-01-02. */
function isDateBytes(bytes: Buffer, start: number, end: number): boolean {
  return (
    end - start === 10 &&
    digitsAt(bytes, start, 4) &&
    bytes[start + 4] === 0x2d &&
    digitsAt(bytes, start + 5, 2) &&
    bytes[start + 7] === 0x2d &&
    digitsAt(bytes, start + 8, 2)
  );
}

/** `DATE_TIME`'s pattern on bytes: 2024-01-02 03:04:05 (or T), then optionally . and 1 to 6 digits. */
function isDateTimeBytes(bytes: Buffer, start: number, end: number): boolean {
  const length = end - start;
  if (length !== 19 && (length < 21 || length > 26)) return false;
  if (!isDateBytes(bytes, start, start + 10)) return false;
  const t = bytes[start + 10];
  if (t !== 0x20 && t !== 0x54) return false;
  if (
    !digitsAt(bytes, start + 11, 2) ||
    bytes[start + 13] !== 0x3a ||
    !digitsAt(bytes, start + 14, 2) ||
    bytes[start + 16] !== 0x3a ||
    !digitsAt(bytes, start + 17, 2)
  )
    return false;
  return length === 19 || (bytes[start + 19] === 0x2e && digitsAt(bytes, start + 20, length - 20));
}

/** A masked field of a bad row: strings masked as usual, anything else (the reason it is bad) redacted. */
function maskAny(mask: StringMask, value: unknown): unknown {
  return typeof value === 'string' ? mask(value) : REDACTED;
}
