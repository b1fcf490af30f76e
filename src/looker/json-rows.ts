// Reads Looker's `json` result format — one JSON array of flat objects — incrementally from byte chunks, so a
// response of any size is parsed in flat memory. The scanner only finds where each top-level object starts and
// ends (tracking strings and escapes); each object is then parsed alone with JSON.parse. It never trusts that
// the body is complete: a missing `]` is an error, not a short page.

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
          objectStart = i;
        }
        this.depth++;
      } else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
        if (this.depth === 0) this.unexpected(chunk, i);
        this.depth--;
        if (this.depth === 1 && byte === CLOSE_BRACE) {
          const piece = chunk.subarray(objectStart, i + 1);
          const text =
            this.partial.length > 0
              ? Buffer.concat([...this.partial, piece]).toString('utf8')
              : piece.toString('utf8');
          this.partial = [];
          objectStart = -1;
          this.rowsRead++;
          onRow(text);
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
