import { createHash } from 'node:crypto';
import type { BigQuery, JobMetadata } from '@google-cloud/bigquery';
import { NonRetryableError } from '../errors.ts';
import type { LoadStrategy } from '../exports/types.ts';
import { runJob, succeededJob } from './jobs.ts';
import { stagingColumns, type TableSpec } from './schema.ts';
import {
  type Dataset,
  insertStatement,
  type MergeOptions,
  mergeStatement,
  type PartitionRange,
  QUARANTINE_COLUMNS,
  QUARANTINE_TABLE,
  quarantineStatement,
  RUNS_COLUMNS,
  RUNS_TABLE,
  type RunRecord,
  type RunRow,
  runsStatement,
  stagingStatsQuery,
  type WindowOrigin,
} from './statements.ts';
import { ensureTable, schemaFields } from './tables.ts';

// Loads staged windows — one, or a batch of many of one target table — into BigQuery:
//   1. ONE load job with every window's object into a staging table of the batch (WRITE_TRUNCATE: a retry starts
//      clean). Its schema is the target's columns plus the quarantine pair, so quarantined lines load too.
//   2. One query counts the staged rows per window (a window's rows share its instance and `_extracted_at`), checks
//      them against what each extract wrote, and finds the partition range of the good rows.
//   3. ONE MERGE of the good rows into the target on (looker_instance, key) — or an INSERT with `append` — reading
//      only the batch's instances and, when the partition column never moves, only the staged partitions.
//   4. Quarantined lines MERGE into `_lsa_quarantine` (only when there are some).
//   5. One row per window MERGEs into `_lsa_runs` (when the caller describes its windows' runs): one statement
//      for the batch, never a job per window.
// BigQuery job ids are deterministic (batch + attempt) and a reused id is awaited rather than run again (jobs.ts),
// so a retry after a crash reuses the work already done. The staging table is dropped by the caller once the
// windows have committed: a re-run after a crash between MERGE and commits finds it still there.

export interface StagedWindow {
  instanceId: string;
  /** Window id including the plan (`…-p3`): it names the window in `_lsa_quarantine`. */
  windowId: string;
  sourceUri: string;
  /** Rows the extract wrote (good + quarantined). */
  rows: number;
  /** The extract's `_extracted_at` (ISO): attributes staged rows to this window. */
  extractedAt?: string;
  /** Snapshot windows: when the snapshot was taken (epoch ms), the `_deleted_at` of rows it no longer has. */
  snapshotAtMs?: number;
  /** What goes into the window's `_lsa_runs` row besides its rows and job ids; no row without it. */
  run?: RunRecord;
}

export interface BatchLoadRequest {
  bigquery: BigQuery;
  projectId: string;
  datasetId: string;
  location: string;
  spec: TableSpec;
  strategy: LoadStrategy;
  /** Names the BigQuery jobs and the staging table: unique per batch (or per window when loaded alone). */
  batchKey: string;
  windows: StagedWindow[];
  /** Attempts made so far: each uses fresh job ids (a failed job id cannot be reused). */
  attempt: number;
}

export interface WindowLoad {
  instanceId: string;
  windowId: string;
  rows: number;
  quarantined: number;
}

export interface BatchLoadResult {
  strategy: LoadStrategy;
  /** Staged rows: good + quarantined, equal to what the extracts wrote. */
  rowsLoaded: number;
  quarantined: number;
  inserted: number;
  updated: number;
  /** Snapshot rows marked `_deleted_at`, plus rows that came back (counted in updated too). */
  deleted: number;
  /** Bytes the MERGE (or INSERT) read, as BigQuery reports them. */
  bytesProcessed: number;
  jobIds: string[];
  stagingTable: string;
  windows: WindowLoad[];
}

/**
 * A load job BigQuery refused because of some of its source objects. `uris` are those named in the error (empty
 * when none is named): the caller takes those windows out of the batch and loads them alone.
 */
export class RejectedSourcesError extends NonRetryableError {
  constructor(
    message: string,
    readonly uris: string[],
  ) {
    super(message);
    this.name = 'NonRetryableError';
  }
}

