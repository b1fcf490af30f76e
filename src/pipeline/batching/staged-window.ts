import type { StagedWindow } from '../../bigquery/load.ts';
import type { RunRecord } from '../../bigquery/statements.ts';
import { windowId } from '../../window.ts';
import { catalog, type LoadPayload, runTag, type UploadOutcome } from '../catalog.ts';
import type { BatchWindow } from './batch-store.ts';

// A window as BigQuery's load of it needs it, whether it is loaded in a batch or alone: its object, the counts and
// cursor range its extract reported, and its `_lsa_runs` row — spool bytes, how long its extract and upload took
// (they travel with the window: the load job's payload and its upload's result), which batch loaded it and in
// which attempt. Nothing is read from Redis for it.

export interface LoadAttempt {
  /** The `load-batch` job that loads the window; absent when it is loaded alone. */
  batch?: string;
  attempts: number;
  startedMs: number;
}

export function stagedWindow(window: BatchWindow, load: LoadAttempt): StagedWindow {
  return {
    instanceId: window.instanceId,
    // With the plan (or the backfill): a window planned again (after a reset), or backfilled, must not find the
    // BigQuery jobs of another plan and take their result for its own.
    windowId: `${windowId(window.window)}-${runTag(window)}`,
    sourceUri: window.sourceUri,
    rows: window.rows,
    ...(window.extractedAt === undefined ? {} : { extractedAt: window.extractedAt }),
    ...(window.quarantined === undefined ? {} : { quarantined: window.quarantined }),
    ...(window.cursorRange === undefined ? {} : { cursorRange: window.cursorRange }),
    ...(window.window.kind === 'snapshot' ? { snapshotAtMs: window.window.atMs } : {}),
    run: runRecord(window, load),
  };
}

function runRecord(window: BatchWindow, load: LoadAttempt): RunRecord {
  return {
    exportName: window.exportName,
    window: windowId(window.window),
    plan: window.plan,
    ...(window.backfill === undefined ? {} : { backfill: window.backfill }),
    bytes: window.bytes,
    ...(window.extractMs === undefined ? {} : { extractMs: window.extractMs }),
    ...(window.uploadMs === undefined ? {} : { uploadMs: window.uploadMs }),
    loadStartedMs: load.startedMs,
    ...(load.batch === undefined ? {} : { batch: load.batch }),
    attempts: load.attempts,
  };
}

/**
 * The window as a batch holds it: what its load job's payload says (the same facts its upload has from the
 * manifest) and what its upload reported (the object, the manifest's counts and cursor range, the upload's
 * duration). Built by the upload that joins the batch, or by a load job that joins one itself.
 */
export function batchWindow(load: LoadPayload, upload: UploadOutcome): BatchWindow {
  return {
    loadJobId: catalog.load.jobId(load),
    instanceId: load.instanceId,
    exportName: load.exportName,
    plan: load.plan,
    ...(load.backfill === undefined ? {} : { backfill: load.backfill }),
    window: load.window,
    sourceUri: upload.uri,
    bytes: upload.bytes,
    rows: load.rows,
    ...(upload.extractedAt === undefined ? {} : { extractedAt: upload.extractedAt }),
    ...(upload.quarantined === undefined ? {} : { quarantined: upload.quarantined }),
    ...(upload.cursorRange === undefined ? {} : { cursorRange: upload.cursorRange }),
    ...(load.extractMs === undefined ? {} : { extractMs: load.extractMs }),
    ...(upload.uploadMs === undefined ? {} : { uploadMs: upload.uploadMs }),
  };
}
