import type { TableOptions, TimePartitioning } from './catalog.ts';
import { sqlString } from './duckdb-engine.ts';
import { invalidQuery } from './errors.ts';
import type { TableReference } from './names.ts';
import type { BoundParameters } from './query-parameters.ts';
import { quoteIdentifier } from './schema.ts';
import { type ExpressionRewriter, rewriteFunctionCall } from './sql-functions.ts';
import {
  findTopLevel,
  isComma,
  isIdentifier,
  isPunct,
  isWord,
  matchingParen,
  splitTopLevel,
  type Token,
  tokenize,
} from './sql-lexer.ts';
import { parseType, TYPED_LITERALS } from './sql-types.ts';

// GoogleSQL → DuckDB, statement by statement, on tokens (strings and comments are never touched). What it does:
// - backtick paths `proj.ds.t` → "proj"."ds"."t"; "…" and '…' string literals → DuckDB '…' literals;
// - `MERGE t …` → `MERGE INTO t …` (INTO is optional in BigQuery, required in DuckDB), plus `RETURNING merge_action`
//   so the executor can count inserted/updated/deleted rows, and a pre-check query for BigQuery's rule that a target
//   row may match at most one source row (DuckDB silently applies every match);
// - `INSERT t` / `DELETE t` → `INSERT INTO t` / `DELETE FROM t`; qualified SET targets (`SET T.col = …`) →
//   unqualified (DuckDB refuses them);
// - type names in CAST/SAFE_CAST, column definitions and typed literals (see sql-types.ts); functions (see
//   sql-functions.ts); `IN UNNEST(x)`; `UNNEST(x) AS v [WITH OFFSET AS o]` in FROM; array subscripts
//   `[OFFSET(k)]` / `[ORDINAL(k)]` (and SAFE_) → DuckDB's 1-based `[k + 1]`; `SELECT * EXCEPT (…)` → `EXCLUDE`;
//   `INTERVAL expr UNIT`;
// - CREATE TABLE's PARTITION BY / CLUSTER BY / OPTIONS clauses are stripped and returned as table options;
// - @name and ? parameters → typed literals.

export type StatementType =
  | 'SELECT'
  | 'INSERT'
  | 'UPDATE'
  | 'DELETE'
  | 'MERGE'
  | 'CREATE_TABLE'
  | 'CREATE_TABLE_AS_SELECT'
  | 'CREATE_VIEW'
  | 'CREATE_SCHEMA'
  | 'DROP_TABLE'
  | 'DROP_VIEW'
  | 'DROP_SCHEMA'
  | 'ALTER_TABLE'
  | 'TRUNCATE_TABLE'
  | 'BEGIN_TRANSACTION'
  | 'COMMIT_TRANSACTION'
  | 'ROLLBACK_TRANSACTION';

export interface RewrittenStatement {
  statementType: StatementType;
  /** DuckDB SQL; empty when the statement has no DuckDB effect (e.g. ALTER TABLE … SET OPTIONS). */
  sql: string;
  /** MERGE with a WHEN MATCHED clause: returns a row iff some target row matches several source rows. */
  duplicateMatchCheck?: string;
  /**
   * MERGE without a DELETE action: counts the target's rows. The job counts before and after the MERGE: what it
   * added are inserts, the rest of the rows it changed are updates (see `merge` for why no RETURNING).
   */
  targetRowCount?: string;
  /** The table the statement writes or creates, when it names one. */
  target?: TableReference;
  /** PARTITION BY / CLUSTER BY of a CREATE TABLE. */
  tableOptions?: TableOptions;
}

export interface RewriteContext {
  projectId: string;
  defaultDatasetId?: string;
  parameters: BoundParameters;
}

export function rewriteScript(sql: string, context: RewriteContext): RewrittenStatement[] {
  const statements = splitTopLevel(tokenize(sql), (t) => isPunct(t, ';')).filter((s) => s.length > 0);
  if (statements.length === 0) throw invalidQuery('Syntax error: Unexpected end of script');
  const rewriter = new Rewriter(context);
  return statements.map((tokens) => rewriter.statement(tokens));
}

/** Joins SQL pieces, adding a space where the source had one or where two words would otherwise fuse. */
class SqlBuilder {
  private text = '';

