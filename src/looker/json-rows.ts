// Reads Looker's `json` result format — one JSON array of flat objects — incrementally from byte chunks, so a
// response of any size is parsed in flat memory. The scanner only finds where each top-level object starts and
// ends (tracking strings and escapes); each object is then handed on as its bytes (`pushBytes`, which may first
// offer it to a caller that finds its end itself) or its text (`push`). It never trusts that the body is
// complete: a missing `]` is an error, not a short page.

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

export class JsonRowsError extends Error {
  constructor(
    message: string,
    /** The body ended early (a dropped connection), as opposed to a complete body that is not valid. */
    readonly truncated = false,
  ) {
    super(message);
    this.name = 'JsonRowsError';
  }
}

/**
 * Offered each row whose `{` is at `bytes[start]` before the reader looks for its end: takes the row (returns
 * where it ends, after its `}`, before `limit`) or leaves it (-1) to come whole to `onRow`. A row taken must be
 * one complete JSON object, as the reader would have found it.
 */
export type RowAt = (bytes: Buffer, start: number, limit: number) => number;

export class JsonArrayRowReader {
  private depth = 0;
  private inString = false;
  private escaped = false;
  private started = false;
  private closed = false;
  /** Pieces of the object in progress when it spans chunks. */
  private partial: Buffer[] = [];
  private rowsRead = 0;
  private leading = '';

  get rows(): number {
    return this.rowsRead;
  }

  /** Feeds one chunk; calls `onRow` with each complete object's JSON text. */
  push(chunk: Buffer, onRow: (json: string) => void): void {
    this.pushBytes(chunk, (bytes, start, end) => onRow(bytes.toString('utf8', start, end)));
  }

  /**
   * Feeds one chunk; calls `onRow` with each complete object's bytes, `bytes[start, end)`: a view of the chunk, or
   * of a copy when the object spans chunks. The bytes are only valid during the call.
   */
  pushBytes(
    chunk: Buffer,
    onRow: (bytes: Buffer, start: number, end: number) => void,
    onRowAt?: RowAt,
  ): void {
    let objectStart = this.depth >= 2 ? 0 : -1;
    const length = chunk.length;
    // Where the next backslash is, searched once and reused until passed: most strings have none.
    let nextBackslash = -1;
    for (let i = 0; i < length; i++) {
      if (this.inString) {
        // Jump to the string's closing quote with indexOf (native) instead of looking at each byte: a row is
        // mostly field names and text. A backslash before that quote escapes the byte after it.
        if (this.escaped) {
          this.escaped = false;
          continue;
        }
        const quote = chunk.indexOf(QUOTE, i);
        if (nextBackslash < i && nextBackslash !== length) {
          nextBackslash = chunk.indexOf(BACKSLASH, i);
          if (nextBackslash < 0) nextBackslash = length;
        }
        if (nextBackslash < length && (quote < 0 || nextBackslash < quote)) {
          this.escaped = true;
          i = nextBackslash;
        } else if (quote < 0) {
          i = length;
        } else {
          this.inString = false;
          i = quote;
        }
        continue;
      }
      const byte = chunk[i]!;
      if (byte === QUOTE) {
        if (this.depth < 2) this.unexpected(chunk, i);
        this.inString = true;
      } else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
        if (!this.started) {
          if (byte !== OPEN_BRACKET) this.unexpected(chunk, i);
          this.started = true;
        } else if (this.closed) {
          this.unexpected(chunk, i);
        } else if (this.depth === 1) {
          if (byte !== OPEN_BRACE) this.unexpected(chunk, i);
          if (onRowAt) {
            // The row is offered whole first: when taken, its end is known without reading it twice.
            this.rowsRead++;
            const end = onRowAt(chunk, i, length);
            if (end >= 0) {
              i = end - 1;
              continue;
            }
            this.rowsRead--;
          }
          objectStart = i;
        }
        this.depth++;
      } else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
        if (this.depth === 0) this.unexpected(chunk, i);
        this.depth--;
        if (this.depth === 1 && byte === CLOSE_BRACE) {
          const start = objectStart;
          objectStart = -1;
          this.rowsRead++;
          if (this.partial.length > 0) {
            const whole = Buffer.concat([...this.partial, chunk.subarray(start, i + 1)]);
            this.partial = [];
            onRow(whole, 0, whole.length);
          } else {
            onRow(chunk, start, i + 1);
          }
        } else if (this.depth === 0) {
          this.closed = true;
        }
      } else if (
        this.depth <= 1 &&
        byte !== 0x2c &&
        byte !== 0x20 &&
        byte !== 0x0a &&
        byte !== 0x0d &&
        byte !== 0x09
      ) {
        this.unexpected(chunk, i);
      }
    }
    if (this.depth >= 2 && objectStart >= 0) this.partial.push(chunk.subarray(objectStart));
  }

  /** Call at end of body: throws unless the array was complete. */
  finish(): void {
    if (!this.started) throw new JsonRowsError('the response body is empty, not a JSON array', true);
    if (!this.closed) {
      throw new JsonRowsError(
        `the response body ended before the JSON array was closed (after ${this.rowsRead} rows)`,
        true,
      );
    }
  }

  private unexpected(chunk: Buffer, at: number): never {
    const around = chunk.toString('utf8', Math.max(0, at - 20), Math.min(chunk.length, at + 40));
    if (!this.started) {
      this.leading += around;
      throw new JsonRowsError(
        `the response is not a JSON array of rows: ${JSON.stringify(this.leading.slice(0, 200))}`,
      );
    }
    throw new JsonRowsError(`invalid JSON after row ${this.rowsRead}: ${JSON.stringify(around)}`);
  }
}

