import type { DuckDBConnection } from '@duckdb/node-api';
import { fieldForDuckDbType } from './cells.ts';
import { type DuckDbEngine, qualifiedSchemaName, qualifiedTableName } from './duckdb-engine.ts';
import { duplicate, invalid, notFound, resourceInUse } from './errors.ts';
import { checkDatasetId, checkTableId, type TableReference, tableLabel } from './names.ts';
import {
  duckDbColumnDefinition,
  normalizeSchema,
  type TableFieldSchema,
  type TableSchema,
} from './schema.ts';

// Datasets and tables. DuckDB is the source of truth for what exists and which columns a table has, so tables made
// by the REST API, by load jobs and by SQL (CREATE TABLE, CTAS, DROP) share one catalog. What DuckDB cannot hold —
// BigQuery type names DuckDB folds together (JSON/GEOGRAPHY), field descriptions, partitioning, clustering,
// timestamps — is kept here as metadata tied to DuckDB's table oid: if SQL drops or replaces the table, the oid
// changes and the metadata is ignored (the schema is then derived from DuckDB's column types).
//
// Every method takes the connection handed out by `DuckDbEngine.exclusive`. DuckDB matches names
// case-insensitively; BigQuery's dataset and table ids are case-sensitive — a documented emulator limitation.

export type PartitionType = 'DAY' | 'HOUR' | 'MONTH' | 'YEAR';

export interface TimePartitioning {
  type: PartitionType;
  field?: string;
  expirationMs?: string;
  requirePartitionFilter?: boolean;
}

export interface Clustering {
  fields: string[];
}

export interface DatasetInfo {
  projectId: string;
  datasetId: string;
  location: string;
  creationTime: number;
  lastModifiedTime: number;
  description?: string;
  friendlyName?: string;
  labels?: Record<string, string>;
}

export interface TableOptions {
  timePartitioning?: TimePartitioning;
  clustering?: Clustering;
  description?: string;
  friendlyName?: string;
  labels?: Record<string, string>;
}

export interface TableInfo extends TableOptions {
  ref: TableReference;
  schema: TableSchema;
  type: 'TABLE' | 'VIEW';
  location: string;
  creationTime: number;
  lastModifiedTime: number;
  numRows: bigint;
}

interface TableMetadata extends TableOptions {
  tableOid: string;
  schema?: TableSchema;
  creationTime: number;
  lastModifiedTime: number;
}

interface DuckDbTableRow {
  oid: string;
  name: string;
  kind: 'TABLE' | 'VIEW';
}

const PARTITION_TYPES = new Set(['DAY', 'HOUR', 'MONTH', 'YEAR']);
const PARTITION_COLUMN_TYPES = new Set(['TIMESTAMP', 'DATE', 'DATETIME']);

function key(...parts: string[]): string {
  return parts.map((p) => p.toLowerCase()).join('\u0000');
}

export class Catalog {
  private readonly datasets = new Map<string, DatasetInfo>();
  private readonly tables = new Map<string, TableMetadata>();

  constructor(private readonly engine: DuckDbEngine) {}

  // ---- datasets -------------------------------------------------------------------------------------------------

  async getDataset(
    connection: DuckDBConnection,
    projectId: string,
    datasetId: string,
  ): Promise<DatasetInfo | undefined> {
    await this.engine.ensureProject(connection, projectId);
    const reader = await connection.runAndReadAll(
      'SELECT schema_name FROM duckdb_schemas() WHERE database_name = $1 AND lower(schema_name) = lower($2)',
      [projectId, datasetId],
    );
    const existing = reader.getRowObjectsJson()[0];
    const datasetKey = key(projectId, datasetId);
    if (!existing) {
      this.datasets.delete(datasetKey);
      return undefined;
    }
    let info = this.datasets.get(datasetKey);
    if (!info) {
      // Made by SQL (CREATE SCHEMA): synthesise the metadata BigQuery would report.
      const now = Date.now();
      info = {
        projectId,
        datasetId: String(existing.schema_name),
        location: 'US',
        creationTime: now,
        lastModifiedTime: now,
      };
      this.datasets.set(datasetKey, info);
    }
    return info;
  }

  async requireDataset(
    connection: DuckDBConnection,
    projectId: string,
    datasetId: string,
  ): Promise<DatasetInfo> {
    const dataset = await this.getDataset(connection, projectId, datasetId);
    if (!dataset) throw notFound(`Not found: Dataset ${projectId}:${datasetId}`);
    return dataset;
  }

