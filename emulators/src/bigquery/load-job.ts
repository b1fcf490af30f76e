import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import type { GcsObjectReader } from '../gcs/store.ts';
import { type Catalog, type TableInfo, type TableOptions, tableOptionsFromBody } from './catalog.ts';
import { type DuckDbEngine, inTransaction, qualifiedTableName } from './duckdb-engine.ts';
import { duplicate, type ErrorProto, errorProto, invalid, JobFailedError, notFound } from './errors.ts';
import { JsonSyntaxError, parseJsonText } from './json-text.ts';
import { checkSourceUris, readSources, type SourceFile } from './load-sources.ts';
import { checkTableId, splitPartitionDecorator, type TableReference, tableLabel } from './names.ts';
import {
  type PartitionTarget,
  partitionPredicate,
  resolvePartitionTarget,
  valueInPartition,
} from './partitions.ts';
import { BadRowError, validateRow } from './row-validation.ts';
import { normalizeSchema, schemaMismatch, type TableFieldSchema, type TableSchema } from './schema.ts';

// Load jobs: NEWLINE_DELIMITED_JSON from gs:// URIs into a table. Every line is parsed and validated in JS against
// the destination schema (DuckDB's read_json would silently coerce 1.5 to 2 and drop unknown keys — research note
// §7), then the rows are written inside one DuckDB transaction, so a failed job changes nothing.

type WriteDisposition = 'WRITE_APPEND' | 'WRITE_TRUNCATE' | 'WRITE_EMPTY';
type CreateDisposition = 'CREATE_IF_NEEDED' | 'CREATE_NEVER';

export interface LoadConfiguration {
  sourceUris: string[];
  destination: TableReference;
  decorator?: string;
  schema?: TableSchema;
  writeDisposition: WriteDisposition;
  createDisposition: CreateDisposition;
  ignoreUnknownValues: boolean;
  maxBadRecords: number;
  autodetect: boolean;
  tableOptions: TableOptions;
}

export interface LoadResult {
  statistics: {
    inputFiles: string;
    inputFileBytes: string;
    outputRows: string;
    outputBytes: string;
    badRecords: string;
  };
  /** Rows skipped under maxBadRecords; reported in `status.errors` of a successful job. */
  warnings: ErrorProto[];
}

export interface LoadContext {
  engine: DuckDbEngine;
  catalog: Catalog;
  gcs: GcsObjectReader;
}

/** Checks a `configuration.load` at jobs.insert time; problems here answer the insert with 400 `invalid`. */
export function checkLoadConfiguration(projectId: string, raw: Record<string, unknown>): LoadConfiguration {
  // The API default sourceFormat is CSV, so an omitted format is a CSV load — which the emulator does not do.
  const sourceFormat = typeof raw.sourceFormat === 'string' ? raw.sourceFormat : 'CSV';
  if (sourceFormat !== 'NEWLINE_DELIMITED_JSON') {
    throw invalid(
      `The BigQuery emulator only loads sourceFormat NEWLINE_DELIMITED_JSON; this job asks for ${sourceFormat}${raw.sourceFormat === undefined ? ' (the API default when sourceFormat is omitted)' : ''}.`,
    );
  }
  const destination = raw.destinationTable as Partial<TableReference> | undefined;
  if (!destination?.datasetId || !destination.tableId) {
    throw invalid('Load configuration must specify destinationTable with datasetId and tableId');
  }
  const { tableId, decorator } = splitPartitionDecorator(destination.tableId);
  checkTableId(tableId);
  const writeDisposition = String(raw.writeDisposition ?? 'WRITE_APPEND');
  if (!['WRITE_APPEND', 'WRITE_TRUNCATE', 'WRITE_EMPTY'].includes(writeDisposition)) {
    throw invalid(`Invalid value for writeDisposition: ${writeDisposition}`);
  }
  const createDisposition = String(raw.createDisposition ?? 'CREATE_IF_NEEDED');
  if (!['CREATE_IF_NEEDED', 'CREATE_NEVER'].includes(createDisposition)) {
    throw invalid(`Invalid value for createDisposition: ${createDisposition}`);
  }
  const maxBadRecords = Number(raw.maxBadRecords ?? 0);
  if (!Number.isInteger(maxBadRecords) || maxBadRecords < 0) {
    throw invalid(`Invalid value for maxBadRecords: ${String(raw.maxBadRecords)}`);
  }
  const config: LoadConfiguration = {
    sourceUris: checkSourceUris(raw.sourceUris),
    destination: { projectId: destination.projectId ?? projectId, datasetId: destination.datasetId, tableId },
    writeDisposition: writeDisposition as WriteDisposition,
    createDisposition: createDisposition as CreateDisposition,
    ignoreUnknownValues: raw.ignoreUnknownValues === true,
    maxBadRecords,
    autodetect: raw.autodetect === true,
    tableOptions: tableOptionsFromBody(raw),
  };
  if (decorator !== undefined) config.decorator = decorator;
  if (raw.schema !== undefined) config.schema = normalizeSchema(raw.schema, 'load schema');
  return config;
}