/** Parses one row's JSON text; invalid JSON names the row. */
export function parseRow(json: string, index: number): Record<string, unknown> {
  let row: unknown;
  try {
    row = JSON.parse(json);
  } catch (error) {
    const snippet = json.length > 120 ? `${json.slice(0, 117)}...` : json;
    throw new JsonRowsError(`row ${index + 1} is not valid JSON (${(error as Error).message}): ${snippet}`);
  }
  if (row === null || typeof row !== 'object' || Array.isArray(row)) {
    throw new JsonRowsError(`row ${index + 1} is not a JSON object`);
  }
  return row as Record<string, unknown>;
}

// ------------------------------------------------------------------------------------- one row's fields as text

/** How a field's value is written in the row's JSON text. */
export const ValueKind = {
  Null: 0,
  True: 1,
  False: 2,
  /** A number without fraction or exponent: `-?(0|[1-9][0-9]*)`. */
  Integer: 3,
  /** Any other valid JSON number. */
  Number: 4,
  /** A string with no escape and no control character: its text between the quotes is its value. */
  PlainString: 5,
  /** A string with escapes, already decoded (see `decodedString`). */
  EscapedString: 6,
} as const;
export type ValueKind = (typeof ValueKind)[keyof typeof ValueKind];

type LiteralKind = typeof ValueKind.Null | typeof ValueKind.True | typeof ValueKind.False;

/**
 * The JSON literal (`null`, `true`, `false`) whose first byte is at `i`, as its kind, or -1 when none starts there.
 * It takes `literalLength(kind)` bytes.
 */
export function literalAt(bytes: Uint8Array, i: number): LiteralKind | -1 {
  switch (bytes[i]) {
    case 0x6e: // n
      return bytes[i + 1] === 0x75 && bytes[i + 2] === 0x6c && bytes[i + 3] === 0x6c ? ValueKind.Null : -1;
    case 0x74: // t
      return bytes[i + 1] === 0x72 && bytes[i + 2] === 0x75 && bytes[i + 3] === 0x65 ? ValueKind.True : -1;
    case 0x66: // f
      return bytes[i + 1] === 0x61 && bytes[i + 2] === 0x6c && bytes[i + 3] === 0x73 && bytes[i + 4] === 0x65
        ? ValueKind.False
        : -1;
    default:
      return -1;
  }
}

/** Bytes of a JSON literal: `false` 5, `null` and `true` 4. */
export function literalLength(kind: LiteralKind): number {
  return kind === ValueKind.False ? 5 : 4;
}

const NUMBER_AT = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const CONTROL_CHARACTER = /[\u0000-\u001f]/;

