import { CronExpressionParser } from 'cron-parser';

// Time arithmetic of the budget: calendar months in UTC (Looker counts API calls per month) and the time between
// two ticks of a schedule.

/** `yyyy-mm` of the UTC month holding `ms`. */
export function monthOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 7);
}

/** `yyyy-mm-dd` of the UTC day holding `ms`. */
export function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The first instant of the next UTC month. */
export function monthEndMs(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

const SAMPLE_TICKS = 24;

/**
 * The mean time between ticks of a cron over its next 24 ticks: enough to see an irregular schedule's rhythm
 * (weekdays only, say) without walking every minute of a month.
 */
export function tickIntervalMs(cron: string, timezone: string, nowMs: number): number {
  const expression = CronExpressionParser.parse(cron, { tz: timezone, currentDate: new Date(nowMs) });
  const first = expression.next().getTime();
  let last = first;
  for (let i = 1; i < SAMPLE_TICKS; i++) last = expression.next().getTime();
  return Math.max(1000, (last - first) / (SAMPLE_TICKS - 1));
}
