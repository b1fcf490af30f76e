import { createHash } from 'node:crypto';
import type { BigQuery, JobMetadata } from '@google-cloud/bigquery';
import { NonRetryableError } from '../errors.ts';
import type { LoadStrategy } from '../exports/types.ts';
import type { CursorRange } from '../window.ts';
import { jobMetadata, runJob, succeededJob } from './jobs.ts';
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

// Loads staged windows — one, or a batch of many of one target table — into BigQuery in TWO jobs:
//   1. ONE load job with every window's object into a staging table of the batch (WRITE_TRUNCATE: a retry starts
//      clean). Its schema is the target's columns plus the quarantine pair, so quarantined lines load too. The rows
//      it staged (`outputRows`) are checked against what the extracts wrote.
//   2. ONE script job: the MERGE of the good rows into the target on (looker_instance, key) — or an INSERT with
//      `append` — reading only the batch's instances and, when the partition column never moves, only the
//      partitions the extracts saw their rows in; then, in the same script, the quarantined lines into
//      `_lsa_quarantine` (only when there are some) and one `_lsa_runs` row per window. Each statement is
//      idempotent, so a script that failed half-way is simply run again by the retry. No transaction: every batch
//      of every table writes `_lsa_runs`, and BigQuery cancels concurrent transactions that mutate one table, while
//      it queues plain DML statements.
// Only when the staged count disagrees with the extracts' (or a caller does not know them) does a query count the
// staged rows per window, to name the culprits (they are then loaded alone). BigQuery job ids are deterministic
// (batch + attempt) and a reused id is awaited rather than run again (jobs.ts), so a retry after a crash reuses
// the work already done. The staging table is dropped by the caller once the windows have committed.

export interface StagedWindow {
  instanceId: string;
  /** Window id including the plan (`…-p3`): it names the window in `_lsa_quarantine`. */
  windowId: string;
  sourceUri: string;
  /** Rows the extract wrote (good + quarantined); -1 when unknown (the staged rows are then counted by a query). */
  rows: number;
  /** Of `rows`, the quarantined lines the extract wrote; unknown makes the load count them by a query. */
  quarantined?: number;
  /** The cursor range of the window's good rows (see CursorRange); without it the MERGE prunes no partition. */
  cursorRange?: CursorRange | null;
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
  const appended = request.strategy === 'append' ? await earlierAppend(request, id) : undefined;
  if (appended?.complete) {
    const inserted = Number(appended.insert.statistics?.query?.dmlStats?.insertedRowCount ?? 0);
    const known = request.windows.every((w) => w.rows >= 0);
    const rows = known ? request.windows.reduce((sum, w) => sum + w.rows, 0) : inserted;
    return outcome(request, rows, appended.insert, [appended.scriptId], asWritten(request, rows));
  }
  const stageId = id('stage');
  const staged = await stage(request, stageId, staging);
  const rowsLoaded = outputRows(staged.metadata);
  const counted =
    countedByExtracts(request, rowsLoaded) ?? (await countedByQuery(request, staging, rowsLoaded));
  const scriptId = id(request.strategy === 'append' ? 'append' : 'merge');
  if (!counted) {
    // The staging table is gone: this attempt ran to the end before (its staging table is dropped last) and is
    // replayed after a crash. Its script holds the outcome.
    const replayed = await succeededJob(request.bigquery, scriptId, request.location);
    if (!replayed) {
      throw new Error(`staging table ${staging} of ${request.batchKey} disappeared before its MERGE ran`);
    }
    const write = await firstStatement(request, replayed);
    return outcome(request, rowsLoaded, write, [stageId, scriptId], asWritten(request, rowsLoaded));
  }
  const quarantined = counted.windows.reduce((sum, w) => sum + w.quarantined, 0);

  // An earlier attempt appended the rows but failed after: this one writes only the records that followed.
  const statements = appended
    ? []
    : [
        request.strategy === 'append'
          ? insertStatement(request.spec, dataset(request), staging)
          : mergeStatement(mergeOptions(request, staging, counted)),
      ];
  if (quarantined > 0) {
    await ensureTable(request.bigquery, request.datasetId, QUARANTINE_SPEC);
    statements.push(quarantineStatement(request.spec, dataset(request), staging, windowOrigins(request)));
  }
  const jobIds = appended ? [stageId, appended.scriptId, scriptId] : [stageId, scriptId];
  const runs = runRows(request, counted.windows, jobIds);
  if (runs.length > 0) {
    await ensureTable(request.bigquery, request.datasetId, RUNS_SPEC);
    statements.push(runsStatement(dataset(request), runs, Date.now()));
  }
  if (statements.length === 0) return outcome(request, rowsLoaded, appended!.insert, jobIds, counted);
  const script = await runJob(
    request.bigquery,
    scriptId,
    queryConfiguration(statements.join(';\n')),
    request.location,
  );
  const write = appended ? appended.insert : await firstStatement(request, script.metadata);
  return outcome(request, rowsLoaded, write, jobIds, counted);
}

