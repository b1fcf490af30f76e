import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody, sendEmpty, sendJson } from '../http.ts';
import { type Catalog, tableOptionsFromBody } from './catalog.ts';
import { timestampFormatFrom } from './cells.ts';
import { discoveryDocument, isDiscoveryPath } from './discovery.ts';
import type { DuckDbEngine } from './duckdb-engine.ts';
import {
  BigQueryApiError,
  type ErrorProto,
  errorProto,
  errorResponseBody,
  httpStatusForReason,
  invalid,
  JobFailedError,
  notFound,
} from './errors.ts';
import { type FaultBook, parseFaultSpec } from './faults.ts';
import type { JobRecord, JobService } from './jobs.ts';
import { checkTableId, splitPartitionDecorator, type TableReference } from './names.ts';
import {
  datasetResource,
  decodePageOffset,
  encodePageToken,
  jobListEntry,
  jobResource,
  type PageOptions,
  projectListEntry,
  queryResultsResponse,
  tableListEntry,
  tableResource,
} from './resources.ts';
import { normalizeSchema } from './schema.ts';
import { listTableData } from './table-data.ts';

// HTTP routing for BigQuery REST v2. Paths are served under /bigquery/v2 (what `apiEndpoint` produces) and also
// without the prefix (what BIGQUERY_EMULATOR_HOST=http://host:port produces). Path segments are percent-decoded:
// the client sends `t$20240101` as `t%2420240101`. `prettyPrint` and `location` query parameters are ignored.

export interface RouteContext {
  engine: DuckDbEngine;
  catalog: Catalog;
  jobs: JobService;
  faults: FaultBook;
  baseUrl(): string;
}

type Query = URLSearchParams;

export async function handleRequest(
  context: RouteContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  try {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const method = req.method ?? 'GET';
    if (url.pathname.startsWith('/_emulator/'))
      return await emulatorControl(context, method, url.pathname, req, res);
    if (method === 'GET' && isDiscoveryPath(url.pathname)) {
      const document = discoveryDocument(originOf(req, context), url.searchParams.get('version'));
      return sendJson(res, 200, document);
    }
    if (url.pathname.startsWith('/upload/')) {
      throw new BigQueryApiError(
        501,
        'notImplemented',
        'The BigQuery emulator does not accept uploads (table.load of a local file); load from gs:// URIs instead',
      );
    }
    const path = url.pathname.replace(/^\/bigquery\/v2(?=\/)/, '');
    const segments = path.split('/').filter(Boolean).map(decodeURIComponent);
    const [root, projectId, ...rest] = segments;
    if (root === 'projects' && projectId === undefined && method === 'GET') {
      return sendJson(res, 200, await listProjects(context, url.searchParams));
    }
    if (root !== 'projects' || !projectId) throw notFound(`Not found: ${method} ${url.pathname}`);
    const fault = context.faults.takeRequestFault(faultTarget(method, rest));
    if (fault) {
      sendJson(res, fault.status, errorResponseBody(fault.status, [errorProto(fault.reason, fault.message)]));
      return;
    }
    const body = method === 'POST' || method === 'PUT' || method === 'PATCH' ? await readJson(req) : {};
    const answer = await route(context, method, projectId, rest, url.searchParams, body);
    if (answer === undefined) sendEmpty(res, 204);
    else sendJson(res, 200, answer);
  } catch (error) {
    sendError(res, error);
  }
}

/** Where the client connected (its Host header), so URLs handed back work through any address or port mapping. */
function originOf(req: IncomingMessage, context: RouteContext): string {
  return req.headers.host ? `http://${req.headers.host}` : context.baseUrl();
}

function faultTarget(method: string, rest: string[]): 'insert' | 'get' | 'other' {
  const [collection, id] = rest;
  if (collection !== 'jobs' && collection !== 'queries') return 'other';
  if (method === 'POST' && id === undefined) return 'insert';
  if (method === 'GET' && id !== undefined && rest.length === 2) return 'get';
  return 'other';
}

function sendError(res: ServerResponse, error: unknown): void {
  let status = 500;
  let errors: ErrorProto[];
  if (error instanceof JobFailedError) {
    status = httpStatusForReason(error.errorResult.reason);
    errors = error.errors;
  } else if (error instanceof BigQueryApiError) {
    status = error.httpStatus;
    errors = [error.toErrorProto()];
  } else {
    errors = [
      errorProto('internalError', `Emulator internal error: ${(error as Error)?.message ?? String(error)}`),
    ];
  }
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, status, errorResponseBody(status, errors));
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const text = (await readBody(req)).toString('utf8');
  if (text.trim() === '') return {};
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
      return parsed as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new BigQueryApiError(400, 'parseError', 'Parse Error: the request body is not a JSON object');
}

