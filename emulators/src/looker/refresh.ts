import { hash32, Stream } from './random.ts';
import type { SystemActivityExplore, SystemActivityMode } from './types.ts';

// When each System Activity table was last refreshed. Real System Activity is not live: Elite System Activity
// copies history, event, event_attribute and pdt_event_log about every 10 minutes, user hourly, and the daily
// tables (content_usage, scheduled_job, dashboard, look, field_usage) every 24 hours; standard System Activity
// sits behind a forced 12-hour cache. A query sees each explore as of its last refresh instant at or before
// "now". Refresh instants are multiples of the cadence shifted by a phase fixed per instance (from its seed), so
// two instances do not refresh in step.

const MINUTE = 60;
const HOUR = 3600;
const DAY = 86_400;
/** Standard System Activity caches every query for 12 hours. */
const STANDARD_CACHE_SECONDS = 12 * HOUR;

export const SYSTEM_ACTIVITY_EXPLORES: readonly SystemActivityExplore[] = [
  'history',
  'event',
  'event_attribute',
  'pdt_event_log',
  'user',
  'content_usage',
  'scheduled_plan',
  'dashboard',
  'look',
  'field_usage',
];

const ELITE_CADENCE: Record<SystemActivityExplore, number> = {
  history: 10 * MINUTE,
  event: 10 * MINUTE,
  event_attribute: 10 * MINUTE,
  pdt_event_log: 10 * MINUTE,
  user: HOUR,
  content_usage: DAY,
  scheduled_plan: DAY,
  dashboard: DAY,
  look: DAY,
  field_usage: DAY,
};

export function isSystemActivityExplore(name: string): name is SystemActivityExplore {
  return (SYSTEM_ACTIVITY_EXPLORES as readonly string[]).includes(name);
}

/** Refresh cadence in seconds of every explore for a mode, with per-explore overrides. */
export function refreshCadence(
  mode: Exclude<SystemActivityMode, 'ideal'>,
  overrides: Partial<Record<SystemActivityExplore, number>> = {},
): Record<SystemActivityExplore, number> {
  const cadence = { ...ELITE_CADENCE };
  for (const explore of SYSTEM_ACTIVITY_EXPLORES) {
    if (mode === 'standard') cadence[explore] = Math.max(cadence[explore], STANDARD_CACHE_SECONDS);
    const override = overrides[explore];
    if (override !== undefined) {
      if (!Number.isInteger(override) || override <= 0)
        throw new Error(`refreshSeconds.${explore} must be a positive integer of seconds, got ${override}`);
      cadence[explore] = override;
    }
  }
  for (const name of Object.keys(overrides)) {
    if (!isSystemActivityExplore(name))
      throw new Error(
        `refreshSeconds names an unknown explore "${name}" (${SYSTEM_ACTIVITY_EXPLORES.join(', ')})`,
      );
  }
  return cadence;
}

/** The refresh schedule of one instance. An ideal instance has none: every table is live. */
export class RefreshSchedule {
  /** Fraction of each cadence by which this instance's refreshes are shifted. */
  private readonly phase: number;

  constructor(
    seed: number,
    private readonly cadence: Record<SystemActivityExplore, number> | null,
  ) {
    this.phase = hash32(seed, Stream.refresh, 0, 0) / 0x100000000;
  }

  get live(): boolean {
    return this.cadence === null;
  }

  /** Seconds between refreshes of an explore (0 when live). */
  cadenceOf(explore: string): number {
    if (!this.cadence || !isSystemActivityExplore(explore)) return 0;
    return this.cadence[explore];
  }

  private offsetOf(cadence: number): number {
    return Math.floor(this.phase * cadence);
  }

  /** The last refresh instant at or before `nowSec` (`nowSec` itself when live). */
  lastRefreshSec(explore: string, nowSec: number): number {
    const cadence = this.cadenceOf(explore);
    if (cadence === 0) return nowSec;
    const offset = this.offsetOf(cadence);
    return Math.floor((nowSec - offset) / cadence) * cadence + offset;
  }

  /** The first refresh instant after `nowSec` (`nowSec` itself when live). */
  nextRefreshSec(explore: string, nowSec: number): number {
    const cadence = this.cadenceOf(explore);
    if (cadence === 0) return nowSec;
    return this.lastRefreshSec(explore, nowSec) + cadence;
  }

  /** The instant a query sees an explore as of: its last refresh, or "always up to date" when live. */
  asOfSec(explore: string, nowSec: number): number {
    return this.cadence === null ? Number.POSITIVE_INFINITY : this.lastRefreshSec(explore, nowSec);
  }
}