  add(piece: string, spaced = true): void {
    if (!piece) return;
    const fuses = /[\w"'$]$/.test(this.text) && /^[\w"'$]/.test(piece);
    if (this.text && (spaced || fuses)) this.text += ' ';
    this.text += piece;
  }

  toString(): string {
    return this.text;
  }
}

interface TableName {
  parts: string[];
  sql: string;
  next: number;
}

const INTERVAL_UNITS = new Set([
  'MICROSECOND',
  'MILLISECOND',
  'SECOND',
  'MINUTE',
  'HOUR',
  'DAY',
  'WEEK',
  'MONTH',
  'QUARTER',
  'YEAR',
]);
const PARTITION_UNITS = new Set(['HOUR', 'DAY', 'MONTH', 'YEAR']);
const SUBSCRIPTS: Record<string, number> = { OFFSET: 1, SAFE_OFFSET: 1, ORDINAL: 0, SAFE_ORDINAL: 0 };
/** Words that end a FROM item, so they are never read as the alias of `UNNEST(…)`. */
const CLAUSE_KEYWORDS = new Set([
  'WITH',
  'ON',
  'USING',
  'WHERE',
  'GROUP',
  'ORDER',
  'HAVING',
  'LIMIT',
  'QUALIFY',
  'WINDOW',
  'JOIN',
  'LEFT',
  'RIGHT',
  'INNER',
  'FULL',
  'CROSS',
  'UNION',
  'EXCEPT',
  'INTERSECT',
]);
const SCRIPTING_KEYWORDS = new Set([
  'DECLARE',
  'SET',
  'IF',
  'LOOP',
  'WHILE',
  'REPEAT',
  'FOR',
  'CALL',
  'EXECUTE',
  'RAISE',
]);

class Rewriter implements ExpressionRewriter {
  private positionalIndex = 0;

  constructor(private readonly context: RewriteContext) {}

  // ---- statements ---------------------------------------------------------------------------------------------

  statement(tokens: Token[]): RewrittenStatement {
    const first = tokens[0]!;
    if (isPunct(first, '(')) return { statementType: 'SELECT', sql: this.expr(tokens) };
    switch (first.upper) {
      case 'SELECT':
      case 'WITH':
        return { statementType: 'SELECT', sql: this.expr(tokens) };
      case 'INSERT':
        return this.insert(tokens);
      case 'DELETE':
        return this.delete(tokens);
      case 'UPDATE':
        return this.update(tokens);
      case 'MERGE':
        return this.merge(tokens);
      case 'CREATE':
        return this.create(tokens);
      case 'DROP':
        return this.drop(tokens);
      case 'ALTER':
        return this.alter(tokens);
      case 'TRUNCATE': {
        const name = this.tableName(tokens, isWord(tokens[1], 'TABLE') ? 2 : 1);
        return { statementType: 'TRUNCATE_TABLE', sql: `TRUNCATE TABLE ${name.sql}`, ...this.targetOf(name) };
      }
      case 'BEGIN':
        return { statementType: 'BEGIN_TRANSACTION', sql: 'BEGIN TRANSACTION' };
      case 'COMMIT':
        return { statementType: 'COMMIT_TRANSACTION', sql: 'COMMIT' };
      case 'ROLLBACK':
        return { statementType: 'ROLLBACK_TRANSACTION', sql: 'ROLLBACK' };
      default:
        if (SCRIPTING_KEYWORDS.has(first.upper)) {
          throw invalidQuery(`The BigQuery emulator does not support the scripting statement ${first.upper}`);
        }
        throw invalidQuery(`Syntax error: Unexpected keyword ${first.text} at [1:1]`);
    }
  }

  private insert(tokens: Token[]): RewrittenStatement {
    const nameStart = isWord(tokens[1], 'INTO') ? 2 : 1;
    const name = this.tableName(tokens, nameStart);
    const sql = `INSERT INTO ${name.sql} ${this.expr(tokens.slice(name.next))}`;
    return { statementType: 'INSERT', sql, ...this.targetOf(name) };
  }

  private delete(tokens: Token[]): RewrittenStatement {
    const nameStart = isWord(tokens[1], 'FROM') ? 2 : 1;
    const name = this.tableName(tokens, nameStart);
    const sql = `DELETE FROM ${name.sql} ${this.expr(tokens.slice(name.next))}`;
    return { statementType: 'DELETE', sql, ...this.targetOf(name) };
  }

  private update(tokens: Token[]): RewrittenStatement {
    const name = this.tableName(tokens, 1);
    const rest = unqualifyAssignments(tokens.slice(name.next), ['FROM', 'WHERE']);
    return { statementType: 'UPDATE', sql: `UPDATE ${name.sql} ${this.expr(rest)}`, ...this.targetOf(name) };
  }