async function route(
  context: RouteContext,
  method: string,
  projectId: string,
  rest: string[],
  query: Query,
  body: Record<string, unknown>,
): Promise<unknown> {
  const [collection, id, sub, subId, action] = rest;
  const key = `${method} ${[collection, id && ':id', sub, subId && ':id', action].filter(Boolean).join('/')}`;
  switch (key) {
    case 'GET datasets':
      return listDatasets(context, projectId);
    case 'POST datasets':
      return createDataset(context, projectId, body);
    case 'GET datasets/:id':
      return getDataset(context, projectId, id!);
    case 'DELETE datasets/:id':
      return context.engine.exclusive(async (connection) => {
        await context.catalog.deleteDataset(
          connection,
          projectId,
          id!,
          query.get('deleteContents') === 'true',
        );
        return undefined;
      });
    case 'GET datasets/:id/tables':
      return listTables(context, projectId, id!);
    case 'POST datasets/:id/tables':
      return createTable(context, projectId, id!, body);
    case 'GET datasets/:id/tables/:id':
      return getTable(context, tableRef(projectId, id!, subId!));
    case 'DELETE datasets/:id/tables/:id':
      return context.engine.exclusive(async (connection) => {
        await context.catalog.dropTable(connection, tableRef(projectId, id!, subId!));
        return undefined;
      });
    case 'PATCH datasets/:id/tables/:id':
    case 'PUT datasets/:id/tables/:id': {
      const ref = tableRef(projectId, id!, subId!);
      // `bq update` sends `"schema": null` when it changes something else; BigQuery reads it as "schema unchanged".
      const { schema, ...rest } = body;
      const patch = schema === null ? rest : body;
      await context.engine.exclusive((connection) => context.catalog.patchTable(connection, ref, patch));
      return getTable(context, ref);
    }
    case 'GET datasets/:id/tables/:id/data':
      return tableData(context, projectId, id!, subId!, query);
    case 'POST jobs':
      return jobResource(context.jobs.insert(projectId, body), context.baseUrl());
    case 'GET jobs':
      return listJobs(context, projectId, query);
    case 'GET jobs/:id': {
      const job = context.jobs.get(projectId, id!);
      await context.jobs.waitFor(job);
      return jobResource(job, context.baseUrl());
    }
    case 'POST jobs/:id/cancel': {
      // Jobs finish almost at once; cancelling reports the job as it is, as BigQuery does for finished jobs.
      const job = context.jobs.get(projectId, id!);
      await context.jobs.waitFor(job);
      return { kind: 'bigquery#jobCancelResponse', job: jobResource(job, context.baseUrl()) };
    }
    case 'POST queries':
      return runJobsQuery(context, projectId, body);
    case 'GET queries/:id':
      return getQueryResults(context, projectId, id!, query);
    default:
      if (collection === 'datasets' && action === 'insertAll') {
        throw invalid(
          'The BigQuery emulator does not support streaming inserts (tabledata.insertAll); use load jobs',
        );
      }
      throw notFound(`Not found: ${method} /projects/${projectId}/${rest.join('/')}`);
  }
}

/**
 * jobs.list, newest first: maxResults/pageToken, stateFilter (repeated: done, pending, running),
 * min/maxCreationTime, parentJobId (a script's statements; without it, top-level jobs only), and projection
 * (`minimal`, the default, leaves out the configuration).
 */
function listJobs(context: RouteContext, projectId: string, query: Query) {
  const states = new Set(query.getAll('stateFilter').map((s) => s.toUpperCase()));
  for (const state of states) {
    if (!['DONE', 'PENDING', 'RUNNING'].includes(state))
      throw invalid(`Invalid value for stateFilter: ${state.toLowerCase()}`);
  }
  const minCreation = positiveInteger(query.get('minCreationTime'), 'minCreationTime');
  const maxCreation = positiveInteger(query.get('maxCreationTime'), 'maxCreationTime');
  const full = query.get('projection') === 'full';
  const matching = context.jobs
    .list(projectId, query.get('parentJobId') ?? undefined)
    .filter(
      (job) =>
        (states.size === 0 || states.has(job.state)) &&
        (minCreation === undefined || job.creationTime >= minCreation) &&
        (maxCreation === undefined || job.creationTime <= maxCreation),
    );
  const { page, next } = listPage(matching, query);
  return {
    kind: 'bigquery#jobList',
    etag: 'emulator',
    ...(page.length > 0 ? { jobs: page.map((job) => jobListEntry(job, full)) } : {}),
    ...next,
  };
}

