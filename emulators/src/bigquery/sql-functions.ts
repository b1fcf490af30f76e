import { sqlString } from './duckdb-engine.ts';
import { invalidQuery } from './errors.ts';
import { findTopLevel, isComma, isPunct, isWord, splitTopLevel, type Token } from './sql-lexer.ts';

// GoogleSQL functions whose DuckDB spelling differs. Each rewrite receives the call's argument tokens and returns
// DuckDB SQL; arguments are rewritten recursively by the caller's `expr`. Functions not listed pass through as
// written (most aggregates, window functions, COUNTIF and string functions share names).
//
// Known semantic gaps, accepted: APPROX_QUANTILES is exact (DuckDB's quantile_disc: the value at rank
// floor(q × (n − 1)) + 1 of the sorted input), where BigQuery's is approximate on large inputs; an out-of-range
// `[OFFSET(k)]` gives NULL instead of an error; ARRAY_AGG keeps NULL elements where BigQuery fails the query.

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

const WEEKDAYS = ['MONDAY', 'TUESDAY', 'WEDNESDAY', 'THURSDAY', 'FRIDAY', 'SATURDAY', 'SUNDAY'];

/**
 * `date_trunc` for a GoogleSQL date part. DuckDB's weeks start on Monday; BigQuery's WEEK starts on Sunday and
 * WEEK(<WEEKDAY>) on that day, so the value is shifted back to a Monday-based week and forward again.
 */
function truncate(value: string, part: Token[] | undefined): string {
  const word = part?.[0];
  if (word?.kind !== 'word') throw invalidQuery('Syntax error: Expected a date part such as DAY');
  if (word.upper === 'ISOWEEK') return `date_trunc('week', ${value})`;
  if (word.upper !== 'WEEK') return `date_trunc(${datePart(part)}, ${value})`;
  const weekday = isPunct(part![1], '(') ? (part![2]?.upper ?? '') : 'SUNDAY';
  const offset = WEEKDAYS.indexOf(weekday);
  if (offset < 0)
    throw invalidQuery(`Invalid week day in WEEK(${weekday}); expected one of ${WEEKDAYS.join(', ')}`);
  if (offset === 0) return `date_trunc('week', ${value})`;
  return `(date_trunc('week', ${value} - INTERVAL ${offset} DAY) + INTERVAL ${offset} DAY)`;
}

// GoogleSQL format elements DuckDB's strftime/strptime lack, spelled with the ones it has.
const FORMAT_ELEMENTS: Record<string, string> = {
  '%F': '%Y-%m-%d',
  '%T': '%H:%M:%S',
  '%R': '%H:%M',
  '%D': '%m/%d/%y',
  '%E3S': '%S.%g',
  '%E6S': '%S.%f',
  '%E*S': '%S.%f',
  '%Ez': '%z',
};

/** A format string argument; literal formats get their GoogleSQL-only elements translated. */
function formatArgument(sql: string, raw: Token[] | undefined): string {
  const literal = raw?.length === 1 && raw[0]!.kind === 'string' ? raw[0]!.value : undefined;
  if (literal === undefined) return sql;
  return sqlString(literal.replace(/%(?:E\*S|E\dS|Ez|.)/g, (element) => FORMAT_ELEMENTS[element] ?? element));
}