  private merge(tokens: Token[]): RewrittenStatement {
    const target = this.tableName(tokens, isWord(tokens[1], 'INTO') ? 2 : 1);
    let index = target.next;
    const targetAlias = readAlias(tokens, index, 'USING');
    index = targetAlias.next;
    if (!isWord(tokens[index], 'USING')) throw invalidQuery('Syntax error: Expected keyword USING in MERGE');
    index++;
    let sourceSql: string;
    let sourceDefaultAlias: string | undefined;
    if (isPunct(tokens[index], '(')) {
      const close = matchingParen(tokens, index);
      sourceSql = `(${this.expr(tokens.slice(index + 1, close))})`;
      index = close + 1;
    } else {
      const source = this.tableName(tokens, index);
      sourceSql = source.sql;
      sourceDefaultAlias = quoteIdentifier(source.parts.at(-1)!);
      index = source.next;
    }
    const sourceAlias = readAlias(tokens, index, 'ON');
    index = sourceAlias.next;
    if (!isWord(tokens[index], 'ON')) throw invalidQuery('Syntax error: Expected keyword ON in MERGE');
    const whenIndex = findTopLevel(tokens, index + 1, (t) => isWord(t, 'WHEN'));
    if (whenIndex < 0) throw invalidQuery('Syntax error: MERGE needs at least one WHEN clause');
    const condition = this.expr(tokens.slice(index + 1, whenIndex));
    const whenTokens = unqualifyAssignments(tokens.slice(whenIndex), ['WHEN']);
    const clauses = this.expr(whenTokens).replace(/\bINSERT\s+ROW\b/gi, 'INSERT *');
    const targetAs = targetAlias.alias ? ` AS ${targetAlias.alias}` : '';
    const sourceAs = sourceAlias.alias ? ` AS ${sourceAlias.alias}` : '';
    // DuckDB 1.5's MERGE … RETURNING can crash the process (a segfault copying the updated rows' strings into the
    // RETURNING buffer, seen under load). Without a DELETE action the counts follow from the target's row count
    // before and after plus the rows changed, so RETURNING is used only for a MERGE that deletes.
    const deletes = whenTokens.some((t, i) => isWord(whenTokens[i - 1], 'THEN') && isWord(t, 'DELETE'));
    const statement: RewrittenStatement = {
      statementType: 'MERGE',
      sql: `MERGE INTO ${target.sql}${targetAs} USING ${sourceSql}${sourceAs} ON ${condition} ${clauses}${deletes ? ' RETURNING merge_action' : ''}`,
      ...(deletes ? {} : { targetRowCount: `SELECT count(*) FROM ${target.sql}` }),
      ...this.targetOf(target),
    };
    // Only WHEN MATCHED clauses make a multiple match an error in BigQuery.
    const hasMatchedClause = whenTokens.some(
      (t, i) => isWord(t, 'WHEN') && isWord(whenTokens[i + 1], 'MATCHED'),
    );
    if (hasMatchedClause) {
      const rowOwner = targetAlias.alias ?? quoteIdentifier(target.parts.at(-1)!);
      const sourceName = sourceAlias.alias ?? sourceDefaultAlias;
      statement.duplicateMatchCheck =
        `SELECT 1 FROM ${target.sql} AS ${rowOwner} JOIN ${sourceSql}${sourceName ? ` AS ${sourceName}` : ''} ` +
        `ON ${condition} GROUP BY ${rowOwner}.rowid HAVING count(*) > 1 LIMIT 1`;
    }
    return statement;
  }

