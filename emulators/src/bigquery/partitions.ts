import {
  DuckDBDateValue,
  DuckDBTimestampTZValue,
  DuckDBTimestampValue,
  type DuckDBValue,
} from '@duckdb/node-api';
import type { TableInfo } from './catalog.ts';
import { invalid } from './errors.ts';
import { type TableReference, tableLabel } from './names.ts';
import { quoteIdentifier } from './schema.ts';
import { isIdentifier, isPunct, isWord, type Token } from './sql-lexer.ts';
import { daysFromCivil, MICROS_PER_DAY } from './time-values.ts';

// Partition decorators (`t$20240101`, `$2024010113`, `$202401`, `$2024`) on column-partitioned tables. A load into
// a decorator writes only that partition: WRITE_TRUNCATE replaces just its rows, and every loaded row must fall
// inside it (BigQuery fails the job otherwise). Ingestion-time partitioning has a hidden _PARTITIONTIME column that
// the emulator does not model, so decorators on such tables are refused with a clear message.

export interface PartitionTarget {
  decorator: string;
  columnName: string;
  columnIndex: number;
  /** Inclusive lower and exclusive upper bound: days for DATE columns, microseconds otherwise. */
  start: bigint;
  end: bigint;
  unit: 'days' | 'micros';
}

const DECORATOR_LENGTH = { YEAR: 4, MONTH: 6, DAY: 8, HOUR: 10 } as const;

export function resolvePartitionTarget(table: TableInfo, decorator: string): PartitionTarget {
  const label = `${tableLabel(table.ref)}$${decorator}`;
  const partitioning = table.timePartitioning;
  if (!partitioning)
    throw invalid(`Cannot read partition information from a table that is not partitioned: ${label}`);
  if (!partitioning.field) {
    throw invalid(
      `The emulator supports partition decorators only on column-partitioned tables; ${tableLabel(table.ref)} is ingestion-time partitioned`,
    );
  }
  const columnIndex = table.schema.fields.findIndex(
    (f) => f.name.toLowerCase() === partitioning.field?.toLowerCase(),
  );
  const column = table.schema.fields[columnIndex];
  if (!column)
    throw invalid(`Partitioning column ${partitioning.field} not found in ${tableLabel(table.ref)}`);
  const expectedLength = DECORATOR_LENGTH[partitioning.type];
  const match = /^(\d{4})(\d{2})?(\d{2})?(\d{2})?$/.exec(decorator);
  if (!match || decorator.length !== expectedLength) {
    throw invalid(
      `Invalid partition decorator ${label}: expected ${expectedLength} digits for ${partitioning.type} partitioning`,
    );
  }
  const [year, month, day, hour] = [match[1], match[2] ?? '01', match[3] ?? '01', match[4] ?? '00'].map(
    Number,
  );
  if (month! < 1 || month! > 12 || day! < 1 || day! > 31 || hour! > 23)
    throw invalid(`Invalid partition decorator ${label}`);
  const startDay = daysFromCivil(year!, month!, day!);
  let endDay = startDay + 1;
  if (partitioning.type === 'MONTH')
    endDay = month === 12 ? daysFromCivil(year! + 1, 1, 1) : daysFromCivil(year!, month! + 1, 1);
  if (partitioning.type === 'YEAR') endDay = daysFromCivil(year! + 1, 1, 1);
  if (column.type === 'DATE') {
    if (partitioning.type === 'HOUR')
      throw invalid(`HOUR partitioning is not available on DATE column ${column.name}`);
    return {
      decorator,
      columnName: column.name,
      columnIndex,
      start: BigInt(startDay),
      end: BigInt(endDay),
      unit: 'days',
    };
  }
  const hourMicros = 3_600_000_000n;
  const start = BigInt(startDay) * MICROS_PER_DAY + BigInt(hour!) * hourMicros;
  const end = partitioning.type === 'HOUR' ? start + hourMicros : BigInt(endDay) * MICROS_PER_DAY;
  return { decorator, columnName: column.name, columnIndex, start, end, unit: 'micros' };
}