export function jobIdBase(kind: string, spec: TableSpec, instanceId: string, windowId: string): string {
  return batchJobIdBase(kind, spec, `${instanceId}_${windowId}`);
}

function batchJobIdBase(kind: string, spec: TableSpec, batchKey: string): string {
  return `lsa_${kind}_${spec.tableId}_${batchKey}`.replace(/[^A-Za-z0-9_-]/g, '_');
}

export function stagingTableId(spec: TableSpec, batchKey: string): string {
  const digest = createHash('sha256').update(batchKey).digest('hex').slice(0, 20);
  return `_lsa_staging_${spec.tableId}_${digest}`;
}

const outputRows = (metadata: JobMetadata) => Number(metadata.statistics?.load?.outputRows ?? 0);

function dataset(request: BatchLoadRequest): Dataset {
  return { projectId: request.projectId, datasetId: request.datasetId };
}

export async function loadBatch(request: BatchLoadRequest): Promise<BatchLoadResult> {
  if (request.windows.length === 0) throw new Error(`batch ${request.batchKey} has no windows`);
  await ensureTable(request.bigquery, request.datasetId, request.spec);
  const id = (kind: string, attempt = request.attempt) =>
    `${batchJobIdBase(kind, request.spec, request.batchKey)}_a${attempt}`;
  const staging = stagingTableId(request.spec, request.batchKey);
  if (request.strategy === 'append') {
    const earlier = await earlierAppend(request, id);
    if (earlier) return earlier;
  }
  const stageId = id('stage');
  const staged = await stage(request, stageId, staging);
  const stats = await stagingStats(request, staging);
  if (!stats) {
    // The staging table is gone: this attempt ran to the end before (its staging table is dropped last) and
    // is replayed after a crash. Its jobs hold the outcome.
    const replayed = await replayedResult(request, id, outputRows(staged.metadata), staging);
    if (replayed) return replayed;
    throw new Error(`staging table ${staging} of ${request.batchKey} disappeared before its MERGE ran`);
  }
  const windows = attribute(request, stats, outputRows(staged.metadata));
  const quarantined = windows.reduce((sum, w) => sum + w.quarantined, 0);
  const jobIds = [stageId];

  const write =
    request.strategy === 'append'
      ? await runJob(
          request.bigquery,
          id('append'),
          queryConfiguration(insertStatement(request.spec, dataset(request), staging)),
          request.location,
        )
      : await runJob(
          request.bigquery,
          id('merge'),
          queryConfiguration(mergeStatement(mergeOptions(request, staging, stats))),
          request.location,
        );
  jobIds.push(write.jobId);
  if (quarantined > 0) {
    await ensureTable(request.bigquery, request.datasetId, {
      tableId: QUARANTINE_TABLE,
      columns: QUARANTINE_COLUMNS,
      keyColumn: 'raw',
      partitionColumn: undefined,
      clustering: ['looker_instance', 'export'],
      prunable: false,
      snapshot: false,
    });
    const origins = windowOrigins(request);
    const quarantineId = id('quarantine');
    await runJob(
      request.bigquery,
      quarantineId,
      queryConfiguration(quarantineStatement(request.spec, dataset(request), staging, origins)),
      request.location,
    );
    jobIds.push(quarantineId);
  }
  await recordRuns(request, windows, jobIds, id('runs'));
  const query = write.metadata.statistics?.query;
  const dml = query?.dmlStats;
  return {
    strategy: request.strategy,
    rowsLoaded: outputRows(staged.metadata),
    quarantined,
    inserted: Number(dml?.insertedRowCount ?? 0),
    updated: Number(dml?.updatedRowCount ?? 0),
    deleted: Number(dml?.deletedRowCount ?? 0),
    bytesProcessed: Number(query?.totalBytesProcessed ?? write.metadata.statistics?.totalBytesProcessed ?? 0),
    jobIds,
    stagingTable: staging,
    windows,
  };
}