  private create(tokens: Token[]): RewrittenStatement {
    let index = 1;
    const modifiers: string[] = [];
    if (isWord(tokens[index], 'OR') && isWord(tokens[index + 1], 'REPLACE')) {
      modifiers.push('OR REPLACE');
      index += 2;
    }
    if (isWord(tokens[index], 'TEMP', 'TEMPORARY')) {
      modifiers.push('TEMP');
      index++;
    }
    const kind = tokens[index]?.upper;
    if (kind === 'SCHEMA') {
      return { statementType: 'CREATE_SCHEMA', sql: this.expr(stripOptions(tokens)) };
    }
    if (kind === 'VIEW') {
      return { statementType: 'CREATE_VIEW', sql: this.expr(stripOptions(tokens)) };
    }
    if (kind !== 'TABLE') throw invalidQuery(`The BigQuery emulator does not support CREATE ${kind ?? ''}`);
    index++;
    let ifNotExists = '';
    if (
      isWord(tokens[index], 'IF') &&
      isWord(tokens[index + 1], 'NOT') &&
      isWord(tokens[index + 2], 'EXISTS')
    ) {
      ifNotExists = ' IF NOT EXISTS';
      index += 3;
    }
    const name = this.tableName(tokens, index);
    index = name.next;
    let columns = '';
    if (isPunct(tokens[index], '(') && !isWord(tokens[index + 1], 'SELECT', 'WITH')) {
      const close = matchingParen(tokens, index);
      columns = ` (${this.columnDefinitions(tokens.slice(index + 1, close))})`;
      index = close + 1;
    }
    const options: TableOptions = {};
    let query = '';
    while (index < tokens.length) {
      const token = tokens[index]!;
      if (isWord(token, 'AS')) {
        query = ` AS ${this.expr(tokens.slice(index + 1))}`;
        break;
      }
      const clauseEnd = findTopLevel(
        tokens,
        index + 1,
        (t, i) =>
          (isWord(t, 'PARTITION', 'CLUSTER') && isWord(tokens[i + 1], 'BY')) ||
          isWord(t, 'OPTIONS', 'AS') ||
          (isWord(t, 'DEFAULT') && isWord(tokens[i + 1], 'COLLATE')),
      );
      const clause = tokens.slice(index, clauseEnd < 0 ? tokens.length : clauseEnd);
      if (isWord(token, 'PARTITION')) options.timePartitioning = partitionSpec(clause.slice(2));
      else if (isWord(token, 'CLUSTER')) {
        options.clustering = {
          fields: splitTopLevel(clause.slice(2), isComma).map((f) => f[0]?.value ?? ''),
        };
      } else if (!isWord(token, 'OPTIONS', 'DEFAULT')) {
        throw invalidQuery(`The BigQuery emulator does not support CREATE TABLE … ${token.text}`);
      }
      index += clause.length;
    }
    const statement: RewrittenStatement = {
      statementType: query ? 'CREATE_TABLE_AS_SELECT' : 'CREATE_TABLE',
      sql: `CREATE ${modifiers.join(' ')}${modifiers.length ? ' ' : ''}TABLE${ifNotExists} ${name.sql}${columns}${query}`,
      ...this.targetOf(name),
    };
    if (options.timePartitioning || options.clustering) statement.tableOptions = options;
    return statement;
  }

  private columnDefinitions(tokens: Token[]): string {
    return splitTopLevel(tokens, isComma)
      .filter((column) => !isWord(column[0], 'PRIMARY', 'FOREIGN', 'CONSTRAINT')) // NOT ENFORCED constraints
      .map((column) => this.columnDefinition(column))
      .join(', ');
  }

  private columnDefinition(column: Token[]): string {
    const nameToken = column[0];
    if (!isIdentifier(nameToken)) throw invalidQuery('Syntax error: Expected a column name');
    const [type, next] = parseType(column, 1);
    const parts = [quoteIdentifier(nameToken!.value), type];
    let index = next;
    while (index < column.length) {
      const token = column[index]!;
      if (isWord(token, 'NOT') && isWord(column[index + 1], 'NULL')) {
        parts.push('NOT NULL');
        index += 2;
      } else if (isWord(token, 'OPTIONS') && isPunct(column[index + 1], '(')) {
        index = matchingParen(column, index + 1) + 1;
      } else if (isWord(token, 'DEFAULT')) {
        const end = findTopLevel(column, index + 1, (t) => isWord(t, 'OPTIONS', 'NOT'));
        const stop = end < 0 ? column.length : end;
        parts.push(`DEFAULT ${this.expr(column.slice(index + 1, stop))}`);
        index = stop;
      } else if (isWord(token, 'PRIMARY') || isWord(token, 'COLLATE')) {
        index = column.length; // PRIMARY KEY NOT ENFORCED / COLLATE: not modelled
      } else {
        throw invalidQuery(`The BigQuery emulator does not support column option ${token.text}`);
      }
    }
    return parts.join(' ');
  }

  private drop(tokens: Token[]): RewrittenStatement {
    const kind = tokens[1]?.upper;
    const statementType = kind === 'SCHEMA' ? 'DROP_SCHEMA' : kind === 'VIEW' ? 'DROP_VIEW' : 'DROP_TABLE';
    if (kind !== 'SCHEMA' && kind !== 'VIEW' && kind !== 'TABLE') {
      throw invalidQuery(`The BigQuery emulator does not support DROP ${kind ?? ''}`);
    }
    return { statementType, sql: this.expr(tokens) };
  }