/** Page size of jobs.list and projects.list when the caller gives none (BigQuery's default for jobs.list). */
const DEFAULT_LIST_PAGE = 50;

/**
 * projects.list: every project the emulator has seen (a project comes into being with its first dataset or job).
 * The emulator has no IAM, so the caller "has access" to all of them.
 */
async function listProjects(context: RouteContext, query: Query) {
  const projectIds = await context.engine.exclusive(async (connection) => {
    const reader = await connection.runAndReadAll(
      `SELECT database_name FROM duckdb_databases() WHERE NOT internal AND database_name NOT IN ('memory', 'system', 'temp') ORDER BY database_name`,
    );
    return reader.getRows().map(([name]) => String(name));
  });
  const { page, next } = listPage(projectIds, query);
  return {
    kind: 'bigquery#projectList',
    etag: 'emulator',
    totalItems: projectIds.length,
    ...(page.length > 0 ? { projects: page.map((projectId) => projectListEntry(projectId)) } : {}),
    ...next,
  };
}

/** One page of a list method (maxResults, pageToken), and the token of the next page when there is one. */
function listPage<T>(items: T[], query: Query): { page: T[]; next: { nextPageToken?: string } } {
  const offset = decodePageOffset(query.get('pageToken'), null);
  const maxResults = positiveInteger(query.get('maxResults'), 'maxResults') ?? DEFAULT_LIST_PAGE;
  const page = items.slice(offset, offset + maxResults);
  const nextOffset = offset + page.length;
  return { page, next: nextOffset < items.length ? { nextPageToken: encodePageToken(nextOffset) } : {} };
}

function tableRef(projectId: string, datasetId: string, tableId: string): TableReference {
  return { projectId, datasetId, tableId: splitPartitionDecorator(tableId).tableId };
}

async function listDatasets(context: RouteContext, projectId: string) {
  const datasets = await context.engine.exclusive((connection) =>
    context.catalog.listDatasets(connection, projectId),
  );
  return {
    kind: 'bigquery#datasetList',
    etag: 'emulator',
    ...(datasets.length > 0
      ? {
          datasets: datasets.map((d) => ({
            kind: 'bigquery#dataset',
            id: `${d.projectId}:${d.datasetId}`,
            datasetReference: { projectId: d.projectId, datasetId: d.datasetId },
            location: d.location,
          })),
        }
      : {}),
  };
}

async function createDataset(context: RouteContext, projectId: string, body: Record<string, unknown>) {
  const dataset = await context.engine.exclusive(async (connection) => {
    await context.engine.ensureProject(connection, projectId);
    return context.catalog.createDataset(connection, projectId, body);
  });
  return datasetResource(dataset, context.baseUrl());
}

async function getDataset(context: RouteContext, projectId: string, datasetId: string) {
  const dataset = await context.engine.exclusive((connection) =>
    context.catalog.requireDataset(connection, projectId, datasetId),
  );
  return datasetResource(dataset, context.baseUrl());
}

async function listTables(context: RouteContext, projectId: string, datasetId: string) {
  const tables = await context.engine.exclusive((connection) =>
    context.catalog.listTables(connection, projectId, datasetId),
  );
  return {
    kind: 'bigquery#tableList',
    etag: 'emulator',
    totalItems: tables.length,
    ...(tables.length > 0 ? { tables: tables.map(tableListEntry) } : {}),
  };
}

async function createTable(
  context: RouteContext,
  projectId: string,
  datasetId: string,
  body: Record<string, unknown>,
) {
  if (
    body.view !== undefined ||
    body.materializedView !== undefined ||
    body.externalDataConfiguration !== undefined
  ) {
    throw invalid(
      'The BigQuery emulator creates only native tables through the API (use CREATE VIEW for views)',
    );
  }
  const reference = (body.tableReference ?? {}) as { tableId?: unknown };
  const ref: TableReference = { projectId, datasetId, tableId: checkTableId(reference.tableId) };
  const schema = normalizeSchema(body.schema ?? { fields: [] });
  const options = tableOptionsFromBody(body);
  await context.engine.exclusive((connection) =>
    context.catalog.createTable(connection, ref, schema, options),
  );
  return getTable(context, ref);
}

async function getTable(context: RouteContext, ref: TableReference) {
  const table = await context.engine.exclusive((connection) => context.catalog.requireTable(connection, ref));
  return tableResource(table, context.baseUrl());
}