  async createDataset(
    connection: DuckDBConnection,
    projectId: string,
    body: Record<string, unknown>,
  ): Promise<DatasetInfo> {
    const reference = (body.datasetReference ?? {}) as Record<string, unknown>;
    const datasetId = checkDatasetId(reference.datasetId);
    if (await this.getDataset(connection, projectId, datasetId)) {
      throw duplicate(`Already Exists: Dataset ${projectId}:${datasetId}`);
    }
    await connection.run(`CREATE SCHEMA ${qualifiedSchemaName(projectId, datasetId)}`);
    const now = Date.now();
    const info: DatasetInfo = {
      projectId,
      datasetId,
      location: typeof body.location === 'string' ? body.location : 'US',
      creationTime: now,
      lastModifiedTime: now,
      ...stringField(body, 'description'),
      ...stringField(body, 'friendlyName'),
      ...(isStringRecord(body.labels) ? { labels: body.labels } : {}),
    };
    this.datasets.set(key(projectId, datasetId), info);
    return info;
  }

  async deleteDataset(
    connection: DuckDBConnection,
    projectId: string,
    datasetId: string,
    deleteContents: boolean,
  ): Promise<void> {
    await this.requireDataset(connection, projectId, datasetId);
    const tables = await this.duckDbTables(connection, projectId, datasetId);
    if (tables.length > 0 && !deleteContents) {
      throw resourceInUse(`Dataset ${projectId}:${datasetId} is still in use`);
    }
    await connection.run(`DROP SCHEMA ${qualifiedSchemaName(projectId, datasetId)} CASCADE`);
    this.datasets.delete(key(projectId, datasetId));
    const prefix = key(projectId, datasetId, '');
    for (const tableKey of [...this.tables.keys()])
      if (tableKey.startsWith(prefix)) this.tables.delete(tableKey);
  }

  async listDatasets(connection: DuckDBConnection, projectId: string): Promise<DatasetInfo[]> {
    await this.engine.ensureProject(connection, projectId);
    const reader = await connection.runAndReadAll(
      `SELECT schema_name FROM duckdb_schemas() WHERE database_name = $1 AND schema_name <> 'main' AND NOT internal ORDER BY schema_name`,
      [projectId],
    );
    const datasets: DatasetInfo[] = [];
    for (const row of reader.getRowObjectsJson()) {
      const info = await this.getDataset(connection, projectId, String(row.schema_name));
      if (info) datasets.push(info);
    }
    return datasets;
  }

  // ---- tables ---------------------------------------------------------------------------------------------------

  private async duckDbTables(
    connection: DuckDBConnection,
    projectId: string,
    datasetId: string,
    tableId?: string,
  ): Promise<DuckDbTableRow[]> {
    const filter = tableId === undefined ? '' : 'AND lower(name) = lower($3)';
    const parameters = tableId === undefined ? [projectId, datasetId] : [projectId, datasetId, tableId];
    const reader = await connection.runAndReadAll(
      `SELECT * FROM (
         SELECT CAST(table_oid AS VARCHAR) AS oid, table_name AS name, 'TABLE' AS kind, database_name, schema_name
           FROM duckdb_tables()
         UNION ALL
         SELECT CAST(view_oid AS VARCHAR), view_name, 'VIEW', database_name, schema_name
           FROM duckdb_views() WHERE NOT internal
       ) WHERE database_name = $1 AND lower(schema_name) = lower($2) ${filter} ORDER BY name`,
      parameters,
    );
    return reader.getRowObjectsJson().map((row) => ({
      oid: String(row.oid),
      name: String(row.name),
      kind: row.kind === 'VIEW' ? 'VIEW' : 'TABLE',
    }));
  }

  /** The table's schema with BigQuery types, in DuckDB column order (the order rows are stored and listed in). */
  async tableSchema(connection: DuckDBConnection, ref: TableReference): Promise<TableSchema> {
    const table = await this.getTable(connection, ref, { countRows: false });
    if (!table) throw notFound(`Not found: Table ${tableLabel(ref)}`);
    return table.schema;
  }