/** One window alone (the behaviour of `load.batch.maxWindows: 1`), staging table dropped at the end. */
export interface LoadRequest extends Omit<BatchLoadRequest, 'batchKey' | 'windows'> {
  instanceId: string;
  windowId: string;
  sourceUri: string;
  /** Rows the extract wrote; when given, a different staged count fails the load. */
  rows?: number;
  extractedAt?: string;
  snapshotAtMs?: number;
}

export async function loadWindow(request: LoadRequest): Promise<BatchLoadResult> {
  const { instanceId, windowId, sourceUri, rows, extractedAt, snapshotAtMs, ...rest } = request;
  const result = await loadBatch({
    ...rest,
    batchKey: `${instanceId}_${windowId}`,
    windows: [
      {
        instanceId,
        windowId,
        sourceUri,
        rows: rows ?? -1,
        ...(extractedAt ? { extractedAt } : {}),
        ...(snapshotAtMs !== undefined ? { snapshotAtMs } : {}),
      },
    ],
  });
  await dropStagingTable(request.bigquery, request.datasetId, result.stagingTable);
  return result;
}

export async function dropStagingTable(
  bigquery: BigQuery,
  datasetId: string,
  tableId: string,
): Promise<void> {
  await bigquery
    .dataset(datasetId)
    .table(tableId)
    .delete()
    .catch((error: { code?: number }) => {
      if (error.code !== 404) throw error;
    });
}

/** The windows' `_lsa_runs` rows, in one MERGE after the batch's own; a replay (409, or a new attempt) adds none. */
async function recordRuns(
  request: BatchLoadRequest,
  loads: WindowLoad[],
  jobIds: string[],
  runsJobId: string,
): Promise<void> {
  const runs: RunRow[] = request.windows.flatMap((w, i) =>
    w.run
      ? [
          {
            ...w.run,
            instanceId: w.instanceId,
            rows: loads[i]!.rows,
            quarantined: loads[i]!.quarantined,
            jobIds,
          },
        ]
      : [],
  );
  if (runs.length === 0) return;
  await ensureTable(request.bigquery, request.datasetId, {
    tableId: RUNS_TABLE,
    columns: RUNS_COLUMNS,
    keyColumn: 'window',
    partitionColumn: 'committed_at',
    clustering: ['looker_instance', 'export'],
    prunable: false,
    snapshot: false,
  });
  await runJob(
    request.bigquery,
    runsJobId,
    queryConfiguration(runsStatement(dataset(request), runs, Date.now())),
    request.location,
  );
}

function queryConfiguration(query: string): JobMetadata['configuration'] {
  return { query: { query, useLegacySql: false } } as JobMetadata['configuration'];
}

async function stage(request: BatchLoadRequest, jobId: string, staging: string) {
  const uris = request.windows.map((w) => w.sourceUri);
  const configuration = {
    load: {
      sourceUris: uris,
      sourceFormat: 'NEWLINE_DELIMITED_JSON',
      destinationTable: { projectId: request.projectId, datasetId: request.datasetId, tableId: staging },
      schema: { fields: schemaFields(stagingColumns(request.spec)) },
      writeDisposition: 'WRITE_TRUNCATE',
      createDisposition: 'CREATE_IF_NEEDED',
      ignoreUnknownValues: false,
      maxBadRecords: 0,
    },
  } as JobMetadata['configuration'];
  try {
    return await runJob(request.bigquery, jobId, configuration, request.location);
  } catch (error) {
    if (!(error instanceof NonRetryableError)) throw error;
    // BigQuery names the object it could not read ("… File: gs://…", and `location`): those windows are the
    // ones to take out of the batch.
    const named = uris.filter((uri) => error.message.includes(uri));
    throw new RejectedSourcesError(error.message, named);
  }
}

interface StagingStats {
  instance: string;
  extractedMs: number;
  staged: number;
  quarantined: number;
  rangeMin?: string | null;
  rangeMax?: string | null;
  rangeNulls?: number;
}