  private alter(tokens: Token[]): RewrittenStatement {
    if (!isWord(tokens[1], 'TABLE')) throw invalidQuery(`The BigQuery emulator supports only ALTER TABLE`);
    let index = 2;
    let ifExists = '';
    if (isWord(tokens[index], 'IF') && isWord(tokens[index + 1], 'EXISTS')) {
      ifExists = ' IF EXISTS';
      index += 2;
    }
    const name = this.tableName(tokens, index);
    const actions = splitTopLevel(tokens.slice(name.next), isComma);
    const statements = actions.flatMap((action) => {
      if (isWord(action[0], 'SET') && isWord(action[1], 'OPTIONS')) return []; // metadata only
      if (isWord(action[0], 'ADD') && isWord(action[1], 'COLUMN')) {
        let start = 2;
        let ifNotExists = '';
        if (isWord(action[2], 'IF') && isWord(action[3], 'NOT') && isWord(action[4], 'EXISTS')) {
          ifNotExists = ' IF NOT EXISTS';
          start = 5;
        }
        return [
          `ALTER TABLE${ifExists} ${name.sql} ADD COLUMN${ifNotExists} ${this.columnDefinition(action.slice(start))}`,
        ];
      }
      return [`ALTER TABLE${ifExists} ${name.sql} ${this.expr(action)}`];
    });
    return { statementType: 'ALTER_TABLE', sql: statements.join('; '), ...this.targetOf(name) };
  }

  // ---- names ------------------------------------------------------------------------------------------------------

  /** A table path: `ds.t`, `proj.ds.t`, `` `proj.ds.t` ``, `` `proj`.ds.t ``. */
  private tableName(tokens: Token[], start: number): TableName {
    const parts: string[] = [];
    let index = start;
    while (isIdentifier(tokens[index])) {
      const token = tokens[index]!;
      parts.push(...(token.kind === 'quoted' ? token.value.split('.') : [token.text]));
      index++;
      if (!isPunct(tokens[index], '.') || !isIdentifier(tokens[index + 1])) break;
      index++;
    }
    if (parts.length === 0)
      throw invalidQuery(`Syntax error: Expected a table name at "${tokens[start]?.text ?? 'end'}"`);
    return { parts, sql: parts.map(quoteIdentifier).join('.'), next: index };
  }

  private targetOf(name: TableName): { target?: TableReference } {
    const [a, b, c] = name.parts;
    if (name.parts.length === 3) return { target: { projectId: a!, datasetId: b!, tableId: c! } };
    if (name.parts.length === 2)
      return { target: { projectId: this.context.projectId, datasetId: a!, tableId: b! } };
    if (this.context.defaultDatasetId) {
      return {
        target: { projectId: this.context.projectId, datasetId: this.context.defaultDatasetId, tableId: a! },
      };
    }
    return {};
  }

  // ---- expressions -------------------------------------------------------------------------------------------------

  expr(tokens: Token[]): string {
    const out = new SqlBuilder();
    let index = 0;
    while (index < tokens.length) {
      const token = tokens[index]!;
      switch (token.kind) {
        case 'quoted':
          out.add(token.value.split('.').map(quoteIdentifier).join('.'), token.spaced);
          index++;
          break;
        case 'string':
          out.add(sqlString(token.value), token.spaced);
          index++;
          break;
        case 'bytes':
          out.add(
            `from_base64(${sqlString(Buffer.from(token.value, 'latin1').toString('base64'))})`,
            token.spaced,
          );
          index++;
          break;
        case 'param':
          out.add(this.namedParameter(token), token.spaced);
          index++;
          break;
        case 'positional':
          out.add(this.positionalParameter(), token.spaced);
          index++;
          break;
        case 'word':
          index = this.word(tokens, index, out);
          break;
        case 'number':
          // GoogleSQL types 1.5 and 1e3 as FLOAT64; DuckDB types 1.5 as DECIMAL (so 0.1 + 0.2 would be exact).
          out.add(
            /^(?:\d*\.\d*|[\d.]+[eE][+-]?\d+)$/.test(token.text)
              ? `CAST(${token.text} AS DOUBLE)`
              : token.text,
            token.spaced,
          );
          index++;
          break;
        default:
          if (
            token.text === '[' &&
            isWord(tokens[index + 1], ...Object.keys(SUBSCRIPTS)) &&
            isPunct(tokens[index + 2], '(')
          ) {
            index = this.subscript(tokens, index, out);
            break;
          }
          if (token.text === '*' && isWord(tokens[index + 1], 'EXCEPT') && isPunct(tokens[index + 2], '(')) {
            out.add('* EXCLUDE', token.spaced);
            index += 2;
            break;
          }
          out.add(token.text, token.spaced);
          index++;
      }
    }
    return out.toString();
  }