/**
 * Finds the fields of one row's JSON text (a flat object of strings, numbers, booleans and nulls) without parsing
 * it into an object: where each key and value is, and what kind the value is. Reused from row to row (typed
 * arrays, no allocation per field). Anything outside that subset (a nested value, an escaped key, text that is
 * not valid JSON) makes `scan` return false: the caller then parses the row with JSON.parse, which decides.
 * Every string is checked as JSON.parse would (escapes decoded once, no raw control character), so a row this
 * accepts is always one JSON.parse accepts.
 */
export class FlatRowFields {
  /** Fields found by the last successful `scan`. */
  count = 0;
  text = '';
  keyStart = new Int32Array(64);
  keyEnd = new Int32Array(64);
  /** Value text [start, end): a string's includes its quotes. */
  valueStart = new Int32Array(64);
  valueEnd = new Int32Array(64);
  kind = new Uint8Array(64);
  private decoded: string[] = [];

  /** The value of an EscapedString field. */
  decodedString(field: number): string {
    return this.decoded[field]!;
  }

  /** The field's value as JSON.parse gives it. */
  value(field: number): unknown {
    const text = this.text;
    switch (this.kind[field]) {
      case ValueKind.Null:
        return null;
      case ValueKind.True:
        return true;
      case ValueKind.False:
        return false;
      case ValueKind.Integer:
      case ValueKind.Number:
        return Number(text.slice(this.valueStart[field], this.valueEnd[field]));
      case ValueKind.PlainString:
        return text.slice(this.valueStart[field]! + 1, this.valueEnd[field]! - 1);
      default:
        return this.decoded[field];
    }
  }

  /** Whether field `field`'s key is `name` (compared in place, no substring). */
  keyIs(field: number, name: string): boolean {
    const start = this.keyStart[field]!;
    return this.keyEnd[field]! - start === name.length && this.text.startsWith(name, start);
  }

  key(field: number): string {
    return this.text.slice(this.keyStart[field], this.keyEnd[field]);
  }

  /** Scans one row's text (`{...}`, as JsonArrayRowReader hands it). False when the row is outside the subset. */
  scan(text: string): boolean {
    this.text = text;
    this.count = 0;
    const length = text.length;
    // A raw control character is only valid between tokens (whitespace); when the row has one, every string is
    // checked for it, else none needs to be. Likewise escapes: most rows have no backslash at all.
    const controls = CONTROL_CHARACTER.test(text);
    let nextBackslash = text.indexOf('\\');
    if (text.charCodeAt(0) !== OPEN_BRACE || text.charCodeAt(length - 1) !== CLOSE_BRACE) return false;
    let i = skipSpace(text, 1);
    if (text.charCodeAt(i) === CLOSE_BRACE) return i === length - 1;
    for (let field = 0; ; field++) {
      if (field === this.keyStart.length) this.grow();
      // The key: a string without escapes.
      if (text.charCodeAt(i) !== QUOTE) return false;
      const keyEnd = text.indexOf('"', i + 1);
      if (keyEnd < 0 || (nextBackslash >= 0 && nextBackslash < keyEnd)) return false;
      if (controls && CONTROL_CHARACTER.test(text.slice(i + 1, keyEnd))) return false;
      this.keyStart[field] = i + 1;
      this.keyEnd[field] = keyEnd;
      i = skipSpace(text, keyEnd + 1);
      if (text.charCodeAt(i) !== 0x3a) return false; // ':'
      i = skipSpace(text, i + 1);
      const start = i;
      const c = text.charCodeAt(i);
      let kind: ValueKind;
      if (c === QUOTE) {
        let from = i + 1;
        let end: number;
        let escaped = false;
        for (;;) {
          end = text.indexOf('"', from);
          if (end < 0) return false;
          if (nextBackslash < 0 || nextBackslash > end) break;
          // A backslash before this quote: skip the escape (it may be the quote itself) and look again.
          escaped = true;
          from = nextBackslash + 2;
          nextBackslash = text.indexOf('\\', from);
        }
        i = end + 1;
        if (escaped) {
          // Decoded now, so invalid escapes and raw control characters are refused here, as JSON.parse would.
          try {
            this.decoded[field] = JSON.parse(text.slice(start, i)) as string;
          } catch {
            return false;
          }
          kind = ValueKind.EscapedString;
        } else {
          if (controls && CONTROL_CHARACTER.test(text.slice(start + 1, end))) return false;
          kind = ValueKind.PlainString;
        }
      } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
        NUMBER_AT.lastIndex = i;
        if (!NUMBER_AT.test(text)) return false;
        const end = NUMBER_AT.lastIndex;
        kind = ValueKind.Integer;
        for (let j = i + 1; j < end; j++) {
          const d = text.charCodeAt(j);
          if (d === 0x2e || d === 0x65 || d === 0x45) {
            kind = ValueKind.Number;
            break;
          }
        }
        i = end;
      } else if (c === 0x6e && text.startsWith('null', i)) {
        kind = ValueKind.Null;
        i += 4;
      } else if (c === 0x74 && text.startsWith('true', i)) {
        kind = ValueKind.True;
        i += 4;
      } else if (c === 0x66 && text.startsWith('false', i)) {
        kind = ValueKind.False;
        i += 5;
      } else {
        return false; // a nested object or array, or not JSON: JSON.parse decides
      }
      this.valueStart[field] = start;
      this.valueEnd[field] = i;
      this.kind[field] = kind;
      i = skipSpace(text, i);
      const after = text.charCodeAt(i);
      if (after === CLOSE_BRACE) {
        if (i !== length - 1) return false;
        this.count = field + 1;
        return true;
      }
      if (after !== 0x2c) return false; // ','
      i = skipSpace(text, i + 1);
    }
  }

  private grow(): void {
    const size = this.keyStart.length * 2;
    const grown = (from: Int32Array) => {
      const to = new Int32Array(size);
      to.set(from);
      return to;
    };
    this.keyStart = grown(this.keyStart);
    this.keyEnd = grown(this.keyEnd);
    this.valueStart = grown(this.valueStart);
    this.valueEnd = grown(this.valueEnd);
    const kind = new Uint8Array(size);
    kind.set(this.kind);
    this.kind = kind;
  }
}

