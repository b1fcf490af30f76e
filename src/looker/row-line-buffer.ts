// Where the byte paths of a row converter (rows.ts) write lines: buffers handed on to the spool as they are, and
// the copies that fill them, constant parts four bytes a step.

/** One row's line as bytes (see `RowConverter.fromBytes`). */
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

/** Bytes of lines written into one buffer before taking the next: the spool hands them to gzip as views, so a
 * buffer lives until its last line is compressed. */
const LINE_BUFFER_BYTES = 256 * 1024;

/** The buffer lines are written into, shared by a converter's byte paths: a line starts at `used`, and once handed
 * out (`used` moved past it) is never written again. Writers read `out` and `view` into locals after `reserve`. */
export class LineBuffer {
  out = Buffer.allocUnsafeSlow(LINE_BUFFER_BYTES);
  view = new DataView(this.out.buffer, this.out.byteOffset, this.out.length);
  used = 0;

  /** Room for `bytes` more: a fresh buffer when this one is full (lines already handed out are never rewritten). */
  reserve(bytes: number): void {
    if (this.used + bytes <= this.out.length) return;
    this.out = Buffer.allocUnsafeSlow(Math.max(LINE_BUFFER_BYTES, bytes));
    this.view = new DataView(this.out.buffer, this.out.byteOffset, this.out.length);
    this.used = 0;
  }
}

/** Constant bytes as little-endian 32-bit words and the 0–3 bytes after the last whole one. */
export interface Words {
  length: number;
  words: Uint32Array;
  rest: Uint8Array;
}

export function wordsOf(bytes: Uint8Array): Words {
  const whole = bytes.length >> 2;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const words = new Uint32Array(whole);
  for (let k = 0; k < whole; k++) words[k] = view.getUint32(4 * k, true);
  return { length: bytes.length, words, rest: bytes.slice(4 * whole) };
}

/** Writes `constant` at `at` (room reserved), four bytes a step; returns where it ends. */
export function writeWords(to: DataView, at: number, constant: Words): number {
  let o = at;
  const { words, rest } = constant;
  for (let k = 0; k < words.length; k++, o += 4) to.setUint32(o, words[k]!, true);
  for (let k = 0; k < rest.length; k++) to.setUint8(o++, rest[k]!);
  return o;
}

/** Copies `from[start, end)` to `to[at]` four bytes a step (room reserved); returns where it ends. */
export function copyWords(from: DataView, start: number, end: number, to: DataView, at: number): number {
  let k = start;
  let o = at;
  for (; k + 4 <= end; k += 4, o += 4) to.setUint32(o, from.getUint32(k, true), true);
  for (; k < end; k++) to.setUint8(o++, from.getUint8(k));
  return o;
}

/** Whether the bytes at `at` (all within the view) are `constant`, compared four at a time. */
export function sameWords(view: DataView, at: number, constant: Words): boolean {
  let o = at;
  const { words, rest } = constant;
  for (let k = 0; k < words.length; k++, o += 4) if (view.getUint32(o, true) !== words[k]) return false;
  for (let k = 0; k < rest.length; k++) if (view.getUint8(o++) !== rest[k]) return false;
  return true;
}

/** Copies `from[start, end)` to `to[at]`, returning where it ends: a loop, cheaper than a native call for the few
 * bytes of a value. */
export function copyBytes(from: Uint8Array, start: number, end: number, to: Uint8Array, at: number): number {
  let o = at;
  for (let k = start; k < end; k++) to[o++] = from[k]!;
  return o;
}