/** Capture groups of a literal regular expression (BigQuery extracts the group when there is exactly one). */
function captureGroups(raw: Token[] | undefined): number {
  const pattern = raw?.length === 1 && raw[0]!.kind === 'string' ? raw[0]!.value : '';
  const unescaped = pattern.replace(/\\./g, '');
  return (unescaped.match(/\((?!\?)/g) ?? []).length;
}

function extractGroup(name: string, raw: Token[] | undefined): number {
  const groups = captureGroups(raw);
  if (groups > 1) {
    throw invalidQuery(
      `Regular expressions passed into extraction functions must not have more than 1 capturing group (${name})`,
    );
  }
  return groups;
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
  // TIMESTAMP_TRUNC's optional time zone: truncate the civil time there, then read it back as an instant.
  TIMESTAMP_TRUNC: (args, raw) =>
    arity('TIMESTAMP_TRUNC', args, 2, 3) === 2
      ? truncate(args[0]!, raw[1])
      : `timezone(${args[2]}, ${truncate(`timezone(${args[2]}, ${args[0]})`, raw[1])})`,
  DATETIME_TRUNC: (args, raw) => truncate(args[0]!, raw[1]),
  DATE_TRUNC: (args, raw) => `CAST(${truncate(args[0]!, raw[1])} AS DATE)`,
  TIMESTAMP_ADD: ([value, interval]) => `(${value} + ${interval})`,
  TIMESTAMP_SUB: ([value, interval]) => `(${value} - ${interval})`,
  DATETIME_ADD: ([value, interval]) => `(${value} + ${interval})`,
  DATETIME_SUB: ([value, interval]) => `(${value} - ${interval})`,
  DATE_ADD: ([value, interval]) => `CAST(${value} + ${interval} AS DATE)`,
  DATE_SUB: ([value, interval]) => `CAST(${value} - ${interval} AS DATE)`,
  // BigQuery's TIMESTAMP_DIFF counts whole elapsed units (DuckDB date_sub); DATE_DIFF and DATETIME_DIFF count
  // unit boundaries crossed (date_diff).
  TIMESTAMP_DIFF: ([later, earlier], raw) => `date_sub(${datePart(raw[2])}, ${earlier}, ${later})`,
  DATETIME_DIFF: ([later, earlier], raw) => `date_diff(${datePart(raw[2])}, ${earlier}, ${later})`,
  DATE_DIFF: ([later, earlier], raw) => `date_diff(${datePart(raw[2])}, ${earlier}, ${later})`,
  FORMAT_TIMESTAMP: (args, raw) =>
    arity('FORMAT_TIMESTAMP', args, 2, 3) === 2
      ? `strftime(${args[1]}, ${formatArgument(args[0]!, raw[0])})`
      : `strftime(timezone(${args[2]}, ${args[1]}), ${formatArgument(args[0]!, raw[0])})`,
  FORMAT_DATE: ([format, value], raw) => `strftime(${value}, ${formatArgument(format!, raw[0])})`,
  FORMAT_DATETIME: ([format, value], raw) => `strftime(${value}, ${formatArgument(format!, raw[0])})`,
  PARSE_TIMESTAMP: ([format, text], raw) =>
    `CAST(strptime(${text}, ${formatArgument(format!, raw[0])}) AS TIMESTAMPTZ)`,
  PARSE_DATETIME: ([format, text], raw) => `strptime(${text}, ${formatArgument(format!, raw[0])})`,
  PARSE_DATE: ([format, text], raw) => `CAST(strptime(${text}, ${formatArgument(format!, raw[0])}) AS DATE)`,
  SAFE_DIVIDE: ([a, b]) => `CASE WHEN (${b}) = 0 THEN NULL ELSE (${a}) / (${b}) END`,
  DIV: ([a, b]) => `((${a}) // (${b}))`,
  TO_JSON_STRING: ([value]) => `CAST(to_json(${value}) AS VARCHAR)`,
  REGEXP_CONTAINS: ([text, pattern]) => `regexp_matches(${text}, ${pattern})`,
  // BigQuery returns the capture group when the pattern has one, the whole match otherwise.
  REGEXP_EXTRACT: (args, raw) => {
    arity('REGEXP_EXTRACT', args, 2);
    // No match is NULL in BigQuery, an empty string in DuckDB.
    const extracted = `regexp_extract(${args[0]}, ${args[1]}, ${extractGroup('REGEXP_EXTRACT', raw[1])})`;
    return `CASE WHEN regexp_matches(${args[0]}, ${args[1]}) THEN ${extracted} END`;
  },
  REGEXP_EXTRACT_ALL: (args, raw) => {
    arity('REGEXP_EXTRACT_ALL', args, 2);
    return `regexp_extract_all(${args[0]}, ${args[1]}, ${extractGroup('REGEXP_EXTRACT_ALL', raw[1])})`;
  },
  // BigQuery replaces every match; DuckDB only the first unless told 'g'.
  REGEXP_REPLACE: (args) => {
    arity('REGEXP_REPLACE', args, 3);
    return `regexp_replace(${args[0]}, ${args[1]}, ${args[2]}, 'g')`;
  },
  LOGICAL_OR: ([value]) => `bool_or(${value})`,
  LOGICAL_AND: ([value]) => `bool_and(${value})`,
  ARRAY_LENGTH: ([value]) => `len(${value})`,
  SPLIT: (args) => `string_split(${args[0]}, ${args[1] ?? "','"})`,
};

// ---- calls whose arguments are not a plain list ---------------------------------------------------------------------

type RawRewrite = (inner: Token[], rewriter: ExpressionRewriter) => string;

interface AggregateClauses {
  distinct: boolean;
  /** The aggregated arguments, before any NULLS / ORDER BY / LIMIT clause. */
  values: Token[];
  ignoreNulls: boolean;
  orderBy?: Token[];
  limit?: Token[];
}

/** `[DISTINCT] args [IGNORE|RESPECT NULLS] [ORDER BY …] [LIMIT n]` inside an aggregate call. */
function aggregateClauses(inner: Token[]): AggregateClauses {
  const distinct = isWord(inner[0], 'DISTINCT');
  const body = distinct ? inner.slice(1) : inner;
  const nullsAt = findTopLevel(
    body,
    0,
    (t, i) => isWord(t, 'IGNORE', 'RESPECT') && isWord(body[i + 1], 'NULLS'),
  );
  const orderAt = findTopLevel(body, 0, (t, i) => isWord(t, 'ORDER') && isWord(body[i + 1], 'BY'));
  const limitAt = findTopLevel(body, 0, (t) => isWord(t, 'LIMIT'));
  const clauseStarts = [nullsAt, orderAt, limitAt].filter((i) => i >= 0);
  const valuesEnd = clauseStarts.length > 0 ? Math.min(...clauseStarts) : body.length;
  const clauses: AggregateClauses = {
    distinct,
    values: body.slice(0, valuesEnd),
    ignoreNulls: nullsAt >= 0 && isWord(body[nullsAt], 'IGNORE'),
  };
  if (orderAt >= 0) clauses.orderBy = body.slice(orderAt + 2, limitAt > orderAt ? limitAt : body.length);
  if (limitAt >= 0) clauses.limit = body.slice(limitAt + 1);
  return clauses;
}

function limitValue(name: string, limit: Token[] | undefined): string | undefined {
  if (limit === undefined) return undefined;
  if (limit.length !== 1 || limit[0]!.kind !== 'number' || !/^\d+$/.test(limit[0]!.text)) {
    throw invalidQuery(
      `${name}'s LIMIT must be an integer literal, got "${limit.map((t) => t.text).join(' ')}"`,
    );
  }
  return limit[0]!.text;
}

/**
 * `array_agg(v ORDER BY …)`, NULLs filtered when asked, then cut to the LIMIT (DuckDB aggregates take no LIMIT).
 */
function arrayAggregate(
  name: string,
  value: string,
  clauses: AggregateClauses,
  rewriter: ExpressionRewriter,
) {
  const order = clauses.orderBy ? ` ORDER BY ${rewriter.expr(clauses.orderBy)}` : '';
  const filter = clauses.ignoreNulls ? ` FILTER (WHERE (${value}) IS NOT NULL)` : '';
  const aggregate = `array_agg(${clauses.distinct ? 'DISTINCT ' : ''}${value}${order})${filter}`;
  const limit = limitValue(name, clauses.limit);
  return limit === undefined ? aggregate : `list_slice(${aggregate}, 1, ${limit})`;
}

const RAW_REWRITES: Record<string, RawRewrite> = {
  CAST: (inner, rewriter) => rewriter.cast(inner, 'CAST'),
  SAFE_CAST: (inner, rewriter) => rewriter.cast(inner, 'TRY_CAST'),
  ARRAY_AGG: (inner, rewriter) => {
    const clauses = aggregateClauses(inner);
    return arrayAggregate('ARRAY_AGG', rewriter.expr(clauses.values), clauses, rewriter);
  },
  // STRING_AGG skips NULLs; its default delimiter is a comma.
  STRING_AGG: (inner, rewriter) => {
    const clauses = aggregateClauses(inner);
    const [value, delimiter] = splitTopLevel(clauses.values, isComma).map((arg) => rewriter.expr(arg));
    const separator = delimiter ?? "','";
    if (clauses.limit === undefined) {
      const order = clauses.orderBy ? ` ORDER BY ${rewriter.expr(clauses.orderBy)}` : '';
      return `string_agg(${clauses.distinct ? 'DISTINCT ' : ''}${value}, ${separator}${order})`;
    }
    const list = arrayAggregate('STRING_AGG', value!, { ...clauses, ignoreNulls: true }, rewriter);
    return `array_to_string(${list}, ${separator})`;
  },
  // APPROX_QUANTILES(x, n) is the array of the n + 1 quantiles 0, 1/n, …, 1 (NULLs ignored).
  APPROX_QUANTILES: (inner, rewriter) => {
    const clauses = aggregateClauses(inner);
    const [value, count] = splitTopLevel(clauses.values, isComma);
    const buckets = count?.length === 1 && count[0]!.kind === 'number' ? Number(count[0]!.text) : Number.NaN;
    if (!value || !Number.isInteger(buckets) || buckets < 1) {
      throw invalidQuery(
        `APPROX_QUANTILES needs (expression, number of quantiles as an integer literal ≥ 1), got "${inner.map((t) => t.text).join(' ')}"`,
      );
    }
    const fractions = Array.from({ length: buckets + 1 }, (_, k) => String(k / buckets)).join(', ');
    return `quantile_disc(${clauses.distinct ? 'DISTINCT ' : ''}${rewriter.expr(value)}, [${fractions}])`;
  },
  EXTRACT: (inner, rewriter) => {
    const fromAt = findTopLevel(inner, 0, (t) => isWord(t, 'FROM'));
    const part = inner[0];
    if (fromAt < 1 || part?.kind !== 'word')
      throw invalidQuery('Syntax error: Expected EXTRACT(part FROM value)');
    const zoneAt = findTopLevel(inner, fromAt + 1, (t, i) => isWord(t, 'AT') && isWord(inner[i + 1], 'TIME'));
    let value = rewriter.expr(inner.slice(fromAt + 1, zoneAt < 0 ? inner.length : zoneAt));
    if (zoneAt >= 0) value = `timezone(${rewriter.expr(inner.slice(zoneAt + 3))}, ${value})`;
    return extractPart(part.upper, value);
  },
};

/** EXTRACT(part FROM value) with BigQuery's numbering where DuckDB's differs. */
function extractPart(part: string, value: string): string {
  switch (part) {
    case 'DAYOFWEEK': // BigQuery: 1 = Sunday … 7 = Saturday; DuckDB: 0 = Sunday
      return `(dayofweek(${value}) + 1)`;
    case 'WEEK': // weeks start on Sunday; days before the first Sunday are week 0
      return `CAST(strftime(${value}, '%U') AS BIGINT)`;
    case 'ISOWEEK':
      return `week(${value})`;
    case 'ISOYEAR':
      return `isoyear(${value})`;
    case 'DATE':
      return `CAST(${value} AS DATE)`;
    case 'TIME':
      return `CAST(${value} AS TIME)`;
    case 'DATETIME':
      return `CAST(${value} AS TIMESTAMP)`;
    case 'MILLISECOND': // DuckDB counts the seconds' milliseconds too
      return `(extract(millisecond FROM ${value}) % 1000)`;
    case 'MICROSECOND':
      return `(extract(microsecond FROM ${value}) % 1000000)`;
    default:
      return `extract(${part.toLowerCase()} FROM ${value})`;
  }
}

/**
 * Rewrites a call of `name` whose argument tokens are `inner`, or returns undefined when the function needs no
 * rewrite. Some calls are not plain argument lists (CAST's `expr AS type`, aggregates' ORDER BY and LIMIT,
 * EXTRACT's `part FROM value`) and get their raw tokens.
 */
export function rewriteFunctionCall(
  name: string,
  inner: Token[],
  rewriter: ExpressionRewriter,
): string | undefined {
  const raw = RAW_REWRITES[name];
  if (raw) return raw(inner, rewriter);
  const rewrite = REWRITES[name];
  if (!rewrite) return undefined;
  const rawArgs = splitTopLevel(inner, isComma);
  return rewrite(
    rawArgs.map((arg) => rewriter.expr(arg)),
    rawArgs,
    rewriter,
  );
}