/** Null when the staging table does not exist. */
async function stagingStats(request: BatchLoadRequest, staging: string): Promise<StagingStats[] | null> {
  const [rows] = await request.bigquery
    .query({
      query: stagingStatsQuery(request.spec, dataset(request), staging),
      location: request.location,
    })
    .catch((error: { code?: number; message?: string }) => {
      if (error.code === 404 || /Not found: Table/.test(error.message ?? '')) return [null];
      throw error;
    });
  if (!rows) return null;
  return (rows as Record<string, unknown>[]).map((r) => ({
    instance: String(r.instance),
    extractedMs: Number(r.extracted_ms),
    staged: Number(r.staged),
    quarantined: Number(r.quarantined),
    rangeMin: r.range_min as string | null | undefined,
    rangeMax: r.range_max as string | null | undefined,
    rangeNulls: Number(r.range_nulls ?? 0),
  }));
}

/**
 * Per-window rows from the staged counts, checked against what each extract wrote. Windows that share an
 * instance and extraction time cannot be told apart: they are checked together. A window whose count is off is
 * rejected (it is then loaded alone, where its own count decides).
 */
function attribute(request: BatchLoadRequest, stats: StagingStats[], total: number): WindowLoad[] {
  const { windows } = request;
  const groupKey = (instance: string, ms: number) => `${instance}\n${ms}`;
  const groups = new Map<string, { windows: StagedWindow[]; staged: number; quarantined: number }>();
  for (const window of windows) {
    if (!window.extractedAt) continue;
    const key = groupKey(window.instanceId, Date.parse(window.extractedAt));
    const group = groups.get(key) ?? { windows: [], staged: 0, quarantined: 0 };
    group.windows.push(window);
    groups.set(key, group);
  }
  for (const s of stats) {
    const group = groups.get(groupKey(s.instance, s.extractedMs));
    if (group) {
      group.staged += s.staged;
      group.quarantined += s.quarantined;
    }
  }
  if (windows.every((w) => w.rows >= 0)) {
    const expected = windows.reduce((sum, w) => sum + w.rows, 0);
    const wrong = [...groups.values()].filter((g) => g.staged !== g.windows.reduce((s, w) => s + w.rows, 0));
    if (wrong.length > 0 || total !== expected) {
      const culprits = wrong.flatMap((g) => g.windows);
      const detail = culprits.length
        ? culprits.map((w) => `${w.instanceId}/${w.windowId}: the extract wrote ${w.rows}`).join(', ')
        : `the extracts wrote ${expected}`;
      throw new RejectedSourcesError(
        `BigQuery staged ${total} rows of ${request.batchKey}, which does not match: ${detail}`,
        culprits.map((w) => w.sourceUri),
      );
    }
  }
  const alone = windows.length === 1;
  const allQuarantined = stats.reduce((sum, s) => sum + s.quarantined, 0);
  return windows.map((w) => {
    const group = w.extractedAt ? groups.get(groupKey(w.instanceId, Date.parse(w.extractedAt))) : undefined;
    const first = group?.windows[0] === w;
    return {
      instanceId: w.instanceId,
      windowId: w.windowId,
      rows: alone ? total : group?.windows.length === 1 ? group.staged : w.rows,
      // Windows that cannot be told apart: the group's quarantined lines are counted on its first window.
      quarantined: alone ? allQuarantined : first ? group!.quarantined : 0,
    };
  });
}

function mergeOptions(request: BatchLoadRequest, staging: string, stats: StagingStats[]) {
  const goodRows = stats.filter((s) => s.staged > s.quarantined);
  const instances = [...new Set(request.windows.map((w) => w.instanceId))].sort();
  const options: MergeOptions = {
    spec: request.spec,
    dataset: dataset(request),
    staging,
    instances,
  };
  const range = partitionRange(request.spec, goodRows);
  if (range) options.range = range;
  if (request.spec.snapshot) {
    // Only instances with good rows staged: an instance whose snapshot is all quarantine says nothing about what
    // exists, and must not have every row marked deleted.
    const withRows = new Set(goodRows.map((s) => s.instance));
    const snapshots = new Map<string, number>();
    for (const window of request.windows) {
      if (window.snapshotAtMs === undefined || !withRows.has(window.instanceId)) continue;
      snapshots.set(window.instanceId, Math.max(snapshots.get(window.instanceId) ?? 0, window.snapshotAtMs));
    }
    options.snapshots = snapshots;
  }
  return options;
}