/** Whether a validated row value of the partitioning column falls inside the decorator's partition. */
export function valueInPartition(value: DuckDBValue, target: PartitionTarget): boolean {
  let position: bigint | undefined;
  if (value instanceof DuckDBDateValue) position = BigInt(value.days);
  else if (value instanceof DuckDBTimestampTZValue || value instanceof DuckDBTimestampValue)
    position = value.micros;
  return position !== undefined && position >= target.start && position < target.end;
}

/** SQL predicate selecting the partition's rows. */
export function partitionPredicate(target: PartitionTarget): string {
  const column = quoteIdentifier(target.columnName);
  const position = target.unit === 'days' ? `(${column} - DATE '1970-01-01')` : `epoch_us(${column})`;
  return `(${position} >= ${target.start} AND ${position} < ${target.end})`;
}

// ---- partition elimination: what a query reads --------------------------------------------------------------
//
// BigQuery reads (and bills) only the partitions a query cannot rule out from constant conditions on the
// partition column: `col >= <constant>`, `col < <constant>`, `col = <constant>`, `col BETWEEN a AND b`, joined by
// AND in a WHERE clause or in a JOIN/MERGE ON clause. The emulator finds those conditions per table reference,
// counts the rows in the partitions they leave, and estimates bytes as BigQuery sizes them (8 bytes per number or
// time, 2 + UTF-8 length per string) over the columns the statement names (all of them when it has a `*`). A
// table with requirePartitionFilter refuses a query without such a condition, in BigQuery's words.

/** One table a statement reads, with the constant bounds found on each of its columns (by lower-case name). */
export interface TableScan {
  ref: TableReference;
  /** The names a column of this table may be qualified with: its alias and its table id. */
  qualifiers: Set<string>;
}

export interface ColumnBound {
  /** Qualifier as written (lower case), or undefined when the column is unqualified. */
  qualifier: string | undefined;
  column: string;
  op: '>=' | '>' | '<' | '<=' | '=';
  /** The constant, as GoogleSQL text. */
  value: string;
}

export interface StatementScan {
  tables: TableScan[];
  bounds: ColumnBound[];
  /** Lower-case names the statement mentions, or 'all' when it selects `*`. */
  columns: Set<string> | 'all';
}

const TABLE_KEYWORDS = new Set(['FROM', 'JOIN', 'USING', 'UPDATE']);
const CLAUSE_END = new Set([
  'GROUP',
  'ORDER',
  'LIMIT',
  'QUALIFY',
  'HAVING',
  'WINDOW',
  'UNION',
  'EXCEPT',
  'INTERSECT',
  'WHEN',
  'WHERE',
  'JOIN',
  'LEFT',
  'RIGHT',
  'INNER',
  'FULL',
  'CROSS',
  'ON',
  'SELECT',
  'FROM',
]);
const ALIAS_STOP = new Set([...CLAUSE_END, 'USING', 'SET', 'AS', 'WITH']);
const CONSTANT_WORDS = new Set([
  'AS',
  'NULL',
  'TRUE',
  'FALSE',
  'INTERVAL',
  'TIMESTAMP',
  'DATETIME',
  'DATE',
  'TIME',
  'STRING',
  'INT64',
  'DAY',
  'HOUR',
  'MINUTE',
  'SECOND',
  'MONTH',
  'YEAR',
  'WEEK',
  'MICROSECOND',
  'MILLISECOND',
]);
const COMPARISONS = new Set(['>=', '>', '<', '<=', '=']);
const FLIPPED: Record<string, ColumnBound['op']> = { '>=': '<=', '>': '<', '<': '>', '<=': '>=', '=': '=' };

