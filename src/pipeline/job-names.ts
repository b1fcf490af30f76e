import type { ExtractWindow } from '../window.ts';

// Job names are what Bull Board lists: they say which instance, export and window a job is about, in readable
// UTC (`prod-eu history 2026-11-29 10:00–11:00`), where the job id is for machines. Producers of extract,
// upload and load jobs pass `jobName(ref)` as the job's name.

export interface JobNameRef {
  instanceId: string;
  exportName: string;
  window: ExtractWindow;
}

/** `2026-11-29 10:00` (seconds only when not zero), UTC. */
function instant(ms: number): string {
  const iso = new Date(ms).toISOString();
  const seconds = iso.slice(17, 19);
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)}${seconds === '00' ? '' : `:${seconds}`}`;
}

export function describeWindowShort(window: ExtractWindow): string {
  if (window.kind === 'range') {
    if (window.startMs === null) return `until ${instant(window.endMs)}`;
    const start = instant(window.startMs);
    const end = instant(window.endMs);
    // Same day: the date once.
    return start.slice(0, 10) === end.slice(0, 10) ? `${start}–${end.slice(11)}` : `${start} – ${end}`;
  }
  const atMs = (window as { atMs?: number }).atMs;
  return `${window.kind}${atMs === undefined ? '' : ` ${instant(atMs)}`}`;
}

export function jobName(ref: JobNameRef): string {
  return `${ref.instanceId} ${ref.exportName} ${describeWindowShort(ref.window)}`;
}
