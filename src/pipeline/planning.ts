import type { ResolvedExport } from '../config/model.ts';
import type { ExtractWindow } from '../window.ts';

// Which windows a run extracts. Windows come from the watermark, never from the tick time, so missed ticks and
// downtime lose nothing: [watermark − look-back, now − lag), cut at multiples of the export's window size (UTC),
// so the same range always yields the same windows and the same job ids. The first run starts at the retention
// horizon; with horizon "all", one open-start window reads everything.

export interface Plan {
  windows: ExtractWindow[];
  /** Where the watermark goes once every window has committed. */
  endMs: number;
}

const SECOND = 1000;
const floorTo = (ms: number, step: number) => Math.floor(ms / step) * step;

export function planWindows(resolved: ResolvedExport, watermarkMs: number | null, nowMs: number): Plan {
  const { definition, settings } = resolved;
  if (definition.mode.kind === 'snapshot') {
    const atMs = floorTo(nowMs, SECOND);
    return { windows: [{ kind: 'snapshot', atMs }], endMs: atMs };
  }
  const endMs = floorTo(nowMs - settings.lagMs, SECOND);
  const horizonStart = settings.horizon === 'all' ? null : floorTo(endMs - settings.horizon, SECOND);
  let startMs: number | null;
  if (watermarkMs === null) startMs = horizonStart;
  else {
    startMs = floorTo(watermarkMs - settings.lookbackMs, SECOND);
    // Looker no longer holds anything older than its retention: after a long outage, start at the horizon.
    if (horizonStart !== null && startMs < horizonStart) startMs = horizonStart;
  }
  if (startMs === null) return { windows: [{ kind: 'range', startMs: null, endMs }], endMs };
  if (startMs >= endMs) return { windows: [], endMs };
  const windows: ExtractWindow[] = [];
  let from = startMs;
  while (from < endMs) {
    const boundary = floorTo(from, settings.windowMs) + settings.windowMs;
    const to = Math.min(boundary, endMs);
    windows.push({ kind: 'range', startMs: from, endMs: to });
    from = to;
  }
  return { windows, endMs };
}