  async getTable(
    connection: DuckDBConnection,
    ref: TableReference,
    { countRows = true } = {},
  ): Promise<TableInfo | undefined> {
    const dataset = await this.getDataset(connection, ref.projectId, ref.datasetId);
    if (!dataset) return undefined;
    const [row] = await this.duckDbTables(connection, ref.projectId, ref.datasetId, ref.tableId);
    const tableKey = key(ref.projectId, ref.datasetId, ref.tableId);
    if (!row) {
      this.tables.delete(tableKey);
      return undefined;
    }
    const canonical: TableReference = {
      projectId: ref.projectId,
      datasetId: dataset.datasetId,
      tableId: row.name,
    };
    const qualified = qualifiedTableName(canonical.projectId, canonical.datasetId, canonical.tableId);
    const derived = await this.deriveSchema(connection, canonical, qualified);
    let metadata = this.tables.get(tableKey);
    if (metadata && metadata.tableOid !== row.oid) metadata = undefined;
    if (!metadata) {
      // Made (or replaced) by SQL: start fresh metadata for this incarnation of the table.
      const now = Date.now();
      metadata = { tableOid: row.oid, creationTime: now, lastModifiedTime: now };
      this.tables.set(tableKey, metadata);
    }
    const schema = metadata.schema && sameColumns(metadata.schema, derived) ? metadata.schema : derived;
    const numRows = countRows && row.kind === 'TABLE' ? await countTableRows(connection, qualified) : 0n;
    return {
      ref: canonical,
      schema,
      type: row.kind,
      location: dataset.location,
      creationTime: metadata.creationTime,
      lastModifiedTime: metadata.lastModifiedTime,
      numRows,
      ...pickOptions(metadata),
    };
  }

  async requireTable(connection: DuckDBConnection, ref: TableReference): Promise<TableInfo> {
    const table = await this.getTable(connection, ref);
    if (table) return table;
    await this.requireDataset(connection, ref.projectId, ref.datasetId);
    throw notFound(`Not found: Table ${tableLabel(ref)}`);
  }

  private async deriveSchema(
    connection: DuckDBConnection,
    ref: TableReference,
    qualified: string,
  ): Promise<TableSchema> {
    const described = await connection.runAndReadAll(`SELECT * FROM ${qualified} LIMIT 0`);
    const nullability = await connection.runAndReadAll(
      `SELECT column_name, is_nullable FROM duckdb_columns()
        WHERE database_name = $1 AND lower(schema_name) = lower($2) AND lower(table_name) = lower($3)`,
      [ref.projectId, ref.datasetId, ref.tableId],
    );
    const nullable = new Map(
      nullability
        .getRowObjectsJson()
        .map((r) => [String(r.column_name).toLowerCase(), r.is_nullable !== false]),
    );
    const types = described.columnTypes();
    return {
      fields: described
        .columnNames()
        .map((name, i) => fieldForDuckDbType(name, types[i]!, nullable.get(name.toLowerCase()) ?? true)),
    };
  }

  /**
   * Creates a table from a tables.insert body or a load job's schema. Throws 409 when it exists, 404 when the
   * dataset does not. Safe inside a transaction: if it rolls back, the oid check discards the metadata.
   */
  async createTable(
    connection: DuckDBConnection,
    ref: TableReference,
    schema: TableSchema,
    options: TableOptions = {},
  ): Promise<void> {
    checkTableId(ref.tableId);
    await this.requireDataset(connection, ref.projectId, ref.datasetId);
    if (await this.getTable(connection, ref, { countRows: false })) {
      throw duplicate(`Already Exists: Table ${tableLabel(ref)}`);
    }
    if (schema.fields.length === 0) {
      throw invalid(`The emulator cannot create table ${tableLabel(ref)} without a schema`);
    }
    checkTableOptions(schema, options);
    const qualified = qualifiedTableName(ref.projectId, ref.datasetId, ref.tableId);
    await connection.run(
      `CREATE TABLE ${qualified} (${schema.fields.map(duckDbColumnDefinition).join(', ')})`,
    );
    const [row] = await this.duckDbTables(connection, ref.projectId, ref.datasetId, ref.tableId);
    const now = Date.now();
    this.tables.set(key(ref.projectId, ref.datasetId, ref.tableId), {
      tableOid: row?.oid ?? '',
      schema,
      creationTime: now,
      lastModifiedTime: now,
      ...pickOptions(options),
    });
  }

