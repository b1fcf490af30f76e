import { createHash } from 'node:crypto';
import type { BigQuery, JobMetadata } from '@google-cloud/bigquery';
import type { LoadStrategy } from '../exports/types.ts';
import { runJob, succeededJob } from './jobs.ts';
import type { TableSpec } from './schema.ts';
import { ensureTable, schemaFields } from './tables.ts';

// Loads one staged window into its target table.
//   merge (default): load job into a staging table of that window (WRITE_TRUNCATE, so a retry starts clean),
//     then one MERGE on (looker_instance, key), then drop the staging table. Re-running any step is harmless:
//     the MERGE is an upsert, so a window loaded twice leaves no duplicate.
//   append (the original design): a load job straight into the target. Before a retry starts a new job, the
//     jobs of earlier attempts are checked, so an attempt that succeeded is never appended again.
// Job ids are deterministic (window + attempt), and a reused id is awaited rather than run again (jobs.ts).

export interface LoadRequest {
  bigquery: BigQuery;
  projectId: string;
  datasetId: string;
  location: string;
  spec: TableSpec;
  strategy: LoadStrategy;
  instanceId: string;
  windowId: string;
  sourceUri: string;
  /** BullMQ attempts made so far: each attempt uses fresh job ids (a failed job id cannot be reused). */
  attempt: number;
}

export interface LoadResult {
  strategy: LoadStrategy;
  rowsLoaded: number;
  inserted: number;
  updated: number;
  jobIds: string[];
}

export function jobIdBase(kind: string, spec: TableSpec, instanceId: string, windowId: string): string {
  return `lsa_${kind}_${spec.tableId}_${instanceId}_${windowId}`.replace(/[^A-Za-z0-9_-]/g, '_');
}

function stagingTableId(spec: TableSpec, instanceId: string, windowId: string): string {
  const digest = createHash('sha256').update(`${instanceId}\n${windowId}`).digest('hex').slice(0, 20);
  return `_lsa_staging_${spec.tableId}_${digest}`;
}

function loadConfiguration(request: LoadRequest, tableId: string, writeDisposition: string) {
  return {
    load: {
      sourceUris: [request.sourceUri],
      sourceFormat: 'NEWLINE_DELIMITED_JSON',
      destinationTable: { projectId: request.projectId, datasetId: request.datasetId, tableId },
      schema: { fields: schemaFields(request.spec.columns) },
      writeDisposition,
      createDisposition: 'CREATE_IF_NEEDED',
      ignoreUnknownValues: false,
      maxBadRecords: 0,
    },
  } as JobMetadata['configuration'];
}

const outputRows = (metadata: JobMetadata) => Number(metadata.statistics?.load?.outputRows ?? 0);

export async function loadWindow(request: LoadRequest): Promise<LoadResult> {
  await ensureTable(request.bigquery, request.datasetId, request.spec);
  return request.strategy === 'append' ? append(request) : merge(request);
}

async function append(request: LoadRequest): Promise<LoadResult> {
  const base = jobIdBase('append', request.spec, request.instanceId, request.windowId);
  for (let earlier = 0; earlier < request.attempt; earlier++) {
    const done = await succeededJob(request.bigquery, `${base}_a${earlier}`, request.location);
    if (done) {
      const rows = outputRows(done);
      return {
        strategy: 'append',
        rowsLoaded: rows,
        inserted: rows,
        updated: 0,
        jobIds: [`${base}_a${earlier}`],
      };
    }
  }
  const jobId = `${base}_a${request.attempt}`;
  const { metadata } = await runJob(
    request.bigquery,
    jobId,
    loadConfiguration(request, request.spec.tableId, 'WRITE_APPEND'),
    request.location,
  );
  const rows = outputRows(metadata);
  return { strategy: 'append', rowsLoaded: rows, inserted: rows, updated: 0, jobIds: [jobId] };
}

function quoted(request: LoadRequest, tableId: string): string {
  return `\`${request.projectId}.${request.datasetId}.${tableId}\``;
}

export function mergeStatement(request: LoadRequest, stagingTable: string): string {
  const { spec } = request;
  const columns = spec.columns.map((c) => c.name);
  const list = columns.map((c) => `\`${c}\``).join(', ');
  const updates = columns
    .filter((c) => c !== 'looker_instance' && c !== spec.keyColumn)
    .map((c) => `\`${c}\` = S.\`${c}\``)
    .join(', ');
  const key = `\`${spec.keyColumn}\``;
  // The source is deduplicated on the merge key (latest extraction wins): BigQuery refuses a MERGE in which
  // two source rows match one target row.
  return [
    `MERGE INTO ${quoted(request, spec.tableId)} T`,
    `USING (SELECT ${list} FROM ${quoted(request, stagingTable)} WHERE TRUE`,
    `  QUALIFY ROW_NUMBER() OVER (PARTITION BY looker_instance, ${key} ORDER BY _extracted_at DESC) = 1) S`,
    `ON T.looker_instance = S.looker_instance AND T.${key} = S.${key}`,
    `WHEN MATCHED THEN UPDATE SET ${updates}`,
    `WHEN NOT MATCHED THEN INSERT (${list}) VALUES (${columns.map((c) => `S.\`${c}\``).join(', ')})`,
  ].join('\n');
}

async function merge(request: LoadRequest): Promise<LoadResult> {
  const staging = stagingTableId(request.spec, request.instanceId, request.windowId);
  const stageId = `${jobIdBase('stage', request.spec, request.instanceId, request.windowId)}_a${request.attempt}`;
  const mergeId = `${jobIdBase('merge', request.spec, request.instanceId, request.windowId)}_a${request.attempt}`;
  const staged = await runJob(
    request.bigquery,
    stageId,
    loadConfiguration(request, staging, 'WRITE_TRUNCATE'),
    request.location,
  );
  const merged = await runJob(
    request.bigquery,
    mergeId,
    {
      query: { query: mergeStatement(request, staging), useLegacySql: false },
    } as JobMetadata['configuration'],
    request.location,
  );
  await request.bigquery
    .dataset(request.datasetId)
    .table(staging)
    .delete()
    .catch((error: { code?: number }) => {
      if (error.code !== 404) throw error;
    });
  const dml = merged.metadata.statistics?.query?.dmlStats;
  return {
    strategy: 'merge',
    rowsLoaded: outputRows(staged.metadata),
    inserted: Number(dml?.insertedRowCount ?? 0),
    updated: Number(dml?.updatedRowCount ?? 0),
    jobIds: [stageId, mergeId],
  };
}
