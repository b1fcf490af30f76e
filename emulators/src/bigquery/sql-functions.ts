import { invalidQuery } from './errors.ts';
import { isComma, splitTopLevel, type Token } from './sql-lexer.ts';

// GoogleSQL functions whose DuckDB spelling differs. Each rewrite receives the call's argument tokens and returns
// DuckDB SQL; arguments are rewritten recursively by the caller's `expr`. Functions not listed pass through as
// written (most aggregates and string functions share names).
//
// Known semantic gaps, accepted: DuckDB's `week` truncation starts on Monday (BigQuery's WEEK on Sunday), and
// REGEXP_EXTRACT returns the whole match rather than the first capture group.

export interface ExpressionRewriter {
  expr(tokens: Token[]): string;
  cast(tokens: Token[], castFunction: 'CAST' | 'TRY_CAST'): string;
}

type FunctionRewrite = (args: string[], rawArgs: Token[][], rewriter: ExpressionRewriter) => string;

function arity(name: string, args: unknown[], ...allowed: number[]): number {
  if (!allowed.includes(args.length)) {
    throw invalidQuery(
      `No matching signature for function ${name} with ${args.length} argument(s) (the emulator supports ${allowed.join(' or ')})`,
    );
  }
  return args.length;
}

/** A date part argument (`DAY`, `WEEK(MONDAY)`) as a DuckDB string literal. */
function datePart(tokens: Token[] | undefined): string {
  const word = tokens?.[0];
  if (word?.kind !== 'word') throw invalidQuery('Syntax error: Expected a date part such as DAY');
  return `'${word.text.toLowerCase()}'`;
}

const noArguments =
  (name: string, sql: string): FunctionRewrite =>
  (args) => {
    arity(name, args, 0);
    return sql;
  };

const timestampFromInteger =
  (multiplier: string): FunctionRewrite =>
  ([value]) =>
    `CAST(make_timestamp(CAST(${value} AS BIGINT)${multiplier}) AS TIMESTAMPTZ)`;

