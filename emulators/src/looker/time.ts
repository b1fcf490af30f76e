// Time arithmetic on epoch seconds: civil dates, time zones and Looker's timeframe formats. Hand-rolled because
// formatting through Intl for every value would cap streaming far below what a real instance serves.

export const DAY = 86_400;

export interface Civil {
  year: number;
  month: number; // 1..12
  day: number; // 1..31
}

/** Days since 1970-01-01 of a civil date (proleptic Gregorian; H. Hinnant's algorithm). */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const mp = (month + 9) % 12;
  const doy = Math.floor((153 * mp + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

export function civilFromDays(days: number): Civil {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month, day };
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

const dateStrings = new Map<number, string>();

/** `YYYY-MM-DD` of a day number, cached (a query touches few distinct days). */
export function dayString(days: number): string {
  let text = dateStrings.get(days);
  if (text === undefined) {
    const { year, month, day } = civilFromDays(days);
    text = `${String(year).padStart(4, '0')}-${pad2(month)}-${pad2(day)}`;
    if (dateStrings.size > 100_000) dateStrings.clear();
    dateStrings.set(days, text);
  }
  return text;
}

/** A time zone as an offset function. UTC is a fast path; IANA zones ask Intl once per 15-minute bucket. */
export class Zone {
  readonly isUtc: boolean;
  private readonly formatter: Intl.DateTimeFormat | undefined;
  private readonly offsets = new Map<number, number>();

  /** Throws RangeError for an unknown zone name (Looker answers such a query with a `looker_error`). */
  constructor(readonly name: string) {
    this.isUtc = /^(utc|etc\/utc|gmt|etc\/gmt|z|zulu)$/i.test(name);
    this.formatter = this.isUtc
      ? undefined
      : new Intl.DateTimeFormat('en-US', {
          timeZone: name,
          hourCycle: 'h23',
          year: 'numeric',
          month: '2-digit',
          day: '2-digit',
          hour: '2-digit',
          minute: '2-digit',
          second: '2-digit',
        });
  }

  /** Seconds to add to a UTC instant to get local wall-clock seconds. */
  offsetAt(utcSeconds: number): number {
    if (!this.formatter) return 0;
    // Offsets are multiples of 15 minutes and change at instants aligned to 15 minutes UTC.
    const bucket = Math.floor(utcSeconds / 900);
    let offset = this.offsets.get(bucket);
    if (offset === undefined) {
      const instant = bucket * 900;
      const parts: Record<string, number> = {};
      for (const part of this.formatter.formatToParts(new Date(instant * 1000))) {
        if (part.type !== 'literal') parts[part.type] = Number(part.value);
      }
      const local =
        daysFromCivil(parts.year ?? 1970, parts.month ?? 1, parts.day ?? 1) * DAY +
        (parts.hour ?? 0) * 3600 +
        (parts.minute ?? 0) * 60 +
        (parts.second ?? 0);
      offset = local - instant;
      if (this.offsets.size > 200_000) this.offsets.clear();
      this.offsets.set(bucket, offset);
    }
    return offset;
  }

  /**
   * True when the offset never decreases between two instants (no "fall back" in between), i.e. local wall-clock
   * time only grows with the instant there, so ordering by local time is ordering by instant.
   */
  offsetNeverDecreases(fromSec: number, toSec: number): boolean {
    if (!this.formatter) return true;
    let previous = this.offsetAt(fromSec);
    for (let t = Math.floor(fromSec / 900) * 900 + 900; t <= toSec; t += 900) {
      const offset = this.offsetAt(t);
      if (offset < previous) return false;
      previous = offset;
    }
    return true;
  }

  toLocal(utcSeconds: number): number {
    return utcSeconds + this.offsetAt(utcSeconds);
  }

  /** The UTC instant of a local wall-clock time (in a DST gap, the instant just after it). */
  fromLocal(localSeconds: number): number {
    if (!this.formatter) return localSeconds;
    const guess = localSeconds - this.offsetAt(localSeconds);
    const corrected = localSeconds - this.offsetAt(guess);
    return corrected;
  }
}

export const UTC = new Zone('UTC');

export type Timeframe = 'time' | 'date' | 'week' | 'month' | 'year' | 'hour' | 'minute' | 'hour_of_day';

/** Timeframes whose value only grows with the instant (in UTC), so index order is sort order. */
export const MONOTONE_TIMEFRAMES: ReadonlySet<Timeframe> = new Set([
  'time',
  'date',
  'week',
  'month',
  'year',
  'hour',
  'minute',
]);

/**
 * Looker's JSON rendering of a timeframe (apply_formatting off): `_time` "YYYY-MM-DD HH:MM:SS" in the query
 * zone with no `T` and no offset, `_date`/`_week` "YYYY-MM-DD" (weeks start Monday), `_month` "YYYY-MM",
 * `_hour` "YYYY-MM-DD HH", `_minute` "YYYY-MM-DD HH:MM", `_year` and `_hour_of_day` as numbers.
 */
export function formatTimeframe(utcSeconds: number, timeframe: Timeframe, zone: Zone): string | number {
  const local = zone.isUtc ? utcSeconds : zone.toLocal(utcSeconds);
  const days = Math.floor(local / DAY);
  const secondOfDay = local - days * DAY;
  switch (timeframe) {
    case 'time': {
      const h = Math.floor(secondOfDay / 3600);
      const m = Math.floor((secondOfDay % 3600) / 60);
      const s = secondOfDay % 60;
      return `${dayString(days)} ${pad2(h)}:${pad2(m)}:${pad2(s)}`;
    }
    case 'date':
      return dayString(days);
    case 'week':
      // 1970-01-01 was a Thursday: days + 3 counts from a Monday.
      return dayString(days - ((((days + 3) % 7) + 7) % 7));
    case 'month':
      return dayString(days).slice(0, 7);
    case 'year':
      return civilFromDays(days).year;
    case 'hour':
      return `${dayString(days)} ${pad2(Math.floor(secondOfDay / 3600))}`;
    case 'minute': {
      const h = Math.floor(secondOfDay / 3600);
      return `${dayString(days)} ${pad2(h)}:${pad2(Math.floor((secondOfDay % 3600) / 60))}`;
    }
    case 'hour_of_day':
      return Math.floor(secondOfDay / 3600);
  }
}

/** Local day number (days since 1970-01-01 in the zone) of an instant. */
export function localDay(utcSeconds: number, zone: Zone): number {
  return Math.floor(zone.toLocal(utcSeconds) / DAY);
}
