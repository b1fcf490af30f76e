import type { DuckDBConnection, DuckDBResultReader, DuckDBValue } from '@duckdb/node-api';
import type { Catalog } from './catalog.ts';
import { fieldForDuckDbType } from './cells.ts';
import {
  type DuckDbEngine,
  inTransaction,
  qualifiedSchemaName,
  qualifiedTableName,
} from './duckdb-engine.ts';
import { BigQueryApiError, duplicate, invalid, invalidQuery, notFound } from './errors.ts';
import { checkTableId, type TableReference, tableLabel } from './names.ts';
import {
  partitionBounds,
  partitionsReadPredicate,
  type StatementScan,
  scanOfStatement,
} from './partitions.ts';
import { type BoundParameters, bindParameters } from './query-parameters.ts';
import { quoteIdentifier, type TableSchema } from './schema.ts';
import { isPunct, splitTopLevel, tokenize } from './sql-lexer.ts';
import {
  type RewriteContext,
  type RewrittenStatement,
  rewriteScript,
  type StatementType,
} from './sql-rewrite.ts';

// Query jobs (SELECT, DML, DDL, and scripts of several statements) executed by DuckDB after the GoogleSQL rewrite.
// All statements of a job run while the engine is held exclusively, so a job sees no other job's half-done work.

export interface QueryConfiguration {
  query: string;
  defaultDataset?: { projectId: string; datasetId: string };
  parameters: BoundParameters;
  destination?: {
    ref: TableReference;
    writeDisposition: 'WRITE_APPEND' | 'WRITE_TRUNCATE' | 'WRITE_EMPTY';
    createDisposition: 'CREATE_IF_NEEDED' | 'CREATE_NEVER';
  };
}

export interface QueryRows {
  schema: TableSchema;
  rows: DuckDBValue[][];
}

export interface DmlCounts {
  inserted: number;
  updated: number;
  deleted: number;
}

/** One statement of a script: BigQuery runs each as a child job of the script's job. */
export interface StatementOutcome {
  statementType: StatementType;
  /** The statement's GoogleSQL text: the child job's `configuration.query.query`. */
  query: string;
  dml?: DmlCounts;
  ddlTarget?: TableReference;
  bytesProcessed: number;
}

export interface QueryResult {
  /** The single statement's type, or SCRIPT for several statements. */
  statementType: StatementType | 'SCRIPT';
  /**
   * A script's statements, in order. As in BigQuery, a script's own job carries no DML counts: they are its child
   * jobs' (`jobs.list?parentJobId=`).
   */
  children?: StatementOutcome[];
  /** Rows of the (last) SELECT. */
  rows?: QueryRows;
  /** Row counts of the DML statements. */
  dml?: DmlCounts;
  ddlTarget?: TableReference;
  /** Bytes of the partitions and columns the statements read (statistics.query.totalBytesProcessed). */
  bytesProcessed: number;
}

export interface QueryContext {
  engine: DuckDbEngine;
  catalog: Catalog;
}

/** Reads a jobs.query body or a `configuration.query`; problems here are 400 answers. */
export function checkQueryConfiguration(projectId: string, raw: Record<string, unknown>): QueryConfiguration {
  if (typeof raw.query !== 'string' || raw.query.trim() === '') throw invalid('Query text is required');
  // The REST default for jobs.insert is legacy SQL; the Node client always sends useLegacySql:false. The emulator
  // speaks GoogleSQL only, and reads an absent flag as GoogleSQL rather than refusing the job.
  if (raw.useLegacySql === true) {
    throw invalid('The BigQuery emulator supports only GoogleSQL; set useLegacySql: false');
  }
  const config: QueryConfiguration = { query: raw.query, parameters: bindParameters(raw.queryParameters) };
  const defaultDataset = raw.defaultDataset as { projectId?: string; datasetId?: string } | undefined;
  if (defaultDataset?.datasetId) {
    config.defaultDataset = {
      projectId: defaultDataset.projectId ?? projectId,
      datasetId: defaultDataset.datasetId,
    };
  }
  const destination = raw.destinationTable as Partial<TableReference> | undefined;
  if (destination?.datasetId && destination.tableId) {
    config.destination = {
      ref: {
        projectId: destination.projectId ?? projectId,
        datasetId: destination.datasetId,
        tableId: checkTableId(destination.tableId),
      },
      writeDisposition: (raw.writeDisposition as 'WRITE_EMPTY' | undefined) ?? 'WRITE_EMPTY',
      createDisposition: (raw.createDisposition as 'CREATE_NEVER' | undefined) ?? 'CREATE_IF_NEEDED',
    };
  }
  return config;
}

