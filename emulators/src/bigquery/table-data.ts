import type { DuckDBConnection } from '@duckdb/node-api';
import type { Catalog } from './catalog.ts';
import { encodeRow, type TimestampFormat } from './cells.ts';
import { qualifiedTableName } from './duckdb-engine.ts';
import { invalid } from './errors.ts';
import type { TableReference } from './names.ts';
import { partitionPredicate, resolvePartitionTarget } from './partitions.ts';
import { DEFAULT_PAGE_ROWS, encodePageToken } from './resources.ts';
import { quoteIdentifier } from './schema.ts';

// tabledata.list: a page of a table's rows, cells encoded with the schema from the shared catalog (so tables made by
// SQL list with BigQuery types too). Rows come in storage order; `rows` is omitted for an empty page, which the
// client turns into [].

export interface TableDataRequest {
  ref: TableReference;
  decorator?: string;
  offset: number;
  maxResults?: number;
  selectedFields?: string[];
  timestampFormat: TimestampFormat;
}

export async function listTableData(
  connection: DuckDBConnection,
  catalog: Catalog,
  request: TableDataRequest,
) {
  const table = await catalog.requireTable(connection, request.ref);
  let fields = table.schema.fields;
  if (request.selectedFields) {
    const wanted = new Set(request.selectedFields.map((f) => f.split('.')[0]!.toLowerCase()));
    fields = fields.filter((f) => wanted.has(f.name.toLowerCase()));
    if (fields.length === 0)
      throw invalid(`selectedFields matches no column: ${request.selectedFields.join(',')}`);
  }
  const qualified = qualifiedTableName(table.ref.projectId, table.ref.datasetId, table.ref.tableId);
  const where =
    request.decorator === undefined
      ? ''
      : ` WHERE ${partitionPredicate(resolvePartitionTarget(table, request.decorator))}`;
  const counted = await connection.runAndReadAll(`SELECT count(*) AS n FROM ${qualified}${where}`);
  const totalRows = Number(String(counted.getRowObjectsJson()[0]?.n ?? '0'));
  const limit = request.maxResults ?? DEFAULT_PAGE_ROWS;
  const columns = fields.map((f) => quoteIdentifier(f.name)).join(', ');
  const reader = await connection.runAndReadAll(
    `SELECT ${columns} FROM ${qualified}${where} ORDER BY rowid LIMIT ${limit} OFFSET ${request.offset}`,
  );
  const rows = reader.getRows();
  const nextOffset = request.offset + rows.length;
  return {
    kind: 'bigquery#tableDataList',
    etag: Buffer.from(String(table.lastModifiedTime)).toString('base64'),
    totalRows: String(totalRows),
    ...(rows.length > 0 ? { rows: rows.map((row) => encodeRow(row, fields, request.timestampFormat)) } : {}),
    ...(nextOffset < totalRows && rows.length > 0 ? { pageToken: encodePageToken(nextOffset) } : {}),
  };
}
