// Looker's date-time literals. System Activity times are wall-clock times in the instance's SYSTEM time zone
// (UTC on Looker-hosted instances, anything on customer-hosted ones), and Looker does not convert them to the
// query's time zone. So filters are written, and values read, in that zone; BigQuery gets UTC.

const UTC = 'UTC';
const WALL_TIME = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(zone, f);
  }
  return f;
}

/** The zone's offset from UTC at instant `ms`, in ms (New York in winter: −5 h). */
export function zoneOffsetMs(ms: number, zone: string): number {
  if (zone === UTC) return 0;
  const parts: Record<string, number> = {};
  for (const p of formatter(zone).formatToParts(new Date(ms))) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  const wall = Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!);
  return wall - Math.floor(ms / 1000) * 1000;
}

/** Looker's datetime literal for instant `ms` in `zone`: `2024-01-02 03:04:05`. */
export function lookerDateTime(ms: number, zone = UTC): string {
  return new Date(ms + zoneOffsetMs(ms, zone)).toISOString().slice(0, 19).replace('T', ' ');
}

/**
 * The UTC instant of a wall-clock time in `zone`, or NaN when `text` is not a datetime. In the hour a DST change
 * repeats, a wall time names two instants and the data cannot say which: the earlier is taken, always, so the
 * same row always lands on the same instant. A wall time in the hour DST skips is read with the offset before it.
 */
export function wallTimeToUtcMs(text: string, zone = UTC): number {
  const m = WALL_TIME.exec(text);
  if (!m) return Number.NaN;
  const fraction = m[7] ? Number(m[7].padEnd(3, '0').slice(0, 3)) : 0;
  const wall = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!, fraction);
  if (zone === UTC) return wall;
  // Offsets on either side of any change near this wall time; try each, keep those that map back to it.
  const candidates = new Set([zoneOffsetMs(wall - 86_400_000, zone), zoneOffsetMs(wall + 86_400_000, zone)]);
  const instants = [...candidates]
    .map((offset) => wall - offset)
    .filter((instant) => zoneOffsetMs(instant, zone) === wall - instant);
  if (instants.length > 0) return Math.min(...instants);
  return wall - zoneOffsetMs(wall - 86_400_000, zone);
}

/** `2024-01-02 03:04:05.678` (UTC) for BigQuery TIMESTAMP/DATETIME columns, milliseconds only when present. */
export function utcDateTimeText(ms: number): string {
  const iso = new Date(ms).toISOString();
  return ms % 1000 === 0 ? iso.slice(0, 19).replace('T', ' ') : iso.slice(0, 23).replace('T', ' ');
}