export async function runQueryJob(
  context: QueryContext,
  projectId: string,
  config: QueryConfiguration,
): Promise<QueryResult> {
  const rewriteContext: RewriteContext = {
    projectId,
    ...(config.defaultDataset ? { defaultDatasetId: config.defaultDataset.datasetId } : {}),
    parameters: config.parameters,
  };
  const statements = rewriteScript(config.query, rewriteContext);
  // The same split rewriteScript makes: one GoogleSQL token list per rewritten statement.
  const sources = splitTopLevel(tokenize(config.query), (t) => isPunct(t, ';')).filter((s) => s.length > 0);
  const scans = sources.map((tokens) => scanOfStatement(tokens, rewriteContext));
  const texts = sources.map((tokens) =>
    tokens.map((t, i) => (i > 0 && t.spaced ? ' ' : '') + t.text).join(''),
  );
  const { engine, catalog } = context;
  return engine.exclusive(async (connection) => {
    await engine.ensureProject(connection, projectId);
    for (const statement of statements) {
      if (statement.target) await engine.ensureProject(connection, statement.target.projectId);
    }
    const defaults = config.defaultDataset;
    if (defaults) {
      await engine.ensureProject(connection, defaults.projectId);
      await catalog.requireDataset(connection, defaults.projectId, defaults.datasetId);
      await connection.run(`USE ${qualifiedSchemaName(defaults.projectId, defaults.datasetId)}`);
    } else {
      await connection.run(`USE ${quoteIdentifier(projectId)}`);
    }
    const result = await runStatements(connection, catalog, statements, scans, texts, rewriteContext);
    if (config.destination && result.rows) {
      await writeDestination(connection, catalog, config.destination, statements.at(-1)!);
    }
    return result;
  });
}

async function runStatements(
  connection: DuckDBConnection,
  catalog: Catalog,
  statements: RewrittenStatement[],
  scans: StatementScan[],
  texts: string[],
  rewriteContext: RewriteContext,
): Promise<QueryResult> {
  const outcomes: StatementOutcome[] = [];
  let rows: QueryRows | undefined;
  let openTransaction = false;
  try {
    for (const [index, statement] of statements.entries()) {
      const outcome: StatementOutcome = {
        statementType: statement.statementType,
        query: texts[index] ?? '',
        bytesProcessed: 0,
      };
      outcomes.push(outcome);
      const scan = scans[index];
      if (scan && READING_STATEMENTS.has(statement.statementType)) {
        outcome.bytesProcessed = await bytesRead(connection, catalog, scan, rewriteContext);
      }
      if (statement.duplicateMatchCheck) await checkSingleMatches(connection, statement.duplicateMatchCheck);
      if (!statement.sql) continue;
      const rowsBefore = statement.targetRowCount
        ? await countRows(connection, statement.targetRowCount)
        : undefined;
      const reader = await connection.runAndReadAll(statement.sql);
      if (statement.statementType === 'BEGIN_TRANSACTION') openTransaction = true;
      if (
        statement.statementType === 'COMMIT_TRANSACTION' ||
        statement.statementType === 'ROLLBACK_TRANSACTION'
      ) {
        openTransaction = false;
      }
      if (rowsBefore !== undefined) {
        // A MERGE without RETURNING: inserts grew the table, every other changed row was updated.
        const inserted = (await countRows(connection, statement.targetRowCount!)) - rowsBefore;
        outcome.dml = { inserted, updated: Number(reader.rowsChanged) - inserted, deleted: 0 };
      } else if (statement.statementType === 'SELECT') {
        rows = { schema: resultSchema(reader), rows: reader.getRows() };
      } else {
        collectOutcome(outcome, statement, reader);
      }
      if (statement.target) {
        if (statement.tableOptions)
          await catalog.setTableOptions(connection, statement.target, statement.tableOptions);
        catalog.touchTable(statement.target);
      }
    }
  } catch (error) {
    // BigQuery rolls back a script's open transaction when a statement fails.
    if (openTransaction) await connection.run('ROLLBACK').catch(() => undefined);
    const failure = translateDuckDbError(error);
    // A script's statements that ran before the failing one stay done (and listed as its child jobs).
    if (statements.length > 1) throw new ScriptFailure(failure, outcomes);
    throw failure;
  }
  if (outcomes.length === 1) {
    const [only] = outcomes as [StatementOutcome];
    return {
      statementType: only.statementType,
      bytesProcessed: only.bytesProcessed,
      ...(rows ? { rows } : {}),
      ...(only.dml ? { dml: only.dml } : {}),
      ...(only.ddlTarget ? { ddlTarget: only.ddlTarget } : {}),
    };
  }
  return {
    statementType: 'SCRIPT',
    // A script bills what its statements read; it returns the last SELECT's rows.
    bytesProcessed: outcomes.reduce((sum, o) => sum + o.bytesProcessed, 0),
    ...(rows ? { rows } : {}),
    children: outcomes,
  };
}

