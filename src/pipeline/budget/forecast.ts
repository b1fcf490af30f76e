// The Looker API budget of one instance: will this month's query calls fit, and if not, what runs less.
// Pure and deterministic: the same inputs always give the same decision (the fan-out feeds it from Redis).
//
// The forecast of a month is: calls used so far + the calls of what is planned now + for each export, the
// plans still to come this month × what one such plan typically costs. A plan costs, per window, one row-count
// query (when the instance counts rows) and one page; pages beyond the first are unknown before reading, so
// every estimate is scaled by the instance's own measured ratio of calls made to calls estimated (never below 1).
//
// When the forecast is over the budget, the first of these levels that fits is taken:
//   1. widen: windows up to 64× wider (powers of 2), fewer windows and so fewer count queries, but never wider
//      than the export's last window's rows allow in one page (a window too large to fit a page only adds pages);
//   2. throttle: low-priority exports (snapshots and tables Looker refreshes daily) run at most once per
//      refresh interval × k (k = 1, 2, 3, 7), whatever the schedule;
//   3. pause: low-priority exports are not planned at all;
//   4. spread: history-like exports too run only every K ticks (K = 2, 3, 4, 6, 8, 12, 24, 48, 96, 168).
// A level that is still over the budget at its largest step is taken anyway (the most it can save), and the
// fan-out's last guard refuses any plan that no longer fits what is left of the month's budget. Nothing is ever
// dropped: an export not planned keeps its watermark and reads the whole gap at its next plan.

export const WIDEN_FACTORS = [1, 2, 4, 8, 16, 32, 64] as const;
/** Without a measured window (never extracted), widen no more than this: its rows per page are unknown. */
export const UNMEASURED_MAX_WIDEN = 8;
export const LOW_PRIORITY_REFRESH_MULTIPLES = [1, 2, 3, 7] as const;
export const HIGH_PRIORITY_TICK_MULTIPLES = [2, 3, 4, 6, 8, 12, 24, 48, 96, 168] as const;
/** The measured calls/estimate ratio is capped: one odd month-start must not stop everything. */
const MAX_CALIBRATION = 20;

export interface ExportBudgetInput {
  name: string;
  /** Snapshots and daily-refresh tables: throttled and paused first. */
  lowPriority: boolean;
  /** How often Looker refreshes the export's table. */
  refreshMs: number;
  windowMs: number;
  /** Re-read before the watermark at every plan (0 for snapshots). */
  lookbackMs: number;
  snapshot: boolean;
  /** A reopen window is added to most plans (rows still open). */
  reopens: boolean;
  /** Rows of the export's last window, when one was extracted: how far its windows may widen. */
  lastWindowRows: number | null;
  pageSize: number;
  /** Time since its last plan; null when never planned. */
  sinceLastPlanMs: number | null;
  /**
   * What a plan made now would read: a closed range (windows are cut in it), `open` (one window: a snapshot or
   * an open-start initial load), or null when it plans nothing now (in flight, or nothing new).
   */
  now: { startMs: number; endMs: number; reopen: boolean } | { open: true; reopen: boolean } | null;
}

export interface BudgetInput {
  instanceId: string;
  budget: number;
  used: number;
  /** Calls the instance made this month / calls its plans were estimated at this month (≥ 1 applied). */
  calibration: number;
  /** Query calls per window: 2 when the instance counts rows first, else 1. */
  callsPerWindow: number;
  nowMs: number;
  monthEndMs: number;
  /** Time between two ticks of the instance's schedule. */
  tickMs: number;
  exports: ExportBudgetInput[];
}

export type ExportVerdict =
  | { run: true; windowMs: number; estimate: number }
  | { run: false; reason: string };

export interface BudgetDecision {
  level: 0 | 1 | 2 | 3 | 4;
  /** Calls the month ends with at the chosen level. */
  forecast: number;
  /** Calls the month would end with on the configured schedule (level 0). */
  needed: number;
  exports: Record<string, ExportVerdict>;
  /** How often each export runs at the chosen level, when not every tick (`null`: paused this month). */
  every: Record<string, number | null>;
  /** Set when the schedule does not fit the budget: one line for the log and the operator. */
  warning: string | undefined;
}

/** Windows of `[startMs, endMs)` cut at UTC multiples of `windowMs` (as planning.ts cuts them). */
export function windowsIn(startMs: number, endMs: number, windowMs: number): number {
  if (endMs <= startMs) return 0;
  return Math.floor((endMs - 1) / windowMs) - Math.floor(startMs / windowMs) + 1;
}

/** The widest power-of-2 multiple of the window whose rows, judged by the last window, still fit one page. */
export function widenFactor(e: ExportBudgetInput): number {
  if (e.snapshot) return 1;
  const max = e.lastWindowRows === null ? UNMEASURED_MAX_WIDEN : 64;
  let chosen = 1;
  for (const factor of WIDEN_FACTORS) {
    if (factor > max) break;
    if (e.lastWindowRows !== null && e.lastWindowRows * factor > e.pageSize) break;
    chosen = factor;
  }
  return chosen;
}

interface Schedule {
  windowMs: number;
  /** Run at most once per this long; 0: every tick; null: paused. */
  everyMs: number | null;
}

/** Calls of the plan made now, before calibration. */
function callsNow(e: ExportBudgetInput, windowMs: number, callsPerWindow: number): number {
  if (!e.now) return 0;
  const windows = 'open' in e.now ? 1 : windowsIn(e.now.startMs, e.now.endMs, windowMs);
  return (windows + (e.now.reopen ? 1 : 0)) * callsPerWindow;
}