/** The windows as their extracts wrote them, when nothing was counted again (a replayed batch). */
function asWritten(request: BatchLoadRequest, total: number): Counted {
  return {
    windows: request.windows.map((w) => ({
      instanceId: w.instanceId,
      windowId: w.windowId,
      rows: request.windows.length === 1 ? total : w.rows,
      quarantined: w.quarantined ?? 0,
    })),
    withGoodRows: new Set(),
  };
}

function outcome(
  request: BatchLoadRequest,
  rowsLoaded: number,
  write: JobMetadata,
  jobIds: string[],
  counted: Counted,
): BatchLoadResult {
  const dml = write.statistics?.query?.dmlStats;
  return {
    strategy: request.strategy,
    rowsLoaded,
    quarantined: counted.windows.reduce((sum, w) => sum + w.quarantined, 0),
    inserted: Number(dml?.insertedRowCount ?? 0),
    updated: Number(dml?.updatedRowCount ?? 0),
    deleted: Number(dml?.deletedRowCount ?? 0),
    bytesProcessed: Number(
      write.statistics?.query?.totalBytesProcessed ?? write.statistics?.totalBytesProcessed ?? 0,
    ),
    jobIds,
    stagingTable: stagingTableId(request.spec, request.batchKey),
    windows: counted.windows,
  };
}

/**
 * The statistics of the script's first statement (the MERGE or INSERT into the target): a script's own job
 * carries no DML counts, its statements' child jobs do. A one-statement job is its own first statement.
 */
async function firstStatement(request: BatchLoadRequest, script: JobMetadata): Promise<JobMetadata> {
  if (script.statistics?.query?.statementType !== 'SCRIPT') return script;
  const [children] = await request.bigquery.getJobs({
    parentJobId: script.jobReference!.jobId!,
    projection: 'full',
    autoPaginate: true,
  });
  const statements = children
    .map((child) => child.metadata as JobMetadata)
    .filter((child) => child.configuration?.query?.query)
    .sort(
      (a, b) =>
        Number(a.statistics?.creationTime ?? 0) - Number(b.statistics?.creationTime ?? 0) ||
        (a.jobReference?.jobId ?? '').localeCompare(b.jobReference?.jobId ?? '', 'en', { numeric: true }),
    );
  const first = statements[0];
  if (!first) throw new Error(`BigQuery script ${script.jobReference?.jobId} lists no statements`);
  return first;
}

const QUARANTINE_SPEC: TableSpec = {
  tableId: QUARANTINE_TABLE,
  columns: QUARANTINE_COLUMNS,
  keyColumn: 'raw',
  partitionColumn: undefined,
  clustering: ['looker_instance', 'export'],
  prunable: false,
  snapshot: false,
};

const RUNS_SPEC: TableSpec = {
  tableId: RUNS_TABLE,
  columns: RUNS_COLUMNS,
  keyColumn: 'window',
  partitionColumn: 'committed_at',
  clustering: ['looker_instance', 'export'],
  prunable: false,
  snapshot: false,
};

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