function skipSpace(text: string, at: number): number {
  let i = at;
  for (;;) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return i;
    i++;
  }
}

// ------------------------------------------------------------------------------------ one row's fields as bytes

const EMPTY = Buffer.alloc(0);

function isDigit(byte: number | undefined): boolean {
  return byte !== undefined && byte >= 0x30 && byte <= 0x39;
}

/**
 * `FlatRowFields` on the row's bytes, for the common row only: a flat object whose keys and string values are
 * printable ASCII without escapes (bytes 0x20–0x7e but `"` and `\`), and numbers, booleans and nulls. Such a row
 * decodes to the same text as its bytes, so a value's bytes can be copied to the line as they are. Anything else
 * (an escape, a control character, a byte of a multi-byte character, a nested value, text that is not JSON)
 * makes `scan` return false: the caller then decodes the row and takes the text path, which decides as before.
 */
export class FlatRowBytes {
  count = 0;
  bytes: Buffer = EMPTY;
  keyStart = new Int32Array(64);
  keyEnd = new Int32Array(64);
  /** Value bytes [start, end): a string's include its quotes. */
  valueStart = new Int32Array(64);
  valueEnd = new Int32Array(64);
  kind = new Uint8Array(64);
  /** A number's text has an exponent (`e` or `E`). */
  exponent = new Uint8Array(64);

  /** Whether field `field`'s key is the ASCII `name` (its bytes, compared in place). */
  keyIs(field: number, name: Uint8Array): boolean {
    const start = this.keyStart[field]!;
    if (this.keyEnd[field]! - start !== name.length) return false;
    const bytes = this.bytes;
    for (let k = 0; k < name.length; k++) if (bytes[start + k] !== name[k]) return false;
    return true;
  }

  key(field: number): string {
    return this.bytes.toString('latin1', this.keyStart[field], this.keyEnd[field]);
  }

  /** The field's value as JSON.parse gives it (every byte is ASCII: latin1 is its UTF-8). */
  value(field: number): unknown {
    switch (this.kind[field]) {
      case ValueKind.Null:
        return null;
      case ValueKind.True:
        return true;
      case ValueKind.False:
        return false;
      case ValueKind.PlainString:
        return this.bytes.toString('latin1', this.valueStart[field]! + 1, this.valueEnd[field]! - 1);
      default:
        return Number(this.bytes.toString('latin1', this.valueStart[field], this.valueEnd[field]));
    }
  }

