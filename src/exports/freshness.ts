import type { ExportDefinition, RefreshClass } from './types.ts';

// How fresh System Activity is, and what that means for reading it. Looker does not show a row the moment it
// happens: it copies System Activity into its analytical store on a cadence per table. With Elite System
// Activity, history, event, event_attribute and pdt_event_log refresh about every 10 minutes, user hourly, and
// content_usage, scheduled_job (scheduled_plan), dashboard, look and field_usage every 24 hours. Without Elite,
// System Activity is cached for 12 hours. A row can therefore appear up to one refresh interval after its cursor
// time, so an export must re-read at least that far behind its watermark (the look-back) or it loses late rows.

export const SYSTEM_ACTIVITY_EDITIONS = ['elite', 'standard'] as const;
export type SystemActivityEdition = (typeof SYSTEM_ACTIVITY_EDITIONS)[number];

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

const REFRESH_MS: Record<SystemActivityEdition, Record<RefreshClass, number>> = {
  elite: { frequent: 10 * MINUTE, hourly: HOUR, daily: 24 * HOUR },
  // Standard System Activity is cached for 12 hours: nothing is fresher than that.
  standard: { frequent: 12 * HOUR, hourly: 12 * HOUR, daily: 24 * HOUR },
};

/** Stop this far before now: only clock skew between Looker and us, since the look-back covers the refresh. */
export const DEFAULT_LAG_MS = 5 * MINUTE;

/** Beyond one refresh interval, how much more to re-read: a refresh takes time, and runs are not instant. */
export const LOOKBACK_MARGIN_MS = HOUR;

/** Explores whose tables refresh often; everything else is assumed to refresh daily (the safe side). */
const EXPLORE_REFRESH: Record<string, RefreshClass> = {
  history: 'frequent',
  query: 'frequent',
  event: 'frequent',
  event_attribute: 'frequent',
  pdt_event_log: 'frequent',
  sql_text: 'frequent',
  query_metrics: 'frequent',
  user: 'hourly',
};

export function refreshClassOfExplore(explore: string): RefreshClass {
  return EXPLORE_REFRESH[explore] ?? 'daily';
}

export function refreshIntervalMs(definition: ExportDefinition, edition: SystemActivityEdition): number {
  return REFRESH_MS[edition][definition.refresh];
}

/** The look-back that never loses a late row: one refresh interval plus a margin. */
export function defaultLookbackMs(definition: ExportDefinition, edition: SystemActivityEdition): number {
  return refreshIntervalMs(definition, edition) + LOOKBACK_MARGIN_MS;
}