  private word(tokens: Token[], index: number, out: SqlBuilder): number {
    const token = tokens[index]!;
    const next = tokens[index + 1];
    const memberAccess = isPunct(tokens[index - 1], '.');
    if (memberAccess) {
      out.add(token.text, token.spaced);
      return index + 1;
    }
    const literalType = TYPED_LITERALS[token.upper];
    if (literalType && next?.kind === 'string') {
      out.add(`CAST(${sqlString(next.value)} AS ${literalType})`, token.spaced);
      return index + 2;
    }
    if (token.upper === 'INTERVAL') return this.interval(tokens, index, out);
    if (
      isWord(token, 'ARRAY', 'STRUCT') &&
      (isPunct(next, '<') || (token.upper === 'STRUCT' && isPunct(next, '(')))
    ) {
      return this.typedConstructor(tokens, index, out);
    }
    if (token.upper === 'IN' && isWord(next, 'UNNEST') && isPunct(tokens[index + 2], '(')) {
      const close = matchingParen(tokens, index + 2);
      out.add(`IN (SELECT UNNEST(${this.expr(tokens.slice(index + 3, close))}))`, token.spaced);
      return close + 1;
    }
    if (token.upper === 'UNNEST' && isPunct(next, '(')) return this.unnestFromItem(tokens, index, out);
    if (isPunct(next, '(')) {
      const close = matchingParen(tokens, index + 1);
      const rewritten = rewriteFunctionCall(token.upper, tokens.slice(index + 2, close), this);
      if (rewritten !== undefined) {
        out.add(rewritten, token.spaced);
        return close + 1;
      }
    }
    out.add(token.text, token.spaced);
    return index + 1;
  }

  /** `[OFFSET(k)]` (0-based) / `[ORDINAL(k)]` (1-based), SAFE_ or not → DuckDB's 1-based list subscript. */
  private subscript(tokens: Token[], index: number, out: SqlBuilder): number {
    const kind = tokens[index + 1]!.upper;
    const close = matchingParen(tokens, index + 2);
    if (!isPunct(tokens[close + 1], ']')) throw invalidQuery(`Syntax error: Expected "]" after ${kind}(…)`);
    const position = this.expr(tokens.slice(index + 3, close));
    out.add(SUBSCRIPTS[kind] ? `[(${position}) + 1]` : `[${position}]`, tokens[index]!.spaced);
    return close + 2;
  }

  /**
   * `UNNEST(x) [AS] v [WITH OFFSET [AS] o]` as a FROM item. DuckDB's table function would make `v` a table whose
   * one column is named `unnest`, so the array is unnested in a subquery whose column is `v` (and `o`); the
   * subquery's own name differs from `v` so that `v.field` reads a field of the element. Without an alias, struct
   * elements become columns as in BigQuery. References to earlier FROM items work: DuckDB joins such subqueries
   * laterally.
   */
  private unnestFromItem(tokens: Token[], index: number, out: SqlBuilder): number {
    const close = matchingParen(tokens, index + 1);
    const array = this.expr(tokens.slice(index + 2, close));
    let next = close + 1;
    const aliasAt = isWord(tokens[next], 'AS') ? next + 1 : next;
    let alias: string | undefined;
    const candidate = tokens[aliasAt];
    if (isIdentifier(candidate) && !(candidate!.kind === 'word' && CLAUSE_KEYWORDS.has(candidate!.upper))) {
      alias = candidate!.value;
      next = aliasAt + 1;
    }
    let offsetColumn = '';
    if (isWord(tokens[next], 'WITH') && isWord(tokens[next + 1], 'OFFSET')) {
      next += 2;
      let offsetName = 'offset';
      const offsetAt = isWord(tokens[next], 'AS') ? next + 1 : next;
      const offsetToken = tokens[offsetAt];
      if (
        isIdentifier(offsetToken) &&
        !(offsetToken!.kind === 'word' && CLAUSE_KEYWORDS.has(offsetToken!.upper))
      ) {
        offsetName = offsetToken!.value;
        next = offsetAt + 1;
      }
      offsetColumn = `, unnest(generate_series(0, len(${array}) - 1)) AS ${quoteIdentifier(offsetName)}`;
    }
    const sql =
      alias === undefined
        ? `(SELECT unnest(${array}, max_depth := 2)${offsetColumn})`
        : `(SELECT unnest(${array}) AS ${quoteIdentifier(alias)}${offsetColumn}) AS ${quoteIdentifier(`_unnest_${alias}`)}`;
    out.add(sql, tokens[index]!.spaced);
    return next;
  }

