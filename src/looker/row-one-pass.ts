import { isUtf8 } from 'node:buffer';
import { literalAt, literalLength, ValueKind } from './json-rows.ts';
import {
  allZeroDigits,
  BACKSLASH_BYTE,
  CLOSE_BRACE_BYTE,
  FALSE_BYTES,
  fieldValue,
  isDateBytes,
  isDateTimeBytes,
  NULL_BYTES,
  QUOTE_BYTE,
  TRUE_BYTES,
  WIDE_STRING,
  writeZonedDateTime,
  yesNo,
} from './row-byte-values.ts';
import {
  copyBytes,
  copyWords,
  type LineBuffer,
  type RowLine,
  sameWords,
  type Words,
  wordsOf,
  writeWords,
} from './row-line-buffer.ts';
import { bytesOf, type CompiledExport } from './row-plan.ts';
import { HASH_MEMO_SIZE, jsonText } from './row-values.ts';

// The one pass of a row converter (rows.ts): the common row found and turned into its line before its end is
// known, its fields in the order asked, each value copied as it is checked. The common row: the fields asked, in
// order, no escape or control character in a string, any byte beyond ASCII valid UTF-8, every value one BigQuery
// takes as it is (or a yes/no, a masked string, a datetime of another zone). Any other row is refused, nothing
// written, and left to the byte path once its end is known. Its lines are the byte path's, byte for byte.

/** Rows up to this long are tried in one pass; longer ones are found first, then scanned. */
const ONE_STEP_ROW_BYTES = 16 * 1024;

export interface OnePass {
  /**
   * The common row whose `{` is at `bytes[start]`: its line and where the row ends (after `}`), or undefined for
   * any other row (or one that runs past `limit`), which then goes to the byte path once its end is known.
   */
  rowAt(bytes: Buffer, start: number, limit: number): { line: RowLine; end: number } | undefined;
  /** The whole row `bytes[start, end)` in one pass, or undefined when it is not the common row (not tried again
   * when it is the row `rowAt` refused last). Throws when the row found does not end at `end`. */
  wholeRow(bytes: Buffer, start: number, end: number): RowLine | undefined;
}

export function onePass(compiled: CompiledExport, lines: LineBuffer): OnePass {
  // Consts of this closure, not properties of `compiled`: the loops below read them per field and per byte.
  const { plans, queryFields, pick, zone, utc, apiUserId, ownQueryField, mostAddedBytes, fieldUses } =
    compiled;
  /** Per query field (Looker's order): its plan (-1: a field no column reads, the own-query user's), the dropped
   * plans written just before it, and where its value goes in `picked` (-1: nowhere). */
  const fieldPlan = queryFields.map((name) =>
    plans.findIndex((plan) => !plan.dropped && plan.field.field === name),
  );
  // A field no column reads (the own-query user's, asked last) writes nothing: the dropped plans after the last
  // column read are written after the row's fields (droppedAfter), once.
  const droppedBefore = queryFields.map((_, f) => {
    if (fieldPlan[f]! < 0) return 0;
    const from = f === 0 ? 0 : fieldPlan[f - 1]! + 1;
    return plans.slice(from, fieldPlan[f]!).filter((plan) => plan.dropped).length;
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
    plan.dropped ? bytesOf(`${plan.prefix}null`) : compiled.prefixBytes[p]!,
  );
  const ownQueryField_ = ownQueryField ? queryFields.indexOf(ownQueryField) : -1;
  const valueStarts = new Int32Array(queryFields.length);
  const valueEnds = new Int32Array(queryFields.length);
  const valueKinds = new Uint8Array(queryFields.length);
  let lineAtResult: RowLine | undefined;
  // The constant parts of a line, and the keys asked, as words: written and compared four bytes at a time.
  const headWords = wordsOf(compiled.headBytes);
  const tailWords = wordsOf(compiled.tailBytes);
  const prefixWords = compiled.prefixBytes.map(wordsOf);
  const droppedWords = droppedPrefixes.map(wordsOf);
  const wantedWords = compiled.wantedBytes.map(wordsOf);
  const ownQueryTrueWords = wordsOf(compiled.ownQueryTrueBytes);
  const ownQueryFalseWords = wordsOf(compiled.ownQueryFalseBytes);
  const maskedWords = plans.map((plan) =>
    plan.mask && plan.field.bigqueryType === 'STRING' ? new Map<string, Words>() : undefined,
  );
  /** A view of the last row's buffer (one per chunk). */
  let viewed: Buffer | undefined;
  let view: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));

  /**
   * The row whose `{` is at `bytes[start]`, when it is the common row: its line is written at `lines.used` in the
   * same pass that finds its end; returns that end (after `}`), its line in `lineAtResult`. -1 for any other row
   * (nothing handed out): the byte path decides. `limit` bounds the search (the chunk's end).
   */
  const lineAt = (bytes: Buffer, start: number, limit: number): number => {
    const dst = lines.out; // locals: the loops below read them per byte
    const dstView = lines.view;
    const used = lines.used;
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
      } else {
        const literal = literalAt(bytes, i);
        if (literal === -1) return -1;
        kind = literal;
        i += literalLength(literal);
      }
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
            w = writeZonedDateTime(plan, zone, bytes, valueStart, i, dst, valueOut);
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
        apiUserId !== undefined &&
        Number(fieldValue(bytes, valueStarts[f]!, valueEnds[f]!, valueKinds[f]!)) === apiUserId;
      o = writeWords(dstView, o, own ? ownQueryTrueWords : ownQueryFalseWords);
    }
    o = writeWords(dstView, o, tailWords);
    const picked = new Array<unknown>(pick.length).fill(undefined);
    for (let f = 0; f < queryFields.length; f++) {
      const k = pickOfField[f]!;
      if (k >= 0) picked[k] = fieldValue(bytes, valueStarts[f]!, valueEnds[f]!, valueKinds[f]!);
    }
    lineAtResult = { bytes: dst, start: used, end: o, badReason: undefined, picked };
    lines.used = o;
    return i + 1;
  };

  /** The common row in one pass (see lineAt), with room reserved for a row of up to `limit - start` bytes. */
  const tryLineAt = (bytes: Buffer, start: number, limit: number): RowLine | undefined => {
    if (!oneStep) return undefined;
    // A row longer than this is left to the scan, so the room reserved stays small whatever the chunk's size.
    const bound = Math.min(limit, start + ONE_STEP_ROW_BYTES);
    lines.reserve(mostAddedBytes + 64 + (bound - start) * fieldUses);
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
  /** The row rowAt refused last: when it comes whole to the byte path, it is not tried in one pass again. */
  let refusedBytes: Buffer | undefined;
  let refusedStart = -1;

  return {
    rowAt(bytes, start, limit) {
      const line = tryLineAt(bytes, start, limit);
      return line ? { line, end: lastRowEnd } : undefined;
    },
    wholeRow(bytes, start, end) {
      const line =
        bytes === refusedBytes && start === refusedStart ? undefined : tryLineAt(bytes, start, end);
      if (line && lastRowEnd === end) return line;
      if (line) throw new Error(`fromBytes: the row at ${start} ends at ${lastRowEnd}, not at ${end}`);
      return undefined;
    },
  };
}
