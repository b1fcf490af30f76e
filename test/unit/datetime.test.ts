import { describe, expect, it } from 'vitest';
import { lookerDateTime, utcDateTimeText, wallTimeToUtcMs, zoneOffsetMs } from '../../src/looker/datetime.ts';

// System Activity times are wall times in the instance's system zone: filters are written in it and values read
// back from it, across DST changes.

const NY = 'America/New_York';
const at = (iso: string) => Date.parse(iso);

describe('Looker date-times in a system time zone', () => {
  it('writes filter literals in the zone, and UTC unchanged', () => {
    expect(lookerDateTime(at('2026-07-01T12:00:00Z'))).toBe('2026-07-01 12:00:00');
    expect(lookerDateTime(at('2026-07-01T12:00:00Z'), NY)).toBe('2026-07-01 08:00:00');
    expect(lookerDateTime(at('2026-01-15T12:00:00Z'), NY)).toBe('2026-01-15 07:00:00');
    expect(zoneOffsetMs(at('2026-01-15T12:00:00Z'), NY)).toBe(-5 * 3_600_000);
  });

  it('reads wall times back to UTC instants, the earlier one in a repeated hour, the old offset in a skipped one', () => {
    expect(wallTimeToUtcMs('2026-07-01 08:00:00', NY)).toBe(at('2026-07-01T12:00:00Z'));
    expect(wallTimeToUtcMs('2026-01-15 07:00:00', NY)).toBe(at('2026-01-15T12:00:00Z'));
    // 1 Nov 2026, 01:30 happens twice in New York (EDT, then EST): always the first
    expect(wallTimeToUtcMs('2026-11-01 01:30:00', NY)).toBe(at('2026-11-01T05:30:00Z'));
    // 8 Mar 2026, 02:30 never happens in New York: read with the offset before the change
    expect(wallTimeToUtcMs('2026-03-08 02:30:00', NY)).toBe(at('2026-03-08T07:30:00Z'));
    expect(wallTimeToUtcMs('2026-07-01 12:00:00.25')).toBe(at('2026-07-01T12:00:00.250Z'));
    expect(wallTimeToUtcMs('yesterday', NY)).toBeNaN();
  });

  it('round-trips every hour of a year outside the repeated hour', () => {
    for (let ms = at('2026-01-01T00:00:00Z'); ms < at('2027-01-01T00:00:00Z'); ms += 3_600_000) {
      const wall = lookerDateTime(ms, NY);
      if (wall.startsWith('2026-11-01 01:')) continue;
      expect(wallTimeToUtcMs(wall, NY), wall).toBe(ms);
    }
  });

  it('formats UTC text for BigQuery with milliseconds only when present', () => {
    expect(utcDateTimeText(at('2026-07-01T12:00:00Z'))).toBe('2026-07-01 12:00:00');
    expect(utcDateTimeText(at('2026-07-01T12:00:00.250Z'))).toBe('2026-07-01 12:00:00.250');
  });
});