  /**
   * Typed and untyped constructors: `STRUCT(1 AS a, 'x' AS b)` → `struct_pack(a := 1, b := 'x')`,
   * `STRUCT<a INT64>(1)` → `CAST(row(1) AS STRUCT("a" BIGINT))`, `ARRAY<INT64>[1, 2]` → `CAST([1, 2] AS BIGINT[])`.
   */
  private typedConstructor(tokens: Token[], index: number, out: SqlBuilder): number {
    const token = tokens[index]!;
    let type: string | undefined;
    let open = index + 1;
    if (isPunct(tokens[open], '<')) [type, open] = parseType(tokens, index);
    const bracket = token.upper === 'ARRAY' ? '[' : '(';
    if (!isPunct(tokens[open], bracket)) {
      throw invalidQuery(`Syntax error: Expected "${bracket}" after ${token.upper} type`);
    }
    const close = matchingParen(tokens, open);
    const inner = tokens.slice(open + 1, close);
    let value: string;
    if (token.upper === 'ARRAY') {
      value = `[${this.expr(inner)}]`;
    } else {
      const fields = splitTopLevel(inner, isComma).map((field) => {
        const named = field.length > 2 && isWord(field.at(-2), 'AS') && isIdentifier(field.at(-1));
        if (named) return { name: field.at(-1)!.value, sql: this.expr(field.slice(0, -2)) };
        // BigQuery names a field after a bare column or path (`STRUCT(id, t.title)` has fields id and title).
        const path = field.every((t, k) => (k % 2 === 0 ? isIdentifier(t) : isPunct(t, '.')));
        return { name: path ? field.at(-1)!.value.split('.').at(-1) : undefined, sql: this.expr(field) };
      });
      value =
        type === undefined && fields.length > 0 && fields.every((f) => f.name !== undefined)
          ? `struct_pack(${fields.map((f) => `${quoteIdentifier(f.name!)} := ${f.sql}`).join(', ')})`
          : `row(${fields.map((f) => f.sql).join(', ')})`;
    }
    out.add(type === undefined ? value : `CAST(${value} AS ${type})`, token.spaced);
    return close + 1;
  }

  /** `INTERVAL <expr> <unit>`: DuckDB needs parentheses around anything but a literal. */
  private interval(tokens: Token[], index: number, out: SqlBuilder): number {
    const unitIndex = findTopLevel(
      tokens,
      index + 1,
      (t) => (t.kind === 'word' && INTERVAL_UNITS.has(t.upper)) || isComma(t) || isPunct(t, ')'),
    );
    const unit = tokens[unitIndex];
    if (unitIndex <= index + 1 || unit?.kind !== 'word') {
      out.add(tokens[index]!.text, tokens[index]!.spaced);
      return index + 1;
    }
    const value = tokens.slice(index + 1, unitIndex);
    const literal = value.length === 1 && (value[0]!.kind === 'number' || value[0]!.kind === 'string');
    out.add(
      `INTERVAL ${literal ? this.expr(value) : `(${this.expr(value)})`} ${unit.upper}`,
      tokens[index]!.spaced,
    );
    return unitIndex + 1;
  }

  cast(tokens: Token[], castFunction: 'CAST' | 'TRY_CAST'): string {
    let asIndex = -1;
    for (let i = findTopLevel(tokens, 0, (t) => isWord(t, 'AS')); i >= 0; ) {
      asIndex = i;
      i = findTopLevel(tokens, i + 1, (t) => isWord(t, 'AS'));
    }
    if (asIndex < 0) throw invalidQuery(`Syntax error: ${castFunction} needs "AS type"`);
    const [type, end] = parseType(tokens, asIndex + 1);
    if (end !== tokens.length) {
      throw invalidQuery(`The BigQuery emulator does not support ${tokens[end]!.text} in CAST`);
    }
    return `${castFunction}(${this.expr(tokens.slice(0, asIndex))} AS ${type})`;
  }

