import { invalidQuery } from './errors.ts';

// A tokenizer for GoogleSQL, just precise enough to rewrite it for DuckDB without touching the insides of strings
// and comments. Notable GoogleSQL lexical rules it follows:
// - "…" is a STRING literal (not an identifier as in DuckDB); backticks quote identifiers, and `a.b.c` inside one
//   pair of backticks is a whole path.
// - Strings take backslash escapes, may be triple-quoted, raw (r'…') or bytes (b'…').
// - `#` starts a comment as well as `--`.

export type TokenKind =
  | 'word' // keyword or unquoted identifier
  | 'quoted' // backtick-quoted identifier (value: its text, may contain dots)
  | 'string' // string literal (value: decoded text)
  | 'bytes' // bytes literal (value: decoded text, latin1)
  | 'number'
  | 'param' // @name (value: name)
  | 'positional' // ?
  | 'punct';

export interface Token {
  kind: TokenKind;
  /** Source text. */
  text: string;
  /** Decoded value for quoted identifiers, strings, bytes and params. */
  value: string;
  /** Whether whitespace or a comment preceded the token (kept so `<` `<` is not glued into `<<`). */
  spaced: boolean;
  /** Upper-cased text, for keyword tests on words. */
  upper: string;
}

const WORD = /[A-Za-z_][A-Za-z0-9_]*/y;
const NUMBER = /(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)/y;
const TWO_CHAR_OPERATORS = new Set(['<=', '>=', '<>', '!=', '||', '=>', '->', '::']);