/** The good rows' range of a non-moving partition column; none when a good row has no value (it would not match). */
function partitionRange(spec: TableSpec, stats: StagingStats[]): PartitionRange | undefined {
  if (!spec.prunable || !spec.partitionColumn || stats.length === 0) return undefined;
  if (stats.some((s) => (s.rangeNulls ?? 0) > 0 || !s.rangeMin || !s.rangeMax)) return undefined;
  const type = spec.columns.find((c) => c.name === spec.partitionColumn)!.type;
  // CAST(… AS STRING) of one column type sorts chronologically as text.
  const min = stats.map((s) => s.rangeMin!).sort()[0]!;
  const max = stats
    .map((s) => s.rangeMax!)
    .sort()
    .at(-1)!;
  return { column: spec.partitionColumn, type, min, max };
}

function windowOrigins(request: BatchLoadRequest): WindowOrigin[] {
  return request.windows
    .filter((w) => w.extractedAt)
    .map((w) => ({
      instanceId: w.instanceId,
      extractedMs: Date.parse(w.extractedAt!),
      windowId: w.windowId,
    }));
}

async function replayedResult(
  request: BatchLoadRequest,
  id: (kind: string, attempt?: number) => string,
  rowsLoaded: number,
  staging: string,
): Promise<BatchLoadResult | undefined> {
  const writeId = id(request.strategy === 'append' ? 'append' : 'merge');
  const write = await succeededJob(request.bigquery, writeId, request.location);
  if (!write) return undefined;
  const dml = write.statistics?.query?.dmlStats;
  const quarantineId = id('quarantine');
  const quarantine = await succeededJob(request.bigquery, quarantineId, request.location);
  return {
    strategy: request.strategy,
    rowsLoaded,
    quarantined: 0,
    inserted: Number(dml?.insertedRowCount ?? 0),
    updated: Number(dml?.updatedRowCount ?? 0),
    deleted: Number(dml?.deletedRowCount ?? 0),
    bytesProcessed: Number(write.statistics?.query?.totalBytesProcessed ?? 0),
    jobIds: [id('stage'), writeId, ...(quarantine ? [quarantineId] : [])],
    stagingTable: staging,
    windows: request.windows.map((w) => ({
      instanceId: w.instanceId,
      windowId: w.windowId,
      rows: request.windows.length === 1 ? rowsLoaded : w.rows,
      quarantined: 0,
    })),
  };
}

/**
 * `append` (the original design): the INSERT must run once per batch. Before a retry stages anything, the
 * INSERTs of earlier attempts are checked, so an attempt that succeeded is never appended again.
 */
async function earlierAppend(
  request: BatchLoadRequest,
  id: (kind: string, attempt?: number) => string,
): Promise<BatchLoadResult | undefined> {
  for (let earlier = 0; earlier < request.attempt; earlier++) {
    const done = await succeededJob(request.bigquery, id('append', earlier), request.location);
    if (!done) continue;
    // That attempt checked the staged counts before appending: the extracts' counts are what it loaded.
    const inserted = Number(done.statistics?.query?.dmlStats?.insertedRowCount ?? 0);
    const known = request.windows.every((w) => w.rows >= 0);
    return {
      strategy: 'append',
      rowsLoaded: known ? request.windows.reduce((sum, w) => sum + w.rows, 0) : inserted,
      quarantined: 0,
      inserted,
      updated: 0,
      deleted: 0,
      bytesProcessed: 0,
      jobIds: [id('append', earlier)],
      stagingTable: stagingTableId(request.spec, request.batchKey),
      windows: request.windows.map((w) => ({
        instanceId: w.instanceId,
        windowId: w.windowId,
        rows: known ? w.rows : inserted,
        quarantined: 0,
      })),
    };
  }
  return undefined;
}
