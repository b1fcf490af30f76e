import { invalidQuery } from './errors.ts';
import { DUCKDB_SCALAR_TYPES, quoteIdentifier } from './schema.ts';
import { isIdentifier, isPunct, matchingParen, type Token } from './sql-lexer.ts';

// GoogleSQL type names → DuckDB types, for CAST/SAFE_CAST targets, column definitions and typed literals. Same
// mapping as load-created tables (schema.ts): INT64 → BIGINT (DuckDB's INTEGER is 32-bit), FLOAT64 → DOUBLE (DuckDB's
// FLOAT is 32-bit), NUMERIC → DECIMAL(38,9) (DuckDB's NUMERIC is DECIMAL(18,3)), TIMESTAMP → TIMESTAMPTZ,
// DATETIME → TIMESTAMP.

/** `TIMESTAMP '2024-01-01 00:00:00+00'`-style literal prefixes and the DuckDB type they cast to. */
export const TYPED_LITERALS: Record<string, string> = {
  TIMESTAMP: 'TIMESTAMPTZ',
  DATETIME: 'TIMESTAMP',
  DATE: 'DATE',
  TIME: 'TIME',
  NUMERIC: 'DECIMAL(38,9)',
  BIGNUMERIC: 'DECIMAL(38,9)',
  JSON: 'JSON',
};

/** Parses a GoogleSQL type starting at `start`; returns the DuckDB type and the index after it. */
export function parseType(tokens: Token[], start: number): [string, number] {
  const token = tokens[start];
  if (token?.kind !== 'word') throw invalidQuery('Syntax error: Expected a type name');
  const name = token.upper;
  if ((name === 'ARRAY' || name === 'STRUCT') && isPunct(tokens[start + 1], '<')) {
    return name === 'ARRAY' ? parseArray(tokens, start + 2) : parseStruct(tokens, start + 2);
  }
  const mapped = DUCKDB_SCALAR_TYPES[name];
  if (!mapped) throw invalidQuery(`Type not found: ${token.text}`);
  if (!isPunct(tokens[start + 1], '(')) return [mapped, start + 1];
  // Parameterised types: NUMERIC(P[, S]) keeps its precision; STRING(L) / BYTES(L) lengths are not enforced.
  const close = matchingParen(tokens, start + 1);
  const parameters = tokens
    .slice(start + 2, close)
    .map((t) => t.text)
    .join('');
  if (name === 'NUMERIC' || name === 'DECIMAL') return [`DECIMAL(${parameters})`, close + 1];
  return [mapped, close + 1];
}

function expectClose(tokens: Token[], index: number): void {
  if (!isPunct(tokens[index], '>')) throw invalidQuery('Syntax error: Expected ">" to close a type');
}

function parseArray(tokens: Token[], start: number): [string, number] {
  const [element, next] = parseType(tokens, start);
  expectClose(tokens, next);
  return [`${element}[]`, next + 1];
}

function parseStruct(tokens: Token[], start: number): [string, number] {
  const fields: string[] = [];
  let index = start;
  while (!isPunct(tokens[index], '>')) {
    // `name TYPE` or an unnamed `TYPE` (DuckDB needs names; BigQuery calls unnamed fields _field_N).
    const named = isIdentifier(tokens[index]) && isIdentifier(tokens[index + 1]);
    const fieldName = named ? tokens[index]!.value : `_field_${fields.length + 1}`;
    const [type, next] = parseType(tokens, named ? index + 1 : index);
    fields.push(`${quoteIdentifier(fieldName)} ${type}`);
    index = next;
    if (isPunct(tokens[index], ',')) index++;
    else expectClose(tokens, index);
  }
  return [`STRUCT(${fields.join(', ')})`, index + 1];
}