/** Table references and constant column bounds of one GoogleSQL statement. */
export function scanOfStatement(
  tokens: Token[],
  defaults: { projectId: string; defaultDatasetId?: string },
): StatementScan {
  const tables: TableScan[] = [];
  const bounds: ColumnBound[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    const startsTable =
      (token.kind === 'word' && TABLE_KEYWORDS.has(token.upper)) ||
      (isWord(token, 'MERGE') && i === 0) ||
      (isWord(token, 'INTO') && isWord(tokens[i - 1], 'MERGE')) ||
      (isWord(token, 'DELETE') && i === 0);
    if (startsTable) {
      const scan = tableAt(tokens, i + 1, defaults);
      if (scan) tables.push(scan);
    }
    if (isWord(token, 'WHERE', 'ON') || (isWord(token, 'AND') && isWord(tokens[i - 1], 'MATCHED'))) {
      for (const conjunct of conjunctsFrom(tokens, i + 1)) {
        const bound = boundsOf(conjunct);
        bounds.push(...bound);
      }
    }
  }
  const names = new Set<string>();
  let all = false;
  for (const [i, token] of tokens.entries()) {
    if (token.kind === 'word' || token.kind === 'quoted') {
      for (const part of token.kind === 'quoted' ? token.value.split('.') : [token.text])
        names.add(part.toLowerCase());
    }
    if (isPunct(token, '*') && (isWord(tokens[i - 1], 'SELECT') || isPunct(tokens[i - 1], '.'))) all = true;
  }
  return { tables, bounds, columns: all ? 'all' : names };
}

function tableAt(
  tokens: Token[],
  start: number,
  defaults: { projectId: string; defaultDatasetId?: string },
): TableScan | undefined {
  const parts: string[] = [];
  let index = start;
  while (isIdentifier(tokens[index])) {
    const token = tokens[index]!;
    if (token.kind === 'word' && (CLAUSE_END.has(token.upper) || isPunct(tokens[index + 1], '('))) break;
    parts.push(...(token.kind === 'quoted' ? token.value.split('.') : [token.text]));
    index++;
    if (!isPunct(tokens[index], '.') || !isIdentifier(tokens[index + 1])) break;
    index++;
  }
  if (parts.length === 0 || parts.length > 3) return undefined;
  let ref: TableReference;
  if (parts.length === 3) ref = { projectId: parts[0]!, datasetId: parts[1]!, tableId: parts[2]! };
  else if (parts.length === 2)
    ref = { projectId: defaults.projectId, datasetId: parts[0]!, tableId: parts[1]! };
  else if (defaults.defaultDatasetId)
    ref = { projectId: defaults.projectId, datasetId: defaults.defaultDatasetId, tableId: parts[0]! };
  else return undefined;
  const qualifiers = new Set([ref.tableId.toLowerCase()]);
  if (isWord(tokens[index], 'AS')) index++;
  const alias = tokens[index];
  if (alias && isIdentifier(alias) && !(alias.kind === 'word' && ALIAS_STOP.has(alias.upper)))
    qualifiers.add((alias.kind === 'quoted' ? alias.value : alias.text).toLowerCase());
  return { ref, qualifiers };
}

/** The AND-joined conditions of the clause starting at `start`, up to the clause's end at its own depth. */
function conjunctsFrom(tokens: Token[], start: number): Token[][] {
  const conjuncts: Token[][] = [];
  let current: Token[] = [];
  let depth = 0;
  let pendingBetween = false;
  for (let i = start; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (isPunct(token, '(') || isPunct(token, '[')) depth++;
    if (isPunct(token, ')') || isPunct(token, ']')) {
      if (depth === 0) break;
      depth--;
    }
    if (depth === 0 && token.kind === 'word') {
      if (CLAUSE_END.has(token.upper) || token.upper === 'THEN' || token.upper === 'OR') {
        // OR: conditions on either side do not bound the scan; stop collecting this clause.
        if (token.upper === 'OR') return [];
        break;
      }
      if (token.upper === 'BETWEEN') pendingBetween = true;
      else if (token.upper === 'AND') {
        if (pendingBetween) pendingBetween = false;
        else {
          conjuncts.push(current);
          current = [];
          continue;
        }
      }
    }
    if (isPunct(token, ';')) break;
    current.push(token);
  }
  conjuncts.push(current);
  return conjuncts.filter((c) => c.length > 0);
}