  /** Replaces a table's columns (WRITE_TRUNCATE with a new schema), keeping its options. Inside a transaction. */
  async replaceTableSchema(
    connection: DuckDBConnection,
    table: TableInfo,
    schema: TableSchema,
  ): Promise<void> {
    const qualified = qualifiedTableName(table.ref.projectId, table.ref.datasetId, table.ref.tableId);
    const options = pickOptions(table);
    checkTableOptions(schema, options);
    await connection.run(`DROP TABLE ${qualified}`);
    await connection.run(
      `CREATE TABLE ${qualified} (${schema.fields.map(duckDbColumnDefinition).join(', ')})`,
    );
    const [row] = await this.duckDbTables(
      connection,
      table.ref.projectId,
      table.ref.datasetId,
      table.ref.tableId,
    );
    this.tables.set(key(table.ref.projectId, table.ref.datasetId, table.ref.tableId), {
      tableOid: row?.oid ?? '',
      schema,
      creationTime: table.creationTime,
      lastModifiedTime: Date.now(),
      ...options,
    });
  }

  /** Records partitioning/clustering given in SQL DDL (DuckDB has no such clauses; the rewrite strips them). */
  async setTableOptions(
    connection: DuckDBConnection,
    ref: TableReference,
    options: TableOptions,
  ): Promise<void> {
    const table = await this.getTable(connection, ref, { countRows: false });
    if (!table) return;
    const metadata = this.tables.get(key(ref.projectId, ref.datasetId, ref.tableId));
    if (metadata) Object.assign(metadata, pickOptions(options));
  }

  /** tables.patch: descriptive fields, and schema changes that only append NULLABLE/REPEATED columns. */
  async patchTable(
    connection: DuckDBConnection,
    ref: TableReference,
    body: Record<string, unknown>,
  ): Promise<void> {
    const table = await this.requireTable(connection, ref);
    const tableKey = key(ref.projectId, ref.datasetId, ref.tableId);
    if (body.schema !== undefined) {
      const schema = normalizeSchema(body.schema);
      const current = table.schema.fields;
      const prefixMatches = current.every(
        (f, i) => schema.fields[i]?.name.toLowerCase() === f.name.toLowerCase(),
      );
      if (!prefixMatches || schema.fields.length < current.length) {
        throw invalid(
          `Provided Schema does not match Table ${tableLabel(ref)}. Cannot remove or reorder fields.`,
        );
      }
      const added = schema.fields.slice(current.length);
      if (added.some((f) => f.mode === 'REQUIRED')) {
        throw invalid(`Provided Schema does not match Table ${tableLabel(ref)}. Cannot add required fields.`);
      }
      const qualified = qualifiedTableName(table.ref.projectId, table.ref.datasetId, table.ref.tableId);
      for (const field of added)
        await connection.run(`ALTER TABLE ${qualified} ADD COLUMN ${duckDbColumnDefinition(field)}`);
      const [row] = await this.duckDbTables(connection, ref.projectId, ref.datasetId, ref.tableId);
      const merged: TableSchema = { fields: [...current.map((f, i) => schema.fields[i] ?? f), ...added] };
      const metadata = this.tables.get(tableKey);
      if (metadata) Object.assign(metadata, { tableOid: row?.oid ?? metadata.tableOid, schema: merged });
    }
    const metadata = this.tables.get(tableKey);
    if (metadata) {
      Object.assign(metadata, stringField(body, 'description'), stringField(body, 'friendlyName'));
      if (isStringRecord(body.labels)) metadata.labels = body.labels;
      metadata.lastModifiedTime = Date.now();
    }
  }

  async dropTable(connection: DuckDBConnection, ref: TableReference): Promise<void> {
    const table = await this.requireTable(connection, ref);
    const qualified = qualifiedTableName(table.ref.projectId, table.ref.datasetId, table.ref.tableId);
    await connection.run(`DROP ${table.type === 'VIEW' ? 'VIEW' : 'TABLE'} ${qualified}`);
    this.tables.delete(key(ref.projectId, ref.datasetId, ref.tableId));
  }

  async listTables(connection: DuckDBConnection, projectId: string, datasetId: string): Promise<TableInfo[]> {
    await this.requireDataset(connection, projectId, datasetId);
    const tables: TableInfo[] = [];
    for (const row of await this.duckDbTables(connection, projectId, datasetId)) {
      const info = await this.getTable(
        connection,
        { projectId, datasetId, tableId: row.name },
        { countRows: false },
      );
      if (info) tables.push(info);
    }
    return tables;
  }