/** A script that failed at its last statement in `statements`; those before it completed. */
export class ScriptFailure extends Error {
  constructor(
    override readonly cause: Error,
    readonly statements: StatementOutcome[],
  ) {
    super(cause.message);
  }
}

const READING_STATEMENTS = new Set<StatementType>([
  'SELECT',
  'INSERT',
  'UPDATE',
  'DELETE',
  'MERGE',
  'CREATE_TABLE_AS_SELECT',
]);

/** Fixed sizes BigQuery counts per value; STRING and BYTES are 2 + their length. */
const FIXED_BYTES: Record<string, number> = {
  INTEGER: 8,
  INT64: 8,
  FLOAT: 8,
  FLOAT64: 8,
  TIMESTAMP: 8,
  DATETIME: 8,
  DATE: 8,
  TIME: 8,
  BOOLEAN: 1,
  BOOL: 1,
  NUMERIC: 16,
  BIGNUMERIC: 32,
};

/**
 * What the statement reads of each table it names: the rows of the partitions its constant conditions leave,
 * times the sizes of the columns it mentions. Refuses a table that requires a partition filter and got none.
 */
async function bytesRead(
  connection: DuckDBConnection,
  catalog: Catalog,
  scan: StatementScan,
  rewriteContext: RewriteContext,
): Promise<number> {
  let total = 0;
  const seen = new Set<string>();
  for (const table of scan.tables) {
    const info = await catalog.getTable(connection, table.ref, { countRows: false });
    if (info?.type !== 'TABLE') continue;
    const { projectId, datasetId, tableId } = info.ref;
    const label = `${projectId}.${datasetId}.${tableId}`;
    let where = '';
    const partitioning = info.timePartitioning;
    if (partitioning?.field) {
      const bounds = partitionBounds(table, partitioning.field, scan.bounds);
      if (bounds.length === 0 && partitioning.requirePartitionFilter) {
        throw invalidQuery(
          `Cannot query over table '${label}' without a filter over column(s) '${partitioning.field}' that can be used for partition elimination`,
        );
      }
      const toDuckDb = (googleSql: string) =>
        rewriteScript(`SELECT ${googleSql}`, rewriteContext)[0]!.sql.replace(/^SELECT\s+/i, '');
      if (bounds.length > 0)
        where = ` WHERE ${partitionsReadPredicate(partitioning.field, partitioning.type.toLowerCase(), bounds, toDuckDb)}`;
    }
    if (seen.has(label + where)) continue;
    seen.add(label + where);
    const fields = info.schema.fields.filter(
      (f) => scan.columns === 'all' || scan.columns.has(f.name.toLowerCase()),
    );
    const fixed = fields.reduce((sum, f) => sum + (FIXED_BYTES[f.type] ?? 0), 0);
    const variable = fields
      .filter((f) => FIXED_BYTES[f.type] === undefined)
      .map((f) => `coalesce(sum(strlen(CAST(${quoteIdentifier(f.name)} AS VARCHAR)) + 2), 0)`);
    const qualified = qualifiedTableName(projectId, datasetId, tableId);
    const reader = await connection.runAndReadAll(
      `SELECT count(*) AS n${variable.map((v, i) => `, ${v} AS v${i}`).join('')} FROM ${qualified}${where}`,
    );
    const row = reader.getRows()[0] ?? [];
    total += Number(row[0] ?? 0) * fixed;
    for (let i = 1; i < row.length; i++) total += Number(row[i] ?? 0);
  }
  return total;
}

/**
 * BigQuery fails a MERGE (or UPDATE … FROM) when one target row matches several source rows; DuckDB applies every
 * match silently, so the condition is checked first with the MERGE's own join.
 */
async function checkSingleMatches(connection: DuckDBConnection, checkSql: string): Promise<void> {
  const reader = await connection.runAndReadAll(checkSql);
  if (reader.currentRowCount > 0) {
    throw invalidQuery('UPDATE/MERGE must match at most one source row for each target row');
  }
}

async function countRows(connection: DuckDBConnection, countSql: string): Promise<number> {
  const reader = await connection.runAndReadAll(countSql);
  return Number(reader.getRows()[0]?.[0] ?? 0);
}