  private namedParameter(token: Token): string {
    if (token.text.startsWith('@@')) {
      throw invalidQuery(`The BigQuery emulator does not support system variables (${token.text})`);
    }
    const literal = this.context.parameters.named.get(token.value.toLowerCase());
    if (literal === undefined) throw invalidQuery(`Query parameter '${token.value}' not found`);
    return literal;
  }

  private positionalParameter(): string {
    const literal = this.context.parameters.positional[this.positionalIndex++];
    if (literal === undefined)
      throw invalidQuery('Not enough positional query parameters for the ? placeholders');
    return literal;
  }
}

/** `[AS] alias` before `stopWord`. */
function readAlias(tokens: Token[], index: number, stopWord: string): { alias?: string; next: number } {
  let position = index;
  if (isWord(tokens[position], 'AS')) position++;
  const token = tokens[position];
  if (isIdentifier(token) && !isWord(token, stopWord)) {
    return {
      alias: token!.kind === 'quoted' ? quoteIdentifier(token!.value) : token!.text,
      next: position + 1,
    };
  }
  return { next: index };
}

/**
 * In every `SET a = …, b = …` list, drops qualifiers from the assignment targets (`T.col = …` → `col = …`):
 * BigQuery allows them, DuckDB refuses them ("Qualified column names in UPDATE .. SET not supported"). A list ends
 * at a depth-0 `stopWords` keyword.
 */
function unqualifyAssignments(tokens: Token[], stopWords: string[]): Token[] {
  const result: Token[] = [];
  let index = 0;
  while (index < tokens.length) {
    const token = tokens[index]!;
    result.push(token);
    index++;
    if (!isWord(token, 'SET')) continue;
    const end = findTopLevel(tokens, index, (t) => isWord(t, ...stopWords));
    const listEnd = end < 0 ? tokens.length : end;
    const assignments = splitTopLevel(tokens.slice(index, listEnd), isComma);
    assignments.forEach((assignment, i) => {
      if (i > 0) result.push({ kind: 'punct', text: ',', value: ',', spaced: false, upper: ',' });
      const equals = findTopLevel(assignment, 0, (t) => isPunct(t, '='));
      const targetTokens = equals > 0 ? assignment.slice(0, equals) : [];
      const qualified =
        targetTokens.length > 1 &&
        targetTokens.every((t, k) => (k % 2 === 0 ? isIdentifier(t) : isPunct(t, '.')));
      if (qualified) result.push({ ...targetTokens.at(-1)!, spaced: true }, ...assignment.slice(equals));
      else result.push(...assignment);
    });
    index = listEnd;
  }
  return result;
}

/** Removes `OPTIONS(…)` clauses (descriptions, labels, expirations: metadata DuckDB has no place for). */
function stripOptions(tokens: Token[]): Token[] {
  const result: Token[] = [];
  for (let i = 0; i < tokens.length; i++) {
    if (isWord(tokens[i], 'OPTIONS') && isPunct(tokens[i + 1], '(')) i = matchingParen(tokens, i + 1);
    else result.push(tokens[i]!);
  }
  return result;
}

/** PARTITION BY col | DATE(col) | TIMESTAMP_TRUNC(col, UNIT) | DATETIME_TRUNC | DATE_TRUNC | _PARTITIONDATE. */
function partitionSpec(tokens: Token[]): TimePartitioning {
  const [first, second] = tokens;
  if (tokens.length === 1 && isIdentifier(first)) {
    return isWord(first, '_PARTITIONDATE', '_PARTITIONTIME')
      ? { type: 'DAY' }
      : { type: 'DAY', field: first!.value };
  }
  if (isPunct(second, '(') && isWord(first, 'DATE', 'TIMESTAMP_TRUNC', 'DATETIME_TRUNC', 'DATE_TRUNC')) {
    const args = splitTopLevel(tokens.slice(2, matchingParen(tokens, 1)), isComma);
    const column = args[0]?.[0];
    const unit = first!.upper === 'DATE' ? 'DAY' : (args[1]?.[0]?.upper ?? '');
    if (isIdentifier(column) && PARTITION_UNITS.has(unit)) {
      const type = unit as TimePartitioning['type'];
      return isWord(column, '_PARTITIONTIME', '_PARTITIONDATE') ? { type } : { type, field: column!.value };
    }
  }
  throw invalidQuery(
    `The BigQuery emulator does not support PARTITION BY ${tokens.map((t) => t.text).join(' ')}`,
  );
}
