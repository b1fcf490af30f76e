import { Activity, activitySizes } from './activity.ts';
import {
  ContentUsageTable,
  type FieldUsageRecord,
  fieldUsageRows,
  LoginFacts,
  PlanRuns,
} from './aggregates.ts';
import { Catalog, type CatalogOptions, catalogSizes } from './catalog.ts';
import { LayoutComponents } from './layout.ts';
import { Draw, Stream } from './random.ts';
import { DAY } from './time.ts';
import type { Timeline } from './timeline.ts';
import type { LookerInstanceSpec } from './types.ts';

// Everything one emulated instance knows, generated from its seed: the catalog (users, content, queries, plans),
// the activity tables and the aggregates derived from them. Nothing large is materialised at start.

export interface DatasetOptions extends CatalogOptions {
  /** Elite/standard System Activity: rows change after they appear, more content types, spread activity. */
  realistic: boolean;
}

/** How far back the first realistic simulation spreads its rows. */
const FIRST_SIMULATION_SPAN = 3600;

export class Dataset {
  readonly catalog: Catalog;
  readonly activity: Activity;
  readonly contentUsage: ContentUsageTable;
  readonly logins: LoginFacts;
  readonly planRuns: PlanRuns;
  readonly layout: LayoutComponents;
  readonly realistic: boolean;
  private fieldUsage: FieldUsageRecord[] | undefined;
  private lastSimulationSec: number | undefined;
  private simulations = 0;

  constructor(
    readonly seed: number,
    spec: Pick<LookerInstanceSpec, 'historyRows' | 'historyDays' | 'users' | 'dashboards' | 'looks'>,
    /** The emulator's start, in epoch seconds: History ends just before it. */
    readonly startedSec: number,
    options: DatasetOptions = { realistic: false, deletions: false, apiUser: { id: 1 } },
  ) {
    const windowStartSec = startedSec - Math.round((spec.historyDays ?? 90) * DAY);
    this.realistic = options.realistic;
    this.catalog = new Catalog(seed, catalogSizes(spec), windowStartSec, startedSec, options);
    this.activity = new Activity(seed, activitySizes(spec.historyRows), this.catalog, options.realistic);
    this.contentUsage = new ContentUsageTable(seed, this.catalog, this.activity, options.realistic);
    this.logins = new LoginFacts(this.catalog, this.activity);
    this.planRuns = new PlanRuns(this.catalog, this.activity);
    this.layout = new LayoutComponents(seed, this.catalog);
  }

  fieldUsageRows(): FieldUsageRecord[] {
    this.fieldUsage ??= fieldUsageRows(this.catalog);
    return this.fieldUsage;
  }

  /**
   * New activity written at `nowSec`: `n` History rows plus, in the same proportions as the generated data (at
   * least one each), events with their attributes, scheduled jobs and PDT events. Ideal: all created at `nowSec`.
   * Realistic: created over the time since the previous simulation (the last hour the first time), in order.
   * Aggregates catch up when next read.
   */
  simulateActivity(n: number, nowSec: number) {
    if (!Number.isInteger(n) || n <= 0) return;
    const { activity } = this;
    const counts: [Timeline, number][] = [
      [activity.history, n],
      [activity.events, Math.ceil(n / 4)],
      [activity.jobs, Math.ceil(n / 15)],
      [activity.pdtEvents, Math.ceil(n / 20)],
    ];
    const simulation = this.simulations++;
    for (const [timeline, count] of counts) {
      const times = this.realistic ? this.spread(timeline, count, nowSec, simulation) : null;
      for (let i = 0; i < count; i++) timeline.append(times ? (times[i] as number) : nowSec, nowSec);
    }
    this.lastSimulationSec = nowSec;
  }

  /** `count` creation seconds in order over (previous simulation, now], never before the table's last row. */
  private spread(timeline: Timeline, count: number, nowSec: number, simulation: number): number[] {
    const lastRow = timeline.count > 0 ? timeline.createdSec(timeline.count - 1) : Number.NEGATIVE_INFINITY;
    const from = Math.min(
      nowSec,
      Math.max(lastRow, this.lastSimulationSec ?? nowSec - FIRST_SIMULATION_SPAN),
    );
    const span = nowSec - from;
    const draw = new Draw(this.seed, Stream.simulation, simulation * 16 + timeline.count);
    const times: number[] = [];
    // Slot i of `count` equal slots, jittered inside its slot: increasing, and ending at most at now.
    for (let i = 0; i < count; i++)
      times.push(from + Math.min(span, Math.floor(((i + draw.next()) / count) * span) + 1));
    return times;
  }
}