function collectOutcome(
  outcome: StatementOutcome,
  statement: RewrittenStatement,
  reader: DuckDBResultReader,
): void {
  const dml = () => {
    outcome.dml ??= { inserted: 0, updated: 0, deleted: 0 };
    return outcome.dml;
  };
  switch (statement.statementType) {
    case 'INSERT':
      dml().inserted += reader.rowsChanged;
      break;
    case 'UPDATE':
      dml().updated += reader.rowsChanged;
      break;
    case 'DELETE':
      dml().deleted += reader.rowsChanged;
      break;
    case 'MERGE': {
      // A MERGE that deletes ends with RETURNING merge_action: one row per affected target row.
      const counts = dml();
      for (const [action] of reader.getRows()) {
        if (action === 'INSERT') counts.inserted++;
        else if (action === 'UPDATE') counts.updated++;
        else if (action === 'DELETE') counts.deleted++;
      }
      break;
    }
    default:
      if (statement.target && statement.statementType.startsWith('CREATE_TABLE'))
        outcome.ddlTarget = statement.target;
  }
}

const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Result columns as BigQuery names them: expressions without an alias become f0_, f1_, … by position. */
function resultSchema(reader: DuckDBResultReader): TableSchema {
  const types = reader.columnTypes();
  const fields = reader
    .columnNames()
    .map((name, i) => fieldForDuckDbType(FIELD_NAME.test(name) ? name : `f${i}_`, types[i]!));
  // The client merges cells into objects by name, so BigQuery refuses what would silently collapse.
  const seen = new Set<string>();
  for (const field of fields) {
    const lower = field.name.toLowerCase();
    if (seen.has(lower)) {
      throw invalidQuery(
        `Duplicate column names in the result are not supported. Found duplicate(s): ${field.name}`,
      );
    }
    seen.add(lower);
  }
  return { fields };
}

async function writeDestination(
  connection: DuckDBConnection,
  catalog: Catalog,
  destination: NonNullable<QueryConfiguration['destination']>,
  statement: RewrittenStatement,
): Promise<void> {
  const { ref, writeDisposition, createDisposition } = destination;
  const table = await catalog.getTable(connection, ref);
  if (!table && createDisposition === 'CREATE_NEVER') throw notFound(`Not found: Table ${tableLabel(ref)}`);
  if (table && writeDisposition === 'WRITE_EMPTY' && table.numRows > 0n) {
    throw duplicate(`Already Exists: Table ${tableLabel(ref)}`);
  }
  const qualified = qualifiedTableName(ref.projectId, ref.datasetId, ref.tableId);
  await inTransaction(connection, async () => {
    if (table && writeDisposition === 'WRITE_APPEND')
      await connection.run(`INSERT INTO ${qualified} ${statement.sql}`);
    else await connection.run(`CREATE OR REPLACE TABLE ${qualified} AS ${statement.sql}`);
  }).catch((error: unknown) => {
    throw translateDuckDbError(error);
  });
  catalog.touchTable(ref);
}

/** DuckDB's error text → BigQuery's reasons and wording where a client could branch on them. */
export function translateDuckDbError(error: unknown): Error {
  if (error instanceof BigQueryApiError) return error;
  const text = (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
  const table = /Table with name "?([^"\s!]+)"? does not exist/.exec(text);
  if (table) return notFound(`Not found: Table ${table[1]} was not found in location US`);
  const schema = /Schema with name "?([^"\s!]+)"? does not exist/.exec(text);
  if (schema) return notFound(`Not found: Dataset ${schema[1]} was not found in location US`);
  const catalog = /Catalog "?([^"\s!]+)"? does not exist/.exec(text);
  if (catalog) return notFound(`Not found: Project ${catalog[1]}`);
  const exists = /Table with name "?([^"\s!]+)"? already exists/.exec(text);
  if (exists) return duplicate(`Already Exists: Table ${exists[1]}`);
  const notNull = /NOT NULL constraint failed: (\S+)/.exec(text);
  if (notNull) return invalidQuery(`Required field ${notNull[1]} cannot be null`);
  // The analyser's errors in BigQuery's words (BigQuery adds a position, `at [line:column]`, that DuckDB lacks).
  const column = /Referenced column "?([^"\s!]+)"? not found/.exec(text);
  if (column) return invalidQuery(`Unrecognized name: ${column[1]}`);
  const fn = /(?:Scalar|Aggregate|Table) Function with name "?([^"\s!]+)"? does not exist/.exec(text);
  if (fn) return invalidQuery(`Function not found: ${fn[1]}`);
  const grouped = /column "?([^"\s!]+)"? must appear in the GROUP BY clause/.exec(text);
  if (grouped) {
    return invalidQuery(
      `SELECT list expression references column ${grouped[1]} which is neither grouped nor aggregated`,
    );
  }
  const syntax = /^Parser Error: syntax error at or near (.+)$/.exec(text);
  if (syntax) return invalidQuery(`Syntax error: Unexpected ${syntax[1]}`);
  return invalidQuery(text.replace(/^Parser Error: /, 'Syntax error: '));
}