export async function runLoadJob(context: LoadContext, config: LoadConfiguration): Promise<LoadResult> {
  const { engine, catalog } = context;
  return engine.exclusive(async (connection) => {
    const ref = config.destination;
    await engine.ensureProject(connection, ref.projectId);
    await catalog.requireDataset(connection, ref.projectId, ref.datasetId);
    const existing = await catalog.getTable(connection, ref, { countRows: false });
    const targetSchema = resolveTargetSchema(config, existing);
    const partition = config.decorator !== undefined ? partitionOf(config, existing) : undefined;
    if (existing && config.writeDisposition === 'WRITE_EMPTY')
      await refuseNonEmpty(connection, existing, partition);

    const files = readSources(context.gcs, config.sourceUris);
    const parsed = parseAndValidate(files, targetSchema.fields, config);
    if (partition) checkRowsInPartition(parsed.rows, partition, ref);

    await inTransaction(connection, async () => {
      let table = existing;
      if (!table) {
        await catalog.createTable(connection, ref, targetSchema, config.tableOptions);
        table = await catalog.getTable(connection, ref, { countRows: false });
        if (!table) throw new Error(`table ${tableLabel(ref)} vanished after creation`);
      } else if (config.writeDisposition === 'WRITE_TRUNCATE') {
        await truncateTarget(connection, catalog, table, partition, config.schema);
      }
      await appendRows(connection, table.ref, parsed.rows);
    });
    catalog.touchTable(ref);
    return {
      statistics: {
        inputFiles: String(files.length),
        inputFileBytes: String(files.reduce((sum, f) => sum + f.storedBytes, 0)),
        outputRows: String(parsed.rows.length),
        outputBytes: String(parsed.outputBytes),
        badRecords: String(parsed.badRecords),
      },
      warnings: parsed.rowErrors,
    };
  });
}

function resolveTargetSchema(config: LoadConfiguration, existing: TableInfo | undefined): TableSchema {
  const ref = config.destination;
  if (!existing) {
    if (config.createDisposition === 'CREATE_NEVER') throw notFound(`Not found: Table ${tableLabel(ref)}`);
    if (config.decorator !== undefined) {
      throw invalid(
        `The emulator cannot create table ${tableLabel(ref)} through the partition decorator $${config.decorator}; create the partitioned table first`,
      );
    }
    if (!config.schema) {
      throw invalid(
        config.autodetect
          ? 'The BigQuery emulator does not support schema autodetection; give the load job a schema'
          : 'No schema specified on job or table.',
      );
    }
    return config.schema;
  }
  // WRITE_TRUNCATE of a whole table takes the job's schema, as BigQuery does; otherwise the job's schema (when
  // given) must describe the existing table.
  const replacesWholeTable = config.writeDisposition === 'WRITE_TRUNCATE' && config.decorator === undefined;
  if (config.schema && replacesWholeTable) return config.schema;
  if (config.schema) {
    const mismatch = schemaMismatch(tableLabel(existing.ref), existing.schema, config.schema);
    if (mismatch) throw invalid(mismatch);
  }
  return existing.schema;
}

function partitionOf(config: LoadConfiguration, existing: TableInfo | undefined): PartitionTarget {
  if (!existing || config.decorator === undefined)
    throw notFound(`Not found: Table ${tableLabel(config.destination)}`);
  return resolvePartitionTarget(existing, config.decorator);
}

async function refuseNonEmpty(
  connection: DuckDBConnection,
  table: TableInfo,
  partition: PartitionTarget | undefined,
): Promise<void> {
  const qualified = qualifiedTableName(table.ref.projectId, table.ref.datasetId, table.ref.tableId);
  const where = partition ? ` WHERE ${partitionPredicate(partition)}` : '';
  const reader = await connection.runAndReadAll(`SELECT count(*) AS n FROM ${qualified}${where}`);
  if (String(reader.getRowObjectsJson()[0]?.n ?? '0') !== '0') {
    const label = tableLabel(table.ref) + (partition ? `$${partition.decorator}` : '');
    throw duplicate(`Already Exists: Table ${label}`);
  }
}

