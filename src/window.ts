import { z } from 'zod';

// The window: the time range one extract covers, the unit every layer speaks of (planning, extract, spool, GCS
// object names, BigQuery job ids, Redis state, job ids). Incremental exports use closed UTC windows [start, end)
// at whole seconds (Looker filters have second precision); `start: null` reads everything before `end` (an
// initial load with horizon "all"); snapshots have no range at all. A reopen window reads rows again by key:
// rows that were still open (a running query, a job in progress) when their range was read, however old.

/** At most this many keys in one reopen window: they travel in the job's payload and in one Looker filter. */
export const MAX_REOPEN_KEYS = 1000;

export const windowSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('range'), startMs: z.int().nullable(), endMs: z.int() }),
  z.strictObject({ kind: z.literal('snapshot'), atMs: z.int() }),
  z.strictObject({
    kind: z.literal('reopen'),
    atMs: z.int(),
    keys: z.array(z.int()).max(MAX_REOPEN_KEYS),
  }),
]);

export type ExtractWindow = z.infer<typeof windowSchema>;

/** A stable id for job ids, object names and file names: no `:` (BullMQ refuses it in job ids). */
export function windowId(window: ExtractWindow): string {
  if (window.kind === 'snapshot') return `snapshot-${compactInstant(window.atMs)}`;
  if (window.kind === 'reopen') return `reopen-${compactInstant(window.atMs)}`;
  return `${window.startMs === null ? 'all' : compactInstant(window.startMs)}--${compactInstant(window.endMs)}`;
}

const COMPACT = /^(\d{4}-\d{2}-\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

function parseCompactInstant(text: string): number {
  const match = COMPACT.exec(text);
  if (!match) throw new Error(`not a compact instant: ${text}`);
  return Date.parse(`${match[1]}T${match[2]}:${match[3]}:${match[4]}Z`);
}

/** The inverse of windowId. A reopen window's keys are not part of its id: the parsed window names it only. */
export function parseWindowId(id: string): ExtractWindow {
  if (id.startsWith('snapshot-'))
    return { kind: 'snapshot', atMs: parseCompactInstant(id.slice('snapshot-'.length)) };
  if (id.startsWith('reopen-'))
    return { kind: 'reopen', atMs: parseCompactInstant(id.slice('reopen-'.length)), keys: [] };
  const [start, end] = id.split('--') as [string, string];
  return {
    kind: 'range',
    startMs: start === 'all' ? null : parseCompactInstant(start),
    endMs: parseCompactInstant(end),
  };
}

/** `2024-01-02T030405Z`: sortable, readable, safe in paths and ids. */
export function compactInstant(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/:/g, '');
}

export function describeWindow(window: ExtractWindow): string {
  if (window.kind === 'snapshot') return `snapshot at ${new Date(window.atMs).toISOString()}`;
  if (window.kind === 'reopen') return `${window.keys.length} open row(s) read again`;
  const start = window.startMs === null ? 'the beginning' : new Date(window.startMs).toISOString();
  return `[${start}, ${new Date(window.endMs).toISOString()})`;
}

/** The instant a window is filed under (GCS day folders, pending-set order): its start, or when it was planned. */
export function windowInstantMs(window: ExtractWindow): number {
  if (window.kind === 'range') return window.startMs ?? 0;
  return window.atMs;
}

/**
 * The UTC instants of the earliest and latest cursor among a window's good rows (inclusive), as the extract saw
 * them. For exports whose cursor is set at insert it bounds the partitions the window's rows fall in, so a MERGE
 * of those rows reads only these partitions.
 */
export const cursorRangeSchema = z.strictObject({ minMs: z.int(), maxMs: z.int() });

export type CursorRange = z.infer<typeof cursorRangeSchema>;