/** The windows' `_lsa_runs` rows, for the batch's script; a replay (409, or a new attempt) adds none twice. */
function runRows(request: BatchLoadRequest, loads: WindowLoad[], jobIds: string[]): RunRow[] {
  return request.windows.flatMap((w, i) =>
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

/** What the batch staged, per window, and what its MERGE may read. */
interface Counted {
  windows: WindowLoad[];
  /** Instances with good rows staged: only their snapshots say what exists. */
  withGoodRows: Set<string>;
  /** The good rows' range of a partition column that never moves; none: the MERGE prunes no partition. */
  range?: PartitionRange;
}

/**
 * The extracts' own counts, when BigQuery staged exactly as many rows as they wrote: no query needed. Undefined
 * when a count is unknown or the total disagrees (then `countedByQuery` finds which window is off).
 */
function countedByExtracts(request: BatchLoadRequest, staged: number): Counted | undefined {
  const { windows, spec } = request;
  if (windows.some((w) => w.rows < 0 || w.quarantined === undefined)) return undefined;
  if (staged !== windows.reduce((sum, w) => sum + w.rows, 0)) return undefined;
  const good = windows.filter((w) => w.rows > w.quarantined!);
  const counted: Counted = {
    windows: windows.map((w) => ({
      instanceId: w.instanceId,
      windowId: w.windowId,
      rows: w.rows,
      quarantined: w.quarantined!,
    })),
    withGoodRows: new Set(good.map((w) => w.instanceId)),
  };
  const type = spec.columns.find((c) => c.name === spec.partitionColumn)?.type;
  // Every good window must know its range: one that does not could hold rows in any partition.
  if (spec.prunable && spec.partitionColumn && type === 'TIMESTAMP' && good.length > 0) {
    const ranges = good.map((w) => w.cursorRange);
    if (ranges.every((r): r is CursorRange => Boolean(r))) {
      // Out to whole days (the tables' partitions: the same bytes are read) and an hour beyond, so a column value
      // a little off the instant the extract saw (a DST hour) still meets its target row: the range is a row
      // filter too, and a row it missed would be inserted twice.
      const min = Math.floor((Math.min(...ranges.map((r) => r.minMs)) - HOUR_MS) / DAY_MS) * DAY_MS;
      const max = Math.ceil((Math.max(...ranges.map((r) => r.maxMs)) + HOUR_MS + 1) / DAY_MS) * DAY_MS - 1;
      counted.range = {
        column: spec.partitionColumn,
        type,
        min: timestampText(min),
        max: timestampText(max),
      };
    }
  }
  return counted;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/** A TIMESTAMP literal's text, as BigQuery prints one: `2026-11-29 10:00:00.000+00`. */
function timestampText(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '+00');
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

/**
 * Counts the staged rows per window with a query: when the extracts' counts are unknown, or BigQuery staged a
 * different number of rows than they wrote (then the windows that are off are rejected, named, and loaded alone).
 * Undefined when the staging table is gone.
 */
async function countedByQuery(
  request: BatchLoadRequest,
  staging: string,
  staged: number,
): Promise<Counted | undefined> {
  const stats = await stagingStats(request, staging);
  if (!stats) return undefined;
  const goodRows = stats.filter((s) => s.staged > s.quarantined);
  const counted: Counted = {
    windows: attribute(request, stats, staged),
    withGoodRows: new Set(goodRows.map((s) => s.instance)),
  };
  const range = partitionRange(request.spec, goodRows);
  if (range) counted.range = range;
  return counted;
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

function mergeOptions(request: BatchLoadRequest, staging: string, counted: Counted) {
  const instances = [...new Set(request.windows.map((w) => w.instanceId))].sort();
  const options: MergeOptions = {
    spec: request.spec,
    dataset: dataset(request),
    staging,
    instances,
  };
  if (counted.range) options.range = counted.range;
  if (request.spec.snapshot) {
    // Only instances with good rows staged: an instance whose snapshot is all quarantine says nothing about what
    // exists, and must not have every row marked deleted.
    const snapshots = new Map<string, number>();
    for (const window of request.windows) {
      if (window.snapshotAtMs === undefined || !counted.withGoodRows.has(window.instanceId)) continue;
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

/** An earlier attempt of an `append` batch whose INSERT went through. */
interface EarlierAppend {
  /** The INSERT's statistics. */
  insert: JobMetadata;
  scriptId: string;
  /** The whole script succeeded (the quarantine and run records were written too). */
  complete: boolean;
}

/**
 * `append` (the original design): the INSERT must run once per batch. Before a retry stages anything, the scripts
 * of earlier attempts are read: one that succeeded, or failed after its first statement (the INSERT) succeeded,
 * has appended the rows, so the retry never appends them again.
 */
async function earlierAppend(
  request: BatchLoadRequest,
  id: (kind: string, attempt?: number) => string,
): Promise<EarlierAppend | undefined> {
  for (let earlier = 0; earlier < request.attempt; earlier++) {
    const scriptId = id('append', earlier);
    const script = await jobMetadata(request.bigquery, scriptId, request.location);
    if (script?.status?.state !== 'DONE') continue;
    const complete = !script.status.errorResult;
    const insert = await firstStatement(request, script).catch(() => undefined);
    if (insert && !insert.status?.errorResult) return { insert, scriptId, complete };
  }
  return undefined;
}
