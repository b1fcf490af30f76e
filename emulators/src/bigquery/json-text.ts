// A small JSON parser that keeps each number's source text. JSON.parse cannot be used for load validation: it turns
// 9007199254740993 into 9007199254740992 (BigQuery keeps int64 exactly) and cannot tell `1` from `1.0`.

/** A JSON number, exactly as written. */
export class JsonNumber {
  constructor(readonly text: string) {}

  isInteger(): boolean {
    return /^-?\d+$/.test(this.text);
  }
}

export type JsonValue = null | boolean | string | JsonNumber | JsonValue[] | JsonObject;
export type JsonObject = { [key: string]: JsonValue };

export class JsonSyntaxError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const WHITESPACE = /[ \t\r\n]*/y;

export function parseJsonText(text: string): JsonValue {
  const parser = new Parser(text);
  const value = parser.value();
  parser.skipWhitespace();
  if (!parser.atEnd()) throw new JsonSyntaxError('Unexpected data after the JSON value', parser.position);
  return value;
}

class Parser {
  position = 0;

  constructor(private readonly text: string) {}

  atEnd(): boolean {
    return this.position >= this.text.length;
  }

  skipWhitespace(): void {
    WHITESPACE.lastIndex = this.position;
    WHITESPACE.exec(this.text);
    this.position = WHITESPACE.lastIndex;
  }

  value(): JsonValue {
    this.skipWhitespace();
    const char = this.text[this.position];
    switch (char) {
      case '{':
        return this.object();
      case '[':
        return this.array();
      case '"':
        return this.string();
      case 't':
        return this.literal('true', true);
      case 'f':
        return this.literal('false', false);
      case 'n':
        return this.literal('null', null);
      default:
        return this.number();
    }
  }

  private fail(message: string): never {
    throw new JsonSyntaxError(message, this.position);
  }

  private literal<T>(word: string, value: T): T {
    if (!this.text.startsWith(word, this.position)) this.fail('Invalid literal');
    this.position += word.length;
    return value;
  }

  private number(): JsonNumber {
    NUMBER.lastIndex = this.position;
    const match = NUMBER.exec(this.text);
    if (!match)
      this.fail(
        this.atEnd() ? 'Unexpected end of input' : `Unexpected character '${this.text[this.position]}'`,
      );
    this.position = NUMBER.lastIndex;
    return new JsonNumber(match[0]);
  }

  private string(): string {
    const start = this.position;
    let index = start + 1;
    for (;;) {
      const quote = this.text.indexOf('"', index);
      if (quote < 0) {
        this.position = this.text.length;
        this.fail('Unterminated string');
      }
      // The quote is escaped when an odd number of backslashes precede it.
      let backslashes = 0;
      while (this.text[quote - 1 - backslashes] === '\\') backslashes++;
      if (backslashes % 2 === 0) {
        this.position = quote + 1;
        const raw = this.text.slice(start, quote + 1);
        // Fast path only for strings with no escape sequence at all (\uXXXX, \t, ... need decoding).
        if (!raw.includes('\\') && !/[\u0000-\u001f]/.test(raw)) return raw.slice(1, -1);
        try {
          return JSON.parse(raw) as string;
        } catch {
          this.position = start;
          this.fail('Invalid string');
        }
      }
      index = quote + 1;
    }
  }

  private array(): JsonValue[] {
    this.position++;
    const items: JsonValue[] = [];
    this.skipWhitespace();
    if (this.text[this.position] === ']') {
      this.position++;
      return items;
    }
    for (;;) {
      items.push(this.value());
      this.skipWhitespace();
      const char = this.text[this.position++];
      if (char === ']') return items;
      if (char !== ',') this.fail("Expected ',' or ']'");
    }
  }

  private object(): JsonObject {
    this.position++;
    const object: JsonObject = Object.create(null);
    this.skipWhitespace();
    if (this.text[this.position] === '}') {
      this.position++;
      return object;
    }
    for (;;) {
      this.skipWhitespace();
      if (this.text[this.position] !== '"') this.fail('Expected a field name');
      const key = this.string();
      this.skipWhitespace();
      if (this.text[this.position++] !== ':') this.fail("Expected ':'");
      object[key] = this.value();
      this.skipWhitespace();
      const char = this.text[this.position++];
      if (char === '}') return object;
      if (char !== ',') this.fail("Expected ',' or '}'");
    }
  }
}

/** Compact text of a JSON value for error messages (numbers as written). */
export function jsonValueText(value: JsonValue): string {
  if (value instanceof JsonNumber) return value.text;
  if (value === null) return 'null';
  if (typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(jsonValueText).join(',')}]`;
  return `{${Object.entries(value)
    .map(([k, v]) => `${JSON.stringify(k)}:${jsonValueText(v)}`)
    .join(',')}}`;
}
