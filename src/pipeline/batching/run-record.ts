import type { RunRecord } from '../../bigquery/statements.ts';
import { windowId } from '../../window.ts';
import type { WindowRef } from '../catalog.ts';

// What a window's `_lsa_runs` row says beyond its rows: its spool bytes, how long its extract and upload took (they
// travel with the window: the load job's payload and its upload's result), which batch loaded it and in which
// attempt. Nothing is read from Redis for it.

export interface RunSource extends WindowRef {
  bytes: number;
  extractMs?: number;
  uploadMs?: number;
}

export function runRecord(
  source: RunSource,
  load: { batch?: string; attempts: number; startedMs: number },
): RunRecord {
  return {
    exportName: source.exportName,
    window: windowId(source.window),
    plan: source.plan,
    ...(source.backfill === undefined ? {} : { backfill: source.backfill }),
    bytes: source.bytes,
    ...(source.extractMs === undefined ? {} : { extractMs: source.extractMs }),
    ...(source.uploadMs === undefined ? {} : { uploadMs: source.uploadMs }),
    loadStartedMs: load.startedMs,
    ...(load.batch === undefined ? {} : { batch: load.batch }),
    attempts: load.attempts,
  };
}