function columnRef(tokens: Token[]): { qualifier: string | undefined; column: string } | undefined {
  const name = (t: Token) => (t.kind === 'quoted' ? t.value : t.text);
  if (tokens.length === 1 && isIdentifier(tokens[0])) {
    const parts = name(tokens[0]!).split('.');
    const column = parts.pop()!.toLowerCase();
    return { qualifier: parts.at(-1)?.toLowerCase(), column };
  }
  if (tokens.length === 3 && isIdentifier(tokens[0]) && isPunct(tokens[1], '.') && isIdentifier(tokens[2]))
    return { qualifier: name(tokens[0]!).toLowerCase(), column: name(tokens[2]!).toLowerCase() };
  return undefined;
}

function isConstant(tokens: Token[]): boolean {
  if (tokens.length === 0) return false;
  return tokens.every((token, i) => {
    if (token.kind === 'quoted') return false;
    if (token.kind !== 'word') return true;
    return CONSTANT_WORDS.has(token.upper) || isPunct(tokens[i + 1], '(');
  });
}

const text = (tokens: Token[]) => tokens.map((t, i) => (i > 0 && t.spaced ? ` ${t.text}` : t.text)).join('');

function boundsOf(conjunct: Token[]): ColumnBound[] {
  const between = conjunct.findIndex((t) => isWord(t, 'BETWEEN'));
  if (between > 0) {
    const and = conjunct.findIndex((t, i) => i > between && isWord(t, 'AND'));
    const ref = columnRef(conjunct.slice(0, between));
    const low = conjunct.slice(between + 1, and);
    const high = conjunct.slice(and + 1);
    if (!ref || and < 0 || !isConstant(low) || !isConstant(high)) return [];
    return [
      { ...ref, op: '>=', value: text(low) },
      { ...ref, op: '<=', value: text(high) },
    ];
  }
  const at = conjunct.findIndex((t) => t.kind === 'punct' && COMPARISONS.has(t.text));
  if (at <= 0) return [];
  const left = conjunct.slice(0, at);
  const right = conjunct.slice(at + 1);
  const op = conjunct[at]!.text as ColumnBound['op'];
  const leftRef = columnRef(left);
  if (leftRef && isConstant(right)) return [{ ...leftRef, op, value: text(right) }];
  const rightRef = columnRef(right);
  if (rightRef && isConstant(left)) return [{ ...rightRef, op: FLIPPED[op]!, value: text(left) }];
  return [];
}

/** Bounds that apply to the table's partition column; a condition on an unqualified column counts. */
export function partitionBounds(scan: TableScan, column: string, bounds: ColumnBound[]): ColumnBound[] {
  const name = column.toLowerCase();
  return bounds.filter(
    (b) => b.column === name && (b.qualifier === undefined || scan.qualifiers.has(b.qualifier)),
  );
}

/**
 * DuckDB predicate selecting the rows of every partition the bounds leave (a partition is read when any instant
 * of it satisfies the bounds). `toDuckDb` turns a GoogleSQL constant into DuckDB SQL.
 */
export function partitionsReadPredicate(
  column: string,
  unit: string,
  bounds: ColumnBound[],
  toDuckDb: (googleSql: string) => string,
): string {
  const partition = `date_trunc('${unit}', ${quoteIdentifier(column)})`;
  const parts = bounds.map((b) => {
    const value = `(${toDuckDb(b.value)})`;
    switch (b.op) {
      case '>=':
      case '>':
        return `${partition} >= date_trunc('${unit}', ${value})`;
      case '<':
        return `${partition} < ${value}`;
      case '<=':
        return `${partition} <= ${value}`;
      default:
        return `${partition} = date_trunc('${unit}', ${value})`;
    }
  });
  return parts.join(' AND ');
}
