import { Activity, activitySizes } from './activity.ts';
import {
  ContentUsageTable,
  type FieldUsageRecord,
  fieldUsageRows,
  LoginFacts,
  PlanRuns,
} from './aggregates.ts';
import { Catalog, catalogSizes } from './catalog.ts';
import { DAY } from './time.ts';
import type { LookerInstanceSpec } from './types.ts';

// Everything one emulated instance knows, generated from its seed: the catalog (users, content, queries, plans),
// the activity tables and the aggregates derived from them. Nothing large is materialised at start.

export class Dataset {
  readonly catalog: Catalog;
  readonly activity: Activity;
  readonly contentUsage: ContentUsageTable;
  readonly logins: LoginFacts;
  readonly planRuns: PlanRuns;
  private fieldUsage: FieldUsageRecord[] | undefined;

  constructor(
    readonly seed: number,
    spec: Pick<LookerInstanceSpec, 'historyRows' | 'historyDays' | 'users' | 'dashboards' | 'looks'>,
    /** The emulator's start, in epoch seconds: History ends just before it. */
    readonly startedSec: number,
  ) {
    const windowStartSec = startedSec - Math.round((spec.historyDays ?? 90) * DAY);
    this.catalog = new Catalog(seed, catalogSizes(spec), windowStartSec, startedSec);
    this.activity = new Activity(seed, activitySizes(spec.historyRows), this.catalog);
    this.contentUsage = new ContentUsageTable(seed, this.catalog, this.activity);
    this.logins = new LoginFacts(this.catalog, this.activity);
    this.planRuns = new PlanRuns(this.catalog, this.activity);
  }

  fieldUsageRows(): FieldUsageRecord[] {
    this.fieldUsage ??= fieldUsageRows(this.catalog);
    return this.fieldUsage;
  }

  /**
   * New activity at `nowSec`: `n` History rows plus, in the same proportions as the generated data (at least one
   * each), events with their attributes, scheduled jobs and PDT events. Aggregates already computed are updated.
   */
  simulateActivity(n: number, nowSec: number) {
    if (!Number.isInteger(n) || n <= 0) return;
    const { activity } = this;
    for (let i = 0; i < n; i++) {
      const index = activity.history.append(nowSec);
      this.contentUsage.recordHistory(activity.historyCore(index));
    }
    for (let i = 0; i < Math.ceil(n / 4); i++) {
      const index = activity.events.append(nowSec);
      this.logins.recordEvent(activity.event(index));
    }
    for (let i = 0; i < Math.ceil(n / 15); i++) {
      const index = activity.jobs.append(nowSec);
      this.planRuns.recordJob(activity.scheduledJob(index));
    }
    for (let i = 0; i < Math.ceil(n / 20); i++) activity.pdtEvents.append(nowSec);
  }
}
