import { createHash } from 'node:crypto';
import type { DatasetInfo, TableInfo } from './catalog.ts';
import { encodeRow, type TimestampFormat } from './cells.ts';
import { invalid, JobFailedError } from './errors.ts';
import type { JobRecord } from './jobs.ts';
import type { TableFieldSchema } from './schema.ts';

// REST resource shapes (kind, id, references, statistics) as the client reads them. Counts and times are strings,
// times in epoch milliseconds.

export function datasetResource(dataset: DatasetInfo, baseUrl: string) {
  return {
    kind: 'bigquery#dataset',
    etag: etag(dataset.lastModifiedTime),
    id: `${dataset.projectId}:${dataset.datasetId}`,
    selfLink: `${baseUrl}/bigquery/v2/projects/${dataset.projectId}/datasets/${dataset.datasetId}`,
    datasetReference: { projectId: dataset.projectId, datasetId: dataset.datasetId },
    location: dataset.location,
    creationTime: String(dataset.creationTime),
    lastModifiedTime: String(dataset.lastModifiedTime),
    type: 'DEFAULT',
    ...(dataset.description !== undefined ? { description: dataset.description } : {}),
    ...(dataset.friendlyName !== undefined ? { friendlyName: dataset.friendlyName } : {}),
    ...(dataset.labels ? { labels: dataset.labels } : {}),
  };
}

export function tableResource(table: TableInfo, baseUrl: string) {
  const { projectId, datasetId, tableId } = table.ref;
  return {
    kind: 'bigquery#table',
    etag: etag(table.lastModifiedTime),
    id: `${projectId}:${datasetId}.${tableId}`,
    selfLink: `${baseUrl}/bigquery/v2/projects/${projectId}/datasets/${datasetId}/tables/${encodeURIComponent(tableId)}`,
    tableReference: { projectId, datasetId, tableId },
    schema: { fields: table.schema.fields.map(fieldResource) },
    numRows: table.numRows.toString(),
    numBytes: '0',
    numLongTermBytes: '0',
    creationTime: String(table.creationTime),
    lastModifiedTime: String(table.lastModifiedTime),
    type: table.type,
    location: table.location,
    ...(table.timePartitioning ? { timePartitioning: table.timePartitioning } : {}),
    ...(table.clustering ? { clustering: table.clustering } : {}),
    ...(table.description !== undefined ? { description: table.description } : {}),
    ...(table.friendlyName !== undefined ? { friendlyName: table.friendlyName } : {}),
    ...(table.labels ? { labels: table.labels } : {}),
  };
}

/** tables.list entries are abbreviated table resources (no schema, no numRows). */
export function tableListEntry(table: TableInfo) {
  const { projectId, datasetId, tableId } = table.ref;
  return {
    kind: 'bigquery#table',
    id: `${projectId}:${datasetId}.${tableId}`,
    tableReference: { projectId, datasetId, tableId },
    type: table.type,
    creationTime: String(table.creationTime),
    ...(table.timePartitioning ? { timePartitioning: table.timePartitioning } : {}),
    ...(table.clustering ? { clustering: table.clustering } : {}),
  };
}

function fieldResource(field: TableFieldSchema): Record<string, unknown> {
  return {
    name: field.name,
    type: field.type,
    mode: field.mode,
    ...(field.fields ? { fields: field.fields.map(fieldResource) } : {}),
    ...(field.description !== undefined ? { description: field.description } : {}),
  };
}

export function schemaResource(fields: TableFieldSchema[]) {
  return { fields: fields.map(fieldResource) };
}

function etag(time: number): string {
  return Buffer.from(String(time)).toString('base64');
}

export function jobReference(job: JobRecord) {
  return { projectId: job.projectId, jobId: job.jobId, location: job.location };
}

export function jobResource(job: JobRecord, baseUrl: string) {
  const statistics: Record<string, unknown> = {
    creationTime: String(job.creationTime),
    startTime: String(job.startTime),
  };
  if (job.state === 'DONE' && job.endTime !== undefined) statistics.endTime = String(job.endTime);
  if (job.load) statistics.load = job.load;
  if (job.query) {
    statistics.query = queryStatistics(job);
    statistics.totalBytesProcessed = String(job.query.bytesProcessed ?? 0);
    if (job.query.children) statistics.numChildJobs = String(job.query.children.length);
  }
  if (job.parent) {
    statistics.parentJobId = job.parent.jobId;
    statistics.scriptStatistics = { evaluationKind: 'STATEMENT', stackFrames: [] };
  }
  const status: Record<string, unknown> = { state: job.state };
  if (job.errorResult) status.errorResult = job.errorResult;
  if (job.errors) status.errors = job.errors;
  return {
    kind: 'bigquery#job',
    etag: etag(job.endTime ?? job.creationTime),
    id: `${job.projectId}:${job.location}.${job.jobId}`,
    selfLink: `${baseUrl}/bigquery/v2/projects/${job.projectId}/jobs/${job.jobId}?location=${job.location}`,
    user_email: 'emulator@localhost',
    configuration: job.configuration,
    jobReference: jobReference(job),
    statistics,
    status,
  };
}

