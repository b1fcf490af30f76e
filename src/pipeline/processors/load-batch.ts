import { createHash } from 'node:crypto';
import { DelayedError, type Job, UnrecoverableError } from 'bullmq';
import {
  type BatchLoadResult,
  dropStagingTable,
  loadBatch,
  RejectedSourcesError,
} from '../../bigquery/load.ts';
import { tableSpec } from '../../bigquery/schema.ts';
import { ensureDataset } from '../../bigquery/tables.ts';
import { findExport, findInstance } from '../../config/model.ts';
import { errorMessage } from '../../errors.ts';
import { windowId } from '../../window.ts';
import { commitBackfillWindow } from '../backfill.ts';
import type { BatchWindow } from '../batching/batch-store.ts';
import { batching, wakeLoads } from '../batching/batching.ts';
import { stagedWindow } from '../batching/staged-window.ts';
import type { LoadBatchPayload, LoadBatchResult } from '../catalog.ts';
import type { PipelineContext } from '../context.ts';
import { stagesOpenRows } from '../open-rows.ts';
import type { LoadOutcome } from './load.ts';

// One batch of windows of one target table: ONE load job with all their objects, ONE MERGE, then each window
// commits (watermark, status) and its load job is woken with the outcome. Only after the MERGE that holds it
// succeeded does a window commit. A re-run (retry, or a worker killed mid-batch) reuses the BigQuery jobs it
// finds under the same ids (the MERGE is idempotent anyway) and replays commits, which are no-ops the second time.
// A window whose object BigQuery refuses is taken out and the rest loaded without it; the refused window's job
// loads it alone.

/** What a batch job returns: the catalog's LoadBatchResult. */
export type BatchOutcome = LoadBatchResult;

/** Rounds of taking refused windows out before the batch gives up on this attempt. */
const MAX_REJECTION_ROUNDS = 5;

export async function processLoadBatch(
  context: PipelineContext,
  job: Job,
  data: LoadBatchPayload,
  token: string | undefined,
): Promise<BatchOutcome> {
  const { store } = batching(context);
  const limits = context.config.load.batch;
  const closing = await store.close(data.exportName, data.batch, limits, Date.now());
  if (closing.kind === 'wait') {
    // Windows are still joining: close when the batch is quiet or has waited maxWait, whichever comes first.
    if (!token) throw new Error(`batch ${job.id} cannot wait without a worker token`);
    await job.moveToDelayed(closing.untilMs, token);
    throw new DelayedError();
  }
  let windows = closing.windows.filter((w) => !closing.rejected.has(w.loadJobId));
  /** Load job id → its outcome (JSON), for the windows this batch committed. */
  let committed = new Map<string, string>();
  const outcome: BatchOutcome = {
    windows: closing.windows.length,
    committed: 0,
    rejected: closing.rejected.size,
    rowsLoaded: 0,
    quarantined: 0,
    bytesProcessed: 0,
    jobIds: [],
  };
  try {
    for (let round = 0; windows.length > 0; round++) {
      try {
        const result = await loadWindows(context, job, data, windows);
        committed = await commit(context, job, windows, result, outcome);
        await dropStagingTable(context.bigquery, context.config.bigquery.dataset, result.stagingTable);
        break;
      } catch (error) {
        if (!(error instanceof RejectedSourcesError) || round + 1 >= MAX_REJECTION_ROUNDS) throw error;
        // Named objects leave the batch; when BigQuery names none, every window is loaded alone by its own job.
        const refused = error.uris.length ? windows.filter((w) => error.uris.includes(w.sourceUri)) : windows;
        await store.reject(data.exportName, data.batch, refused, errorMessage(error));
        outcome.rejected += refused.length;
        await job.log(`${refused.length} window(s) taken out: ${errorMessage(error)}`);
        await wakeLoads(
          context,
          refused.map((w) => w.loadJobId),
        );
        windows = windows.filter((w) => !refused.includes(w));
      }
    }
  } catch (error) {
    const final = error instanceof UnrecoverableError || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    if (final) {
      // The windows' jobs fail this attempt (for good when the cause is permanent, e.g. a table whose schema
      // was changed by hand); their retries join a new batch.
      const detail = JSON.stringify({
        message: errorMessage(error),
        final: error instanceof UnrecoverableError,
      });
      await store.failed(data.exportName, data.batch, detail);
      await wakeLoads(
        context,
        windows.map((w) => w.loadJobId),
      );
    }
    throw error;
  }
  // The batch is done, and what came of each window with it, in one command; then their load jobs wake.
  await store.done(data.exportName, data.batch, committed);
  await wakeLoads(context, [...committed.keys()]);
  await job.log(
    `committed ${outcome.committed} of ${outcome.windows} windows (${outcome.rejected} taken out), ${outcome.rowsLoaded} rows, ${outcome.bytesProcessed} bytes read by the MERGE, jobs ${outcome.jobIds.join(', ')}`,
  );
  return outcome;
}