  /** Marks a table modified (loads and DML). */
  touchTable(ref: TableReference): void {
    const metadata = this.tables.get(key(ref.projectId, ref.datasetId, ref.tableId));
    if (metadata) metadata.lastModifiedTime = Date.now();
  }
}

async function countTableRows(connection: DuckDBConnection, qualified: string): Promise<bigint> {
  const reader = await connection.runAndReadAll(`SELECT count(*) AS n FROM ${qualified}`);
  return BigInt(String(reader.getRowObjectsJson()[0]?.n ?? '0'));
}

function sameColumns(a: TableSchema, b: TableSchema): boolean {
  return a.fields.length === b.fields.length && a.fields.every((f, i) => sameField(f, b.fields[i]));
}

function sameField(a: TableFieldSchema, b: TableFieldSchema | undefined): boolean {
  if (!b || a.name.toLowerCase() !== b.name.toLowerCase()) return false;
  return a.type !== 'RECORD' || sameColumns({ fields: a.fields ?? [] }, { fields: b.fields ?? [] });
}

function pickOptions(source: TableOptions): TableOptions {
  const options: TableOptions = {};
  if (source.timePartitioning) options.timePartitioning = source.timePartitioning;
  if (source.clustering) options.clustering = source.clustering;
  if (source.description !== undefined) options.description = source.description;
  if (source.friendlyName !== undefined) options.friendlyName = source.friendlyName;
  if (source.labels) options.labels = source.labels;
  return options;
}

function stringField(body: Record<string, unknown>, name: 'description' | 'friendlyName') {
  return typeof body[name] === 'string' ? { [name]: body[name] as string } : {};
}

function isStringRecord(value: unknown): value is Record<string, string> {
  return (
    typeof value === 'object' && value !== null && Object.values(value).every((v) => typeof v === 'string')
  );
}

/** Reads `timePartitioning` / `clustering` / descriptive fields from a tables.insert or load job body. */
export function tableOptionsFromBody(body: Record<string, unknown>): TableOptions {
  const options: TableOptions = { ...stringField(body, 'description'), ...stringField(body, 'friendlyName') };
  if (isStringRecord(body.labels)) options.labels = body.labels;
  const partitioning = body.timePartitioning as Record<string, unknown> | undefined;
  if (partitioning) {
    const type = String(partitioning.type ?? 'DAY').toUpperCase();
    if (!PARTITION_TYPES.has(type)) throw invalid(`Invalid value for timePartitioning.type: ${type}`);
    options.timePartitioning = { type: type as PartitionType };
    if (typeof partitioning.field === 'string') options.timePartitioning.field = partitioning.field;
    if (partitioning.expirationMs !== undefined) {
      options.timePartitioning.expirationMs = String(partitioning.expirationMs);
    }
    // The table-level field (current API) and the older one inside timePartitioning mean the same.
    if (partitioning.requirePartitionFilter === true || body.requirePartitionFilter === true)
      options.timePartitioning.requirePartitionFilter = true;
  }
  const clustering = body.clustering as { fields?: unknown } | undefined;
  if (clustering && Array.isArray(clustering.fields))
    options.clustering = { fields: clustering.fields.map(String) };
  if (body.rangePartitioning !== undefined) {
    throw invalid('The emulator does not support integer-range partitioning (rangePartitioning)');
  }
  return options;
}

function checkTableOptions(schema: TableSchema, options: TableOptions): void {
  const byName = new Map(schema.fields.map((f) => [f.name.toLowerCase(), f]));
  const partitionField = options.timePartitioning?.field;
  if (partitionField !== undefined) {
    const field = byName.get(partitionField.toLowerCase());
    if (!field)
      throw invalid(`The field specified for partitioning cannot be found in the schema: ${partitionField}`);
    if (!PARTITION_COLUMN_TYPES.has(field.type) || field.mode === 'REPEATED') {
      throw invalid(
        `The field specified for time partitioning can only be of type TIMESTAMP, DATE or DATETIME. The type found is: ${field.type}.`,
      );
    }
  }
  const clusterFields = options.clustering?.fields ?? [];
  if (clusterFields.length > 4) throw invalid('Too many clustering fields: at most 4 are allowed');
  for (const name of clusterFields) {
    if (!byName.has(name.toLowerCase())) {
      throw invalid(
        `The field specified for clustering cannot be found in the schema.  Invalid field: ${name}.`,
      );
    }
  }
}