/**
 * A jobs.list entry: the job resource without selfLink and etag, with `state` and `errorResult` repeated at the top
 * level (bq's `ls -j` reads them there); the configuration only with projection=full.
 */
export function jobListEntry(job: JobRecord, withConfiguration: boolean) {
  const { selfLink: _selfLink, etag: _etag, configuration, ...resource } = jobResource(job, '');
  return {
    ...resource,
    state: job.state,
    ...(job.errorResult ? { errorResult: job.errorResult } : {}),
    ...(withConfiguration ? { configuration } : {}),
  };
}

export function projectListEntry(projectId: string) {
  return {
    kind: 'bigquery#project',
    id: projectId,
    // Stable per project id, as a real project number is.
    numericId: String(createHash('sha256').update(projectId).digest().readUIntBE(0, 6)),
    projectReference: { projectId },
    friendlyName: projectId,
  };
}

function dmlFields(job: JobRecord) {
  const dml = job.query?.dml;
  if (!dml) return {};
  return {
    numDmlAffectedRows: String(dml.inserted + dml.updated + dml.deleted),
    dmlStats: {
      insertedRowCount: String(dml.inserted),
      updatedRowCount: String(dml.updated),
      deletedRowCount: String(dml.deleted),
    },
  };
}

function queryStatistics(job: JobRecord) {
  const result = job.query!;
  return {
    statementType: result.statementType,
    totalBytesProcessed: String(result.bytesProcessed ?? 0),
    totalBytesBilled: String(result.bytesProcessed ?? 0),
    cacheHit: false,
    ...(result.rows ? { schema: schemaResource(result.rows.schema.fields) } : {}),
    ...dmlFields(job),
    ...(result.ddlTarget ? { ddlTargetTable: result.ddlTarget, ddlOperationPerformed: 'CREATE' } : {}),
  };
}

export interface PageOptions {
  maxResults?: number;
  /** Row offset decoded from pageToken or startIndex. */
  offset: number;
  timestampFormat: TimestampFormat;
}

/** Page size when the caller gives no maxResults (BigQuery caps pages by bytes; the emulator by rows). */
export const DEFAULT_PAGE_ROWS = 100_000;

/**
 * Body of jobs.query ('bigquery#queryResponse') and jobs.getQueryResults ('bigquery#getQueryResultsResponse').
 * A failed job throws its error: the client must reject, and it only does so on an HTTP error.
 */
export function queryResultsResponse(
  job: JobRecord,
  kind: 'bigquery#queryResponse' | 'bigquery#getQueryResultsResponse',
  page: PageOptions,
) {
  const base = { kind, etag: etag(job.creationTime), jobReference: jobReference(job) };
  if (job.state !== 'DONE') return { ...base, jobComplete: false };
  if (job.errorResult) throw new JobFailedError(job.errorResult, job.errors);
  const result = job.query!;
  const response: Record<string, unknown> = {
    ...base,
    jobComplete: true,
    totalBytesProcessed: String(result.bytesProcessed ?? 0),
    cacheHit: false,
    ...dmlFields(job),
  };
  if (!result.rows) return { ...response, totalRows: '0' };
  const { schema, rows } = result.rows;
  const pageRows = rows.slice(page.offset, page.offset + (page.maxResults ?? DEFAULT_PAGE_ROWS));
  response.schema = schemaResource(schema.fields);
  response.totalRows = String(rows.length);
  if (pageRows.length > 0)
    response.rows = pageRows.map((row) => encodeRow(row, schema.fields, page.timestampFormat));
  const nextOffset = page.offset + pageRows.length;
  if (nextOffset < rows.length) response.pageToken = encodePageToken(nextOffset);
  return response;
}

export function encodePageToken(offset: number): string {
  return Buffer.from(`offset:${offset}`).toString('base64url');
}

/** Row offset from `pageToken` (ours) or `startIndex`; 0 when neither is given. */
export function decodePageOffset(pageToken: string | null, startIndex: string | null): number {
  if (pageToken) {
    const match = /^offset:(\d+)$/.exec(Buffer.from(pageToken, 'base64url').toString());
    if (!match) throw invalid(`Invalid page token: ${pageToken}`);
    return Number(match[1]);
  }
  const start = Number(startIndex ?? 0);
  return Number.isInteger(start) && start > 0 ? start : 0;
}