async function loadWindows(
  context: PipelineContext,
  job: Job,
  data: LoadBatchPayload,
  windows: BatchWindow[],
): Promise<BatchLoadResult> {
  const first = windows[0]!;
  const resolved = findExport(findInstance(context.config, first.instanceId), data.exportName);
  const { bigquery: bq } = context.config;
  await ensureDataset(context.bigquery, bq.dataset, bq.location);
  // The window set is part of the BigQuery job ids: after a window is taken out, the rest get fresh ids, and a
  // batch number reused after Redis lost its state never finds another batch's jobs.
  const digest = createHash('sha256')
    .update(
      windows
        .map((w) => w.loadJobId)
        .sort()
        .join('\n'),
    )
    .digest('hex')
    .slice(0, 12);
  return loadBatch({
    bigquery: context.bigquery,
    projectId: bq.projectId,
    datasetId: bq.dataset,
    location: bq.location,
    spec: tableSpec(resolved.definition),
    strategy: resolved.settings.loadStrategy,
    batchKey: `b${data.batch}_${digest}`,
    windows: windows.map((w) =>
      stagedWindow(w, {
        batch: job.id!,
        attempts: job.attemptsMade + 1,
        startedMs: job.processedOn ?? Date.now(),
      }),
    ),
    attempt: job.attemptsMade,
  });
}

/** After the MERGE: each window commits (replayable). Returns each committed window's outcome for its load job. */
async function commit(
  context: PipelineContext,
  job: Job,
  windows: BatchWindow[],
  result: BatchLoadResult,
  outcome: BatchOutcome,
): Promise<Map<string, string>> {
  const committed = new Map<string, string>();
  for (const [i, window] of windows.entries()) {
    const loaded = result.windows[i]!;
    let watermark: string | null = null;
    if (window.backfill === undefined) {
      const resolved = findExport(findInstance(context.config, window.instanceId), window.exportName);
      ({ watermark } = await context.exportState.commitWindow(
        window.instanceId,
        window.exportName,
        windowId(window.window),
        { loadedRows: loaded.rows, stagedOpenRows: stagesOpenRows(resolved, window.window) },
      ));
    } else {
      // A backfill commits to its own record: the pending set, the watermark and freshness stay the plan's.
      await commitBackfillWindow(context, { ...window, backfill: window.backfill }, loaded.rows);
    }
    const windowOutcome: LoadOutcome = {
      uri: window.sourceUri,
      rowsLoaded: loaded.rows,
      quarantined: loaded.quarantined,
      inserted: 0,
      updated: 0,
      watermark,
      batchJobId: job.id!,
    };
    committed.set(window.loadJobId, JSON.stringify(windowOutcome));
    outcome.committed++;
    outcome.rowsLoaded += loaded.rows;
    outcome.quarantined += loaded.quarantined;
  }
  outcome.bytesProcessed += result.bytesProcessed;
  outcome.jobIds.push(...result.jobIds);
  return committed;
}
