import { FlatRowFields, parseRow, ValueKind } from './json-rows.ts';
import type { ObjectPath } from './row-object.ts';
import { type ColumnPlan, type CompiledExport, placeFields, valueText } from './row-plan.ts';
import { BadRowError, HASH_MEMO_SIZE, jsonText } from './row-values.ts';

// The text path of a row converter (rows.ts): a row's JSON text, field by field. For the common row it never
// builds an object: it finds each field's value text (FlatRowFields) and copies the text that BigQuery takes as
// it is (a string into a STRING column, a whole number into an INTEGER one, a UTC datetime, null), converting
// only what needs it (yes/no, numbers as text, other zones, masked values) with the object path's functions.
// Whatever it does not handle itself (a missing field, a value BigQuery cannot take, a nested value, text
// JSON.parse would refuse) goes to the object path on the parsed row, so every quarantine reason and every
// invalid-JSON error is the object path's and `parseRow`'s own.

/** One row's line, from its JSON text. */
export interface ConvertedRow {
  /** The NDJSON line (without newline): the row's, or its quarantine line when BigQuery cannot take it. */
  line: string;
  /** Why the row went to quarantine (BadRowError's message); undefined for a good row. */
  badReason: string | undefined;
  /** The values of the `pick` fields, in order, as JSON.parse gives them (undefined: the row has no such field). */
  picked: unknown[];
}

/** The line of one row's JSON text (`index` counts from 0 for error messages); throws JsonRowsError for invalid
 * JSON. */
export type FromJson = (json: string, index: number) => ConvertedRow;

/** A datetime's text followed by its closing quote, checked in place in the row's text (sticky: at lastIndex). */
const DATE_TIME_QUOTED = /\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,6})?"/y;
const DATE_QUOTED = /\d{4}-\d{2}-\d{2}"/y;

export function textPath(compiled: CompiledExport, object: ObjectPath): FromJson {
  const { plans, head, tail, zone, utc, apiUserId, ownQueryField, ownQueryTrue, ownQueryFalse, pick } =
    compiled;
  const { wanted, slotOf, planSlots, ownQuerySlot, pickSlots } = compiled;
  const { toLine, quarantineLine } = object;
  // Every field a line or a pick reads has a slot, set per row to where that field is in the row's text (-1:
  // absent).
  const slots = new Int32Array(wanted.length);
  const fields = new FlatRowFields();
  /** A masked string column's JSON text per value text, quotes included: emails repeat once per user, and
   * the memo of hashes still costs a lookup, a test for escapes and a new string per row. */
  const maskedTexts = plans.map((plan) =>
    plan.mask && plan.field.bigqueryType === 'STRING' ? new Map<string, string>() : undefined,
  );

  /** The JSON text of a field for a plan, or undefined when only the object path may say (missing, bad). */
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
    // Anything else: the value as JSON.parse gives it, through the same conversion as the object path.
    try {
      return valueText(plan, fields.value(field), zone);
    } catch (error) {
      if (error instanceof BadRowError) return undefined;
      throw error;
    }
  };

  /** The line from the scanned fields, or undefined when the object path must decide. */
  const scannedLine = (): string | undefined => {
    placeFields(fields, wanted, slotOf, slots);
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
        apiUserId !== undefined && Number(field < 0 ? undefined : fields.value(field)) === apiUserId;
      line += own ? ownQueryTrue : ownQueryFalse;
    }
    return line + tail;
  };

  /** A row JSON.parse reads: the reference path, for every row the scan leaves to it. */
  const fromParsed = (row: Record<string, unknown>): ConvertedRow => {
    const picked = pick.map((name) => row[name]);
    try {
      return { line: toLine(row), badReason: undefined, picked };
    } catch (error) {
      if (!(error instanceof BadRowError)) throw error;
      return { line: quarantineLine(row, error.message), badReason: error.message, picked };
    }
  };

  return (json, index) => {
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
}