export function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let spaced = false;
  const push = (kind: TokenKind, text: string, value = text) => {
    tokens.push({ kind, text, value, spaced, upper: kind === 'word' ? text.toUpperCase() : text });
    spaced = false;
  };
  while (i < sql.length) {
    const char = sql[i]!;
    const next = sql[i + 1];
    if (/\s/.test(char)) {
      spaced = true;
      i++;
      continue;
    }
    if (char === '#' || (char === '-' && next === '-')) {
      const end = sql.indexOf('\n', i);
      i = end < 0 ? sql.length : end + 1;
      spaced = true;
      continue;
    }
    if (char === '/' && next === '*') {
      const end = sql.indexOf('*/', i + 2);
      if (end < 0) throw invalidQuery('Syntax error: Unclosed comment');
      i = end + 2;
      spaced = true;
      continue;
    }
    if (char === '`') {
      const end = sql.indexOf('`', i + 1);
      if (end < 0) throw invalidQuery('Syntax error: Unclosed identifier literal');
      push('quoted', sql.slice(i, end + 1), sql.slice(i + 1, end));
      i = end + 1;
      continue;
    }
    const literalPrefix = /^(?:[rR][bB]?|[bB][rR]?)?(?=['"])/.exec(sql.slice(i, i + 3));
    if (literalPrefix && (literalPrefix[0] !== '' || char === "'" || char === '"')) {
      const prefix = literalPrefix[0].toLowerCase();
      const start = i;
      const { value, end } = readString(sql, i + prefix.length, prefix.includes('r'));
      push(prefix.includes('b') ? 'bytes' : 'string', sql.slice(start, end), value);
      i = end;
      continue;
    }
    WORD.lastIndex = i;
    const word = WORD.exec(sql);
    if (word) {
      push('word', word[0]);
      i = WORD.lastIndex;
      continue;
    }
    NUMBER.lastIndex = i;
    const number = /[0-9.]/.test(char) ? NUMBER.exec(sql) : null;
    if (number) {
      push('number', number[0]);
      i = NUMBER.lastIndex;
      continue;
    }
    if (char === '@') {
      const name = /@@?([A-Za-z_][A-Za-z0-9_.]*)/y;
      name.lastIndex = i;
      const match = name.exec(sql);
      if (!match) throw invalidQuery(`Syntax error: Unexpected "@"`);
      push('param', match[0], match[1]);
      i = name.lastIndex;
      continue;
    }
    if (char === '?') {
      push('positional', '?');
      i++;
      continue;
    }
    const pair = sql.slice(i, i + 2);
    if (TWO_CHAR_OPERATORS.has(pair)) {
      push('punct', pair);
      i += 2;
      continue;
    }
    push('punct', char);
    i++;
  }
  return tokens;
}

const SIMPLE_ESCAPES: Record<string, string> = {
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  '\\': '\\',
  '?': '?',
  '"': '"',
  "'": "'",
  '`': '`',
};

function readString(sql: string, quoteStart: number, raw: boolean): { value: string; end: number } {
  const quoteChar = sql[quoteStart]!;
  const triple = sql.startsWith(quoteChar.repeat(3), quoteStart);
  const delimiter = triple ? quoteChar.repeat(3) : quoteChar;
  let i = quoteStart + delimiter.length;
  let value = '';
  while (i < sql.length) {
    if (sql.startsWith(delimiter, i)) return { value, end: i + delimiter.length };
    const char = sql[i]!;
    if (!triple && char === '\n') break;
    if (char !== '\\') {
      value += char;
      i++;
      continue;
    }
    const escaped = sql[i + 1] ?? '';
    if (raw) {
      // Raw strings keep the backslash; it still protects the next character from ending the string.
      value += char + escaped;
      i += 2;
      continue;
    }
    const simple = SIMPLE_ESCAPES[escaped];
    if (simple !== undefined) {
      value += simple;
      i += 2;
      continue;
    }
    const hex = /^(?:[xX]([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})|([0-7]{3}))/.exec(
      sql.slice(i + 1, i + 10),
    );
    if (!hex) throw invalidQuery(`Syntax error: Illegal escape sequence: \\${escaped}`);
    const code = hex[1] ?? hex[2] ?? hex[3];
    value += String.fromCodePoint(
      code !== undefined ? Number.parseInt(code, 16) : Number.parseInt(hex[4]!, 8),
    );
    i += 1 + hex[0].length;
  }
  throw invalidQuery('Syntax error: Unclosed string literal');
}

// ---- helpers over token lists --------------------------------------------------------------------------------------

export function isWord(token: Token | undefined, ...words: string[]): boolean {
  return token?.kind === 'word' && (words.length === 0 || words.includes(token.upper));
}

export function isPunct(token: Token | undefined, text: string): boolean {
  return token?.kind === 'punct' && token.text === text;
}

export function isIdentifier(token: Token | undefined): boolean {
  return token?.kind === 'word' || token?.kind === 'quoted';
}

/** Index of the `)` (or `]`) closing the bracket at `openIndex`. */
export function matchingParen(tokens: Token[], openIndex: number): number {
  let depth = 0;
  for (let i = openIndex; i < tokens.length; i++) {
    const text = tokens[i]!.kind === 'punct' ? tokens[i]!.text : '';
    if (text === '(' || text === '[') depth++;
    else if (text === ')' || text === ']') {
      depth--;
      if (depth === 0) return i;
    }
  }
  throw invalidQuery('Syntax error: Unbalanced parentheses');
}

/** Index of the first token at bracket depth 0 (from `start`) that satisfies `test`, or -1. */
export function findTopLevel(
  tokens: Token[],
  start: number,
  test: (token: Token, index: number) => boolean,
): number {
  let depth = 0;
  for (let i = start; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (depth === 0 && test(token, i)) return i;
    if (token.kind !== 'punct') continue;
    if (token.text === '(' || token.text === '[') depth++;
    else if (token.text === ')' || token.text === ']') depth--;
  }
  return -1;
}

/** Splits at depth-0 tokens satisfying `isSeparator` (separators dropped). An empty list gives no parts. */
export function splitTopLevel(tokens: Token[], isSeparator: (token: Token) => boolean): Token[][] {
  if (tokens.length === 0) return [];
  const parts: Token[][] = [];
  let start = 0;
  for (;;) {
    const index = findTopLevel(tokens, start, isSeparator);
    if (index < 0) {
      parts.push(tokens.slice(start));
      return parts;
    }
    parts.push(tokens.slice(start, index));
    start = index + 1;
  }
}

export const isComma = (token: Token) => isPunct(token, ',');
