import { FlatRowBytes, ValueKind } from './json-rows.ts';
import {
  allZeroDigits,
  FALSE_BYTES,
  isDateBytes,
  isDateTimeBytes,
  NULL_BYTES,
  TRUE_BYTES,
  writeZonedDateTime,
  yesNo,
} from './row-byte-values.ts';
import { copyBytes, type LineBuffer, type RowLine } from './row-line-buffer.ts';
import type { OnePass } from './row-one-pass.ts';
import { bytesOf, type CompiledExport, placeFields } from './row-plan.ts';
import type { FromJson } from './row-text.ts';
import { HASH_MEMO_SIZE, jsonText } from './row-values.ts';

// The byte path of a row converter (rows.ts): the text path on a row's bytes, for the extract. The common row is
// taken by the one pass; a row it refuses but whose bytes are printable ASCII, in any order, is scanned
// (FlatRowBytes) and its line written as bytes, value bytes copied, never becoming a string. Any other row is
// decoded and goes to the text path. Its lines are the text path's, byte for byte.

/** `fromJson` on the row's bytes `bytes[start, end)` (valid only during the call): its line, newline included. */
export type FromBytes = (bytes: Buffer, start: number, end: number, index: number) => RowLine;

export function bytePath(
  compiled: CompiledExport,
  lines: LineBuffer,
  onePass: OnePass,
  fromJson: FromJson,
): FromBytes {
  // Consts of this closure, not properties of `compiled`: the loop below reads them per field.
  const { plans, zone, utc, apiUserId, ownQueryField, wanted, slotOf, planSlots, ownQuerySlot, pickSlots } =
    compiled;
  const { headBytes, tailBytes, prefixBytes, wantedBytes, ownQueryTrueBytes, ownQueryFalseBytes } = compiled;
  const { mostAddedBytes, fieldUses } = compiled;
  const { wholeRow } = onePass;
  const maskedBytes = plans.map((plan) =>
    plan.mask && plan.field.bigqueryType === 'STRING' ? new Map<string, Buffer>() : undefined,
  );
  const byteFields = new FlatRowBytes();
  const byteSlots = new Int32Array(wanted.length);

  /** The line of the scanned bytes written at `lines.used` (room reserved): where it ends, or -1 when the text
   * path must decide. */
  const bytesLine = (): number => {
    const out = lines.out; // a local: read per value
    placeFields(byteFields, wantedBytes, slotOf, byteSlots);
    const row = byteFields.bytes;
    let o = copyBytes(headBytes, 0, headBytes.length, out, lines.used);
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
      // Bytes BigQuery takes as they are: copied, in the cases where the text path copies the text.
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
              o = writeZonedDateTime(plan, zone, row, start, end, out, o);
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
      const own = apiUserId !== undefined && field >= 0 && Number(byteFields.value(field)) === apiUserId;
      const text = own ? ownQueryTrueBytes : ownQueryFalseBytes;
      o = copyBytes(text, 0, text.length, out, o);
    }
    return copyBytes(tailBytes, 0, tailBytes.length, out, o);
  };

  return (bytes, start, end, index) => {
    const line = wholeRow(bytes, start, end);
    if (line) return line;
    lines.reserve(mostAddedBytes + (end - start) * fieldUses);
    if (byteFields.scan(bytes, start, end)) {
      const lineEnd = bytesLine();
      if (lineEnd >= 0) {
        const picked = new Array<unknown>(pickSlots.length);
        for (let k = 0; k < pickSlots.length; k++) {
          const field = byteSlots[pickSlots[k]!]!;
          picked[k] = field < 0 ? undefined : byteFields.value(field);
        }
        const line: RowLine = {
          bytes: lines.out,
          start: lines.used,
          end: lineEnd,
          badReason: undefined,
          picked,
        };
        lines.used = lineEnd;
        return line;
      }
    }
    const converted = fromJson(bytes.toString('utf8', start, end), index);
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    lines.reserve(converted.line.length * 3 + 1);
    const out = lines.out;
    const lineStart = lines.used;
    let used = lineStart + out.write(converted.line, lineStart, 'utf8');
    out[used++] = 0x0a;
    lines.used = used;
    return {
      bytes: out,
      start: lineStart,
      end: used,
      badReason: converted.badReason,
      picked: converted.picked,
    };
  };
}
