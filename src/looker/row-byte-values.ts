import { ValueKind } from './json-rows.ts';
import type { ColumnPlan } from './row-plan.ts';
import { BadRowError } from './row-values.ts';

// A value's bytes as the byte paths of a row converter (rows.ts) read them: the shapes they check in place
// (dates, datetimes, yes/no, zeros) without decoding, and the value JSON.parse would give.

export const NULL_BYTES = Buffer.from('null');
export const TRUE_BYTES = Buffer.from('true');
export const FALSE_BYTES = Buffer.from('false');
export const QUOTE_BYTE = 0x22;
export const BACKSLASH_BYTE = 0x5c;
export const CLOSE_BRACE_BYTE = 0x7d;

/** A string of the one pass with bytes beyond ASCII (valid UTF-8): copied, but decoded as UTF-8, not latin1. */
export const WIDE_STRING = 7 as const;

/** A value's JSON.parse value from its bytes (printable ASCII, where latin1 is UTF-8, or a WIDE_STRING). */
export function fieldValue(bytes: Buffer, start: number, end: number, kind: number): unknown {
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

/**
 * A datetime value `bytes[start, end)` (quotes included) of the system zone written at `to[at]` in UTC (room
 * reserved), as `valueText` writes it (the plan's converter, which remembers its last value): where it ends, or -1
 * when the converter refuses it.
 */
export function writeZonedDateTime(
  plan: ColumnPlan,
  zone: string,
  bytes: Buffer,
  start: number,
  end: number,
  to: Uint8Array,
  at: number,
): number {
  let value: unknown;
  try {
    value = plan.convert(bytes.toString('latin1', start + 1, end - 1), plan.field, zone);
  } catch (error) {
    if (error instanceof BadRowError) return -1;
    throw error;
  }
  const text = value as string;
  let o = at;
  to[o++] = QUOTE_BYTE;
  for (let k = 0; k < text.length; k++) to[o++] = text.charCodeAt(k);
  to[o++] = QUOTE_BYTE;
  return o;
}

export function allZeroDigits(bytes: Buffer, start: number, end: number): boolean {
  for (let k = start; k < end; k++) {
    const b = bytes[k]!;
    if (b >= 0x31 && b <= 0x39) return false;
  }
  return true;
}

/** True or False for yes/no/true/false in any case (as the BOOLEAN converter reads them), else Null. */
export function yesNo(bytes: Buffer, start: number, end: number): ValueKind {
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

/** The DATE converter's pattern on bytes: 2024-01-02. */
export function isDateBytes(bytes: Buffer, start: number, end: number): boolean {
  return (
    end - start === 10 &&
    digitsAt(bytes, start, 4) &&
    bytes[start + 4] === 0x2d &&
    digitsAt(bytes, start + 5, 2) &&
    bytes[start + 7] === 0x2d &&
    digitsAt(bytes, start + 8, 2)
  );
}

/** The datetime converters' pattern on bytes: 2024-01-02 03:04:05 (or T), then optionally . and 1 to 6 digits. */
export function isDateTimeBytes(bytes: Buffer, start: number, end: number): boolean {
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