async function truncateTarget(
  connection: DuckDBConnection,
  catalog: Catalog,
  table: TableInfo,
  partition: PartitionTarget | undefined,
  jobSchema: TableSchema | undefined,
): Promise<void> {
  const qualified = qualifiedTableName(table.ref.projectId, table.ref.datasetId, table.ref.tableId);
  if (partition) {
    await connection.run(`DELETE FROM ${qualified} WHERE ${partitionPredicate(partition)}`);
  } else if (jobSchema && schemaMismatch(tableLabel(table.ref), table.schema, jobSchema)) {
    await catalog.replaceTableSchema(connection, table, jobSchema);
  } else {
    await connection.run(`DELETE FROM ${qualified}`);
  }
}

async function appendRows(
  connection: DuckDBConnection,
  ref: TableReference,
  rows: DuckDBValue[][],
): Promise<void> {
  if (rows.length === 0) return;
  const appender = await connection.createAppender(ref.tableId, ref.datasetId, ref.projectId);
  const types = Array.from({ length: appender.columnCount }, (_, i) => appender.columnType(i));
  try {
    for (const row of rows) {
      row.forEach((value, i) => {
        if (value === null) appender.appendNull();
        else appender.appendValue(value, types[i]);
      });
      appender.endRow();
    }
    appender.flushSync();
  } finally {
    appender.closeSync();
  }
}

interface ParsedRows {
  rows: DuckDBValue[][];
  rowErrors: ErrorProto[];
  badRecords: number;
  outputBytes: number;
}

// BigQuery lists at most this many row errors; the count in the summary is still exact.
const MAX_REPORTED_ROW_ERRORS = 100;

function parseAndValidate(
  files: SourceFile[],
  fields: TableFieldSchema[],
  config: LoadConfiguration,
): ParsedRows {
  const result: ParsedRows = { rows: [], rowErrors: [], badRecords: 0, outputBytes: 0 };
  let rowsRead = 0;
  for (const file of files) {
    const content = file.content;
    let lineStart = 0;
    while (lineStart < content.length) {
      let lineEnd = content.indexOf(0x0a, lineStart);
      if (lineEnd < 0) lineEnd = content.length;
      const textEnd = lineEnd > lineStart && content[lineEnd - 1] === 0x0d ? lineEnd - 1 : lineEnd;
      const line = content.toString('utf8', lineStart, textEnd);
      const position = lineStart;
      lineStart = lineEnd + 1;
      if (line.trim() === '') continue; // blank lines carry no row
      rowsRead++;
      try {
        result.rows.push(validateRow(parseLine(line), fields, config));
        result.outputBytes += textEnd - position;
      } catch (error) {
        if (!(error instanceof BadRowError)) throw error;
        result.badRecords++;
        if (result.rowErrors.length < MAX_REPORTED_ROW_ERRORS) {
          result.rowErrors.push(
            errorProto(
              'invalid',
              `Error while reading data, error message: JSON parsing error in row starting at position ${position}: ${error.message} File: ${file.uri}`,
              file.uri,
            ),
          );
        }
        if (result.badRecords > config.maxBadRecords) {
          const summary = errorProto(
            'invalid',
            `Error while reading data, error message: JSON table encountered too many errors, giving up. Rows: ${rowsRead}; errors: ${result.badRecords}. Please look into the errors[] collection for more details.`,
            file.uri,
          );
          throw new JobFailedError(summary, [summary, ...result.rowErrors]);
        }
      }
    }
  }
  return result;
}

function parseLine(line: string) {
  try {
    return parseJsonText(line);
  } catch (error) {
    if (error instanceof JsonSyntaxError) {
      throw new BadRowError(`Malformed JSON: ${error.message} at character ${error.offset}.`);
    }
    throw error;
  }
}

function checkRowsInPartition(rows: DuckDBValue[][], partition: PartitionTarget, ref: TableReference): void {
  const outside = rows.find((row) => !valueInPartition(row[partition.columnIndex] ?? null, partition));
  if (outside) {
    throw invalid(
      `Some rows belong to different partitions rather than destination partition ${partition.decorator} of table ${tableLabel(ref)} (column ${partition.columnName}).`,
    );
  }
}