const REWRITES: Record<string, FunctionRewrite> = {
  CURRENT_TIMESTAMP: noArguments('CURRENT_TIMESTAMP', 'CURRENT_TIMESTAMP'),
  CURRENT_DATE: noArguments('CURRENT_DATE', 'CURRENT_DATE'),
  CURRENT_DATETIME: noArguments('CURRENT_DATETIME', 'CAST(CURRENT_TIMESTAMP AS TIMESTAMP)'),
  CURRENT_TIME: noArguments('CURRENT_TIME', 'CAST(CURRENT_TIMESTAMP AS TIME)'),
  GENERATE_UUID: noArguments('GENERATE_UUID', 'CAST(uuid() AS VARCHAR)'),
  TIMESTAMP: (args) =>
    arity('TIMESTAMP', args, 1, 2) === 1
      ? `CAST(${args[0]} AS TIMESTAMPTZ)`
      : `timezone(${args[1]}, CAST(${args[0]} AS TIMESTAMP))`,
  DATETIME: (args) => {
    const count = arity('DATETIME', args, 1, 2, 6);
    if (count === 1) return `CAST(${args[0]} AS TIMESTAMP)`;
    if (count === 2) return `(CAST(${args[0]} AS DATE) + CAST(${args[1]} AS TIME))`;
    return `make_timestamp(${args.join(', ')})`;
  },
  DATE: (args) => {
    const count = arity('DATE', args, 1, 2, 3);
    if (count === 1) return `CAST(${args[0]} AS DATE)`;
    if (count === 2) return `CAST(timezone(${args[1]}, ${args[0]}) AS DATE)`;
    return `make_date(${args.join(', ')})`;
  },
  TIME: (args) =>
    arity('TIME', args, 1, 3) === 1 ? `CAST(${args[0]} AS TIME)` : `make_time(${args.join(', ')})`,
  TIMESTAMP_MICROS: timestampFromInteger(''),
  TIMESTAMP_MILLIS: timestampFromInteger(' * 1000'),
  TIMESTAMP_SECONDS: timestampFromInteger(' * 1000000'),
  UNIX_MICROS: ([value]) => `epoch_us(${value})`,
  UNIX_MILLIS: ([value]) => `epoch_ms(${value})`,
  UNIX_SECONDS: ([value]) => `CAST(floor(epoch(${value})) AS BIGINT)`,
  UNIX_DATE: ([value]) => `CAST(${value} - DATE '1970-01-01' AS BIGINT)`,
  TIMESTAMP_TRUNC: (args, raw) => `date_trunc(${datePart(raw[1])}, ${args[0]})`,
  DATETIME_TRUNC: (args, raw) => `date_trunc(${datePart(raw[1])}, ${args[0]})`,
  DATE_TRUNC: (args, raw) => `CAST(date_trunc(${datePart(raw[1])}, ${args[0]}) AS DATE)`,
  TIMESTAMP_ADD: ([value, interval]) => `(${value} + ${interval})`,
  TIMESTAMP_SUB: ([value, interval]) => `(${value} - ${interval})`,
  DATETIME_ADD: ([value, interval]) => `(${value} + ${interval})`,
  DATETIME_SUB: ([value, interval]) => `(${value} - ${interval})`,
  DATE_ADD: ([value, interval]) => `CAST(${value} + ${interval} AS DATE)`,
  DATE_SUB: ([value, interval]) => `CAST(${value} - ${interval} AS DATE)`,
  // BigQuery's TIMESTAMP_DIFF counts whole elapsed units (DuckDB date_sub); DATE_DIFF counts boundaries (date_diff).
  TIMESTAMP_DIFF: ([later, earlier], raw) => `date_sub(${datePart(raw[2])}, ${earlier}, ${later})`,
  DATETIME_DIFF: ([later, earlier], raw) => `date_sub(${datePart(raw[2])}, ${earlier}, ${later})`,
  DATE_DIFF: ([later, earlier], raw) => `date_diff(${datePart(raw[2])}, ${earlier}, ${later})`,
  FORMAT_TIMESTAMP: (args) =>
    arity('FORMAT_TIMESTAMP', args, 2, 3) === 2
      ? `strftime(${args[1]}, ${args[0]})`
      : `strftime(timezone(${args[2]}, ${args[1]}), ${args[0]})`,
  FORMAT_DATE: ([format, value]) => `strftime(${value}, ${format})`,
  FORMAT_DATETIME: ([format, value]) => `strftime(${value}, ${format})`,
  PARSE_TIMESTAMP: ([format, text]) => `CAST(strptime(${text}, ${format}) AS TIMESTAMPTZ)`,
  PARSE_DATETIME: ([format, text]) => `strptime(${text}, ${format})`,
  PARSE_DATE: ([format, text]) => `CAST(strptime(${text}, ${format}) AS DATE)`,
  SAFE_DIVIDE: ([a, b]) => `CASE WHEN (${b}) = 0 THEN NULL ELSE (${a}) / (${b}) END`,
  DIV: ([a, b]) => `((${a}) // (${b}))`,
  TO_JSON_STRING: ([value]) => `CAST(to_json(${value}) AS VARCHAR)`,
  REGEXP_CONTAINS: ([text, pattern]) => `regexp_matches(${text}, ${pattern})`,
  LOGICAL_OR: ([value]) => `bool_or(${value})`,
  LOGICAL_AND: ([value]) => `bool_and(${value})`,
  ARRAY_LENGTH: ([value]) => `len(${value})`,
  SPLIT: (args) => `string_split(${args[0]}, ${args[1] ?? "','"})`,
};

/**
 * Rewrites a call of `name` whose argument tokens are `inner`, or returns undefined when the function needs no
 * rewrite. CAST/SAFE_CAST are special: their argument is `expr AS type`, not a list.
 */
export function rewriteFunctionCall(
  name: string,
  inner: Token[],
  rewriter: ExpressionRewriter,
): string | undefined {
  if (name === 'CAST') return rewriter.cast(inner, 'CAST');
  if (name === 'SAFE_CAST') return rewriter.cast(inner, 'TRY_CAST');
  const rewrite = REWRITES[name];
  if (!rewrite) return undefined;
  const rawArgs = splitTopLevel(inner, isComma);
  return rewrite(
    rawArgs.map((arg) => rewriter.expr(arg)),
    rawArgs,
    rewriter,
  );
}