function positiveInteger(text: string | null, name: string): number | undefined {
  if (text === null) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) throw invalid(`Invalid value for ${name}: ${text}`);
  return value;
}

async function tableData(
  context: RouteContext,
  projectId: string,
  datasetId: string,
  tableId: string,
  query: Query,
) {
  const { tableId: table, decorator } = splitPartitionDecorator(tableId);
  const maxResults = positiveInteger(query.get('maxResults'), 'maxResults');
  const selectedFields = query.get('selectedFields');
  return context.engine.exclusive((connection) =>
    listTableData(connection, context.catalog, {
      ref: { projectId, datasetId, tableId: table },
      ...(decorator !== undefined ? { decorator } : {}),
      offset: decodePageOffset(query.get('pageToken'), query.get('startIndex')),
      ...(maxResults !== undefined ? { maxResults } : {}),
      ...(selectedFields ? { selectedFields: selectedFields.split(',') } : {}),
      timestampFormat: timestampFormatFrom(
        query.get('formatOptions.useInt64Timestamp'),
        query.get('formatOptions.timestampOutputFormat'),
      ),
    }),
  );
}

async function runJobsQuery(context: RouteContext, projectId: string, body: Record<string, unknown>) {
  const job = context.jobs.insertQueryRequest(projectId, body);
  const timeoutMs = typeof body.timeoutMs === 'number' ? body.timeoutMs : undefined;
  await context.jobs.waitFor(job, timeoutMs);
  const formatOptions = (body.formatOptions ?? {}) as {
    useInt64Timestamp?: unknown;
    timestampOutputFormat?: unknown;
  };
  const maxResults = typeof body.maxResults === 'number' ? body.maxResults : undefined;
  return resultsOrJobError(job, 'bigquery#queryResponse', {
    offset: 0,
    ...(maxResults !== undefined ? { maxResults } : {}),
    timestampFormat: timestampFormatFrom(
      formatOptions.useInt64Timestamp,
      formatOptions.timestampOutputFormat,
    ),
  });
}

async function getQueryResults(context: RouteContext, projectId: string, jobId: string, query: Query) {
  const job = context.jobs.get(projectId, jobId);
  if (job.kind !== 'query') throw invalid(`Job ${projectId}:${job.location}.${jobId} is not a query job`);
  await context.jobs.waitFor(job, positiveInteger(query.get('timeoutMs'), 'timeoutMs'));
  const maxResults = positiveInteger(query.get('maxResults'), 'maxResults');
  return resultsOrJobError(job, 'bigquery#getQueryResultsResponse', {
    offset: decodePageOffset(query.get('pageToken'), query.get('startIndex')),
    ...(maxResults !== undefined ? { maxResults } : {}),
    timestampFormat: timestampFormatFrom(
      query.get('formatOptions.useInt64Timestamp'),
      query.get('formatOptions.timestampOutputFormat'),
    ),
  });
}

/**
 * The results page of a done query job, or its error as an HTTP error answer, as BigQuery's jobs.query and
 * getQueryResults do (status by reason: 400 invalidQuery, 404 notFound, …). Rows the emulator cannot encode are a
 * 400 too: the answer would be the same on every retry.
 */
function resultsOrJobError(
  job: JobRecord,
  kind: 'bigquery#queryResponse' | 'bigquery#getQueryResultsResponse',
  page: PageOptions,
) {
  try {
    return queryResultsResponse(job, kind, page);
  } catch (error) {
    if (error instanceof JobFailedError || error instanceof BigQueryApiError) throw error;
    throw invalid(`The BigQuery emulator cannot encode this result: ${(error as Error)?.message ?? error}`);
  }
}

async function emulatorControl(
  context: RouteContext,
  method: string,
  path: string,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  if (path === '/_emulator/health' && method === 'GET') return sendJson(res, 200, { status: 'ok' });
  if (path !== '/_emulator/faults') throw notFound(`Not found: ${method} ${path}`);
  if (method === 'GET') return sendJson(res, 200, context.faults.snapshot());
  if (method === 'DELETE') {
    context.faults.clear();
    return sendEmpty(res, 204);
  }
  if (method === 'POST') {
    const text = (await readBody(req)).toString('utf8');
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw invalid('Fault body must be JSON: {kind, on, times, status?}');
    }
    const specs = (Array.isArray(parsed) ? parsed : [parsed]).map(parseFaultSpec);
    for (const spec of specs) context.faults.add(spec);
    return sendJson(res, 200, context.faults.snapshot());
  }
  throw notFound(`Not found: ${method} ${path}`);
}