  /** Scans `bytes[start, end)` (`{...}`, as JsonArrayRowReader hands it). False when outside the subset. */
  scan(bytes: Buffer, start: number, end: number): boolean {
    this.bytes = bytes;
    this.count = 0;
    // bytes[end - 1] is '}', which no loop below runs past.
    if (end - start < 2 || bytes[start] !== OPEN_BRACE || bytes[end - 1] !== CLOSE_BRACE) return false;
    let i = skipSpaceBytes(bytes, start + 1);
    if (bytes[i] === CLOSE_BRACE) return i === end - 1;
    for (let field = 0; ; field++) {
      if (field === this.keyStart.length) this.grow();
      if (bytes[i] !== QUOTE) return false;
      const keyEnd = plainStringEnd(bytes, i + 1, end);
      if (keyEnd < 0) return false;
      this.keyStart[field] = i + 1;
      this.keyEnd[field] = keyEnd;
      i = skipSpaceBytes(bytes, keyEnd + 1);
      if (bytes[i] !== 0x3a) return false; // ':'
      i = skipSpaceBytes(bytes, i + 1);
      const valueStart = i;
      const c = bytes[i]!;
      let kind: ValueKind;
      let exponent = 0;
      if (c === QUOTE) {
        const close = plainStringEnd(bytes, i + 1, end);
        if (close < 0) return false;
        kind = ValueKind.PlainString;
        i = close + 1;
      } else if (c === 0x2d || isDigit(c)) {
        // JSON's number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
        if (c === 0x2d) i++;
        if (bytes[i] === 0x30) i++;
        else if (isDigit(bytes[i])) while (isDigit(bytes[i])) i++;
        else return false;
        kind = ValueKind.Integer;
        if (bytes[i] === 0x2e) {
          i++;
          if (!isDigit(bytes[i])) return false;
          while (isDigit(bytes[i])) i++;
          kind = ValueKind.Number;
        }
        if (bytes[i] === 0x65 || bytes[i] === 0x45) {
          i++;
          if (bytes[i] === 0x2b || bytes[i] === 0x2d) i++;
          if (!isDigit(bytes[i])) return false;
          while (isDigit(bytes[i])) i++;
          kind = ValueKind.Number;
          exponent = 1;
        }
      } else {
        const literal = literalAt(bytes, i);
        if (literal === -1) return false; // a nested object or array, or not JSON: the text path decides
        kind = literal;
        i += literalLength(literal);
      }
      this.valueStart[field] = valueStart;
      this.valueEnd[field] = i;
      this.kind[field] = kind;
      this.exponent[field] = exponent;
      i = skipSpaceBytes(bytes, i);
      const after = bytes[i];
      if (after === CLOSE_BRACE) {
        if (i !== end - 1) return false;
        this.count = field + 1;
        return true;
      }
      if (after !== 0x2c) return false; // ','
      i = skipSpaceBytes(bytes, i + 1);
    }
  }

  private grow(): void {
    const size = this.keyStart.length * 2;
    const grown = <T extends Int32Array | Uint8Array>(from: T, to: T): T => {
      to.set(from);
      return to;
    };
    this.keyStart = grown(this.keyStart, new Int32Array(size));
    this.keyEnd = grown(this.keyEnd, new Int32Array(size));
    this.valueStart = grown(this.valueStart, new Int32Array(size));
    this.valueEnd = grown(this.valueEnd, new Int32Array(size));
    this.kind = grown(this.kind, new Uint8Array(size));
    this.exponent = grown(this.exponent, new Uint8Array(size));
  }
}

/** Where the string whose text starts at `from` closes, or -1 when a byte in it is not printable ASCII (an escape,
 * a control character, a multi-byte character) or it does not close before `end`. */
function plainStringEnd(bytes: Buffer, from: number, end: number): number {
  for (let j = from; j < end; j++) {
    const byte = bytes[j]!;
    if (byte === QUOTE) return j;
    if (byte < 0x20 || byte === BACKSLASH || byte > 0x7e) return -1;
  }
  return -1;
}

function skipSpaceBytes(bytes: Buffer, at: number): number {
  let i = at;
  for (;;) {
    const c = bytes[i];
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return i;
    i++;
  }
}