/** Calls of one typical later plan: the time since the previous plan plus the look-back, cut in windows. */
function typicalCalls(e: ExportBudgetInput, windowMs: number, intervalMs: number, callsPerWindow: number) {
  // A span of length s over a grid of w crosses s / w boundaries on average: 1 + s / w windows.
  const windows = e.snapshot ? 1 : 1 + (intervalMs + e.lookbackMs) / windowMs;
  return (windows + (e.reopens ? 1 : 0)) * callsPerWindow;
}

/** Whether an export held to one run per `everyMs` runs at this tick (half a tick of slack for late ticks). */
function dueNow(e: ExportBudgetInput, everyMs: number, tickMs: number): boolean {
  return e.sinceLastPlanMs === null || e.sinceLastPlanMs + tickMs / 2 >= everyMs;
}

/** The factor estimates are scaled by: the measured calls/estimate ratio, at least 1, at most 20. */
export function calibrationScale(calibration: number): number {
  return Number.isFinite(calibration) ? Math.min(MAX_CALIBRATION, Math.max(1, calibration)) : 1;
}

function forecastFor(input: BudgetInput, schedules: Map<string, Schedule>): number {
  const scale = calibrationScale(input.calibration);
  const remainingMs = Math.max(0, input.monthEndMs - input.nowMs);
  let calls = 0;
  for (const e of input.exports) {
    const s = schedules.get(e.name)!;
    if (s.everyMs === null) continue;
    const interval = Math.max(input.tickMs, s.everyMs);
    if (dueNow(e, s.everyMs, input.tickMs)) calls += callsNow(e, s.windowMs, input.callsPerWindow);
    const laterPlans = Math.floor(remainingMs / interval);
    calls += laterPlans * typicalCalls(e, s.windowMs, interval, input.callsPerWindow);
  }
  return Math.ceil(input.used + calls * scale);
}

function describeEvery(ms: number): string {
  const hours = ms / 3_600_000;
  return hours >= 48 && hours % 24 === 0 ? `${hours / 24} days` : `${Math.round(hours * 10) / 10} hours`;
}

export function decideBudget(input: BudgetInput): BudgetDecision {
  const configured = new Map(input.exports.map((e) => [e.name, { windowMs: e.windowMs, everyMs: 0 }]));
  const widened = new Map(
    input.exports.map((e) => [e.name, { windowMs: e.windowMs * widenFactor(e), everyMs: 0 }]),
  );
  const needed = forecastFor(input, configured);
  const hasHighPriority = input.exports.some((e) => !e.lowPriority);
  const withLow = (everyOf: (e: ExportBudgetInput) => number | null, highEvery = 0) =>
    new Map(
      input.exports.map((e) => [
        e.name,
        { windowMs: widened.get(e.name)!.windowMs, everyMs: e.lowPriority ? everyOf(e) : highEvery },
      ]),
    );

  const candidates: { level: BudgetDecision['level']; schedules: Map<string, Schedule> }[] = [
    { level: 0, schedules: configured },
    { level: 1, schedules: widened },
    ...LOW_PRIORITY_REFRESH_MULTIPLES.map((k) => ({
      level: 2 as const,
      schedules: withLow((e) => e.refreshMs * k),
    })),
    { level: 3, schedules: withLow(() => null) },
    ...HIGH_PRIORITY_TICK_MULTIPLES.map((k) => ({
      level: 4 as const,
      schedules: withLow(() => null, input.tickMs * k),
    })),
  ];
  // Levels that would change nothing (no low-priority export to throttle, say) are skipped by the fit test.
  let chosen = candidates.at(-1)!;
  let forecast = forecastFor(input, chosen.schedules);
  for (const candidate of candidates) {
    const f = candidate.level === 0 ? needed : forecastFor(input, candidate.schedules);
    if (f <= input.budget) {
      chosen = candidate;
      forecast = f;
      break;
    }
  }
  if (!hasHighPriority && chosen.level === 4) chosen = candidates.find((c) => c.level === 3)!;

  const scale = calibrationScale(input.calibration);
  const exports: Record<string, ExportVerdict> = {};
  const every: Record<string, number | null> = {};
  for (const e of input.exports) {
    const s = chosen.schedules.get(e.name)!;
    // Held to once per interval no longer than a tick is not held back at all: not worth a word.
    if (s.everyMs === null || s.everyMs > input.tickMs) every[e.name] = s.everyMs;
    if (s.everyMs === null) {
      exports[e.name] = { run: false, reason: 'paused by the API budget until the month is over' };
    } else if (!dueNow(e, s.everyMs, input.tickMs)) {
      exports[e.name] = {
        run: false,
        reason: `held to one plan every ${describeEvery(s.everyMs)} by the API budget`,
      };
    } else {
      const estimate = Math.ceil(callsNow(e, s.windowMs, input.callsPerWindow) * scale);
      exports[e.name] = { run: true, windowMs: s.windowMs, estimate };
    }
  }

  let warning: string | undefined;
  if (chosen.level >= 2) {
    const paused = Object.entries(every).filter(([, ms]) => ms === null);
    const slowed = Object.entries(every).filter(([, ms]) => ms !== null) as [string, number][];
    const groups = new Map<number, string[]>();
    for (const [name, ms] of slowed) groups.set(ms, [...(groups.get(ms) ?? []), name]);
    const parts = [
      ...[...groups].map(([ms, names]) => `exports ${names.join(', ')} run every ${describeEvery(ms)}`),
      ...(paused.length > 0
        ? [`exports ${paused.map(([n]) => n).join(', ')} wait for next month (their data is read then)`]
        : []),
    ];
    warning = `instance ${input.instanceId}: the schedule needs ~${needed.toLocaleString('en-US')} Looker queries this month, the budget is ${input.budget.toLocaleString('en-US')}; ${parts.join('; ')}`;
  }
  return { level: chosen.level, forecast, needed, exports, every, warning };
}
