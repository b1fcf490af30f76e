import type { Activity, EventRecord, HistoryCore, ScheduledJobRecord } from './activity.ts';
import type { Catalog } from './catalog.ts';
import { type ContentCounter, contentCounterOf, LOOKML_DASHBOARDS } from './names.ts';
import { hash32, Stream } from './random.ts';

// Tables Looker derives from activity: content_usage (per dashboard/Look counters and last access), the login
// facts of user_facts, the plans that ever ran, and field_usage. Each is computed by one scan the first time it is
// read and then kept in step with `simulateActivity`, so it always agrees with History and events.

export interface ContentUsageRecord {
  index: number;
  id: number;
  contentType: 'dashboard' | 'look';
  contentId: string;
  title: string;
  dashboardId: number | null;
  lookId: number | null;
  counts: Record<ContentCounter, number>;
  favoriteCount: number;
  lastAccessedSec: number | null;
}

interface ContentEntry {
  contentType: 'dashboard' | 'look';
  contentId: string;
  title: string;
  dashboardId: number | null;
  lookId: number | null;
}

const COUNTERS: readonly ContentCounter[] = ['api', 'embed', 'other', 'public', 'schedule', 'prefetch'];

export class ContentUsageTable {
  private entries: ContentEntry[] | undefined;
  private byDashboard = new Map<number, number>();
  private byLook = new Map<number, number>();
  private byLookml = new Map<string, number>();
  private counts: Record<ContentCounter, Int32Array> | undefined;
  private lastAccessed: Float64Array | undefined;

  constructor(
    private readonly seed: number,
    private readonly catalog: Catalog,
    private readonly activity: Activity,
  ) {}

  get size(): number {
    return this.list().length;
  }

  /** The content rows in id order: LookML dashboards (oldest), then dashboards and Looks by creation time. */
  private list(): ContentEntry[] {
    if (this.entries) return this.entries;
    const entries: ContentEntry[] = LOOKML_DASHBOARDS.map((d) => ({
      contentType: 'dashboard' as const,
      contentId: d.id,
      title: d.title,
      dashboardId: null,
      lookId: null,
    }));
    const { dashboards, looks } = this.catalog.sizes;
    let d = 1;
    let l = 1;
    while (d <= dashboards || l <= looks) {
      const dashboard = d <= dashboards ? this.catalog.dashboard(d) : null;
      const look = l <= looks ? this.catalog.look(l) : null;
      if (dashboard && (!look || dashboard.createdSec <= look.createdSec)) {
        entries.push({
          contentType: 'dashboard',
          contentId: String(d),
          title: dashboard.title,
          dashboardId: d,
          lookId: null,
        });
        d++;
      } else if (look) {
        entries.push({
          contentType: 'look',
          contentId: String(l),
          title: look.title,
          dashboardId: null,
          lookId: l,
        });
        l++;
      }
    }
    entries.forEach((entry, index) => {
      if (entry.dashboardId !== null) this.byDashboard.set(entry.dashboardId, index);
      else if (entry.lookId !== null) this.byLook.set(entry.lookId, index);
      else this.byLookml.set(entry.contentId, index);
    });
    this.entries = entries;
    return entries;
  }

  private ensureCounts() {
    if (this.counts && this.lastAccessed) return { counts: this.counts, lastAccessed: this.lastAccessed };
    const size = this.list().length;
    const counts = Object.fromEntries(COUNTERS.map((c) => [c, new Int32Array(size)])) as Record<
      ContentCounter,
      Int32Array
    >;
    const lastAccessed = new Float64Array(size).fill(Number.NaN);
    this.counts = counts;
    this.lastAccessed = lastAccessed;
    const total = this.activity.history.count;
    for (let index = 0; index < total; index++) this.recordHistory(this.activity.historyCore(index));
    return { counts, lastAccessed };
  }

  private indexOf(row: HistoryCore): number | undefined {
    if (row.dashboardId !== null) return this.byDashboard.get(row.dashboardId);
    if (row.lookId !== null) return this.byLook.get(row.lookId);
    if (row.lookmlDashboardId !== null) return this.byLookml.get(row.lookmlDashboardId);
    return undefined;
  }

  /** Counts one History row (no-op until the table has been computed: the first read scans everything). */
  recordHistory(row: HistoryCore) {
    if (!this.counts || !this.lastAccessed) return;
    const index = this.indexOf(row);
    if (index === undefined) return;
    const counter = this.counts[contentCounterOf(row.source)];
    counter[index] = (counter[index] ?? 0) + 1;
    const last = this.lastAccessed[index] ?? Number.NaN;
    if (Number.isNaN(last) || row.createdSec > last) this.lastAccessed[index] = row.createdSec;
  }

  row(index: number): ContentUsageRecord | null {
    const entry = this.list()[index];
    if (!entry) return null;
    const { counts, lastAccessed } = this.ensureCounts();
    const last = lastAccessed[index] ?? Number.NaN;
    return {
      index,
      id: index + 1,
      contentType: entry.contentType,
      contentId: entry.contentId,
      title: entry.title,
      dashboardId: entry.dashboardId,
      lookId: entry.lookId,
      counts: {
        api: counts.api[index] ?? 0,
        embed: counts.embed[index] ?? 0,
        other: counts.other[index] ?? 0,
        public: counts.public[index] ?? 0,
        schedule: counts.schedule[index] ?? 0,
        prefetch: counts.prefetch[index] ?? 0,
      },
      // Favorites are not History: a fixed number per content.
      favoriteCount:
        hash32(this.seed, Stream.content, index, 5) % 7 === 0
          ? hash32(this.seed, Stream.content, index, 6) % 12
          : 0,
      lastAccessedSec: Number.isNaN(last) ? null : last,
    };
  }
}

/** user_facts' last API/UI login times, from `login` events. */
export class LoginFacts {
  private lastApi: Float64Array | undefined;
  private lastUi: Float64Array | undefined;

  constructor(
    private readonly catalog: Catalog,
    private readonly activity: Activity,
  ) {}

  private ensure() {
    if (this.lastApi && this.lastUi) return { lastApi: this.lastApi, lastUi: this.lastUi };
    this.lastApi = new Float64Array(this.catalog.sizes.users + 1).fill(Number.NaN);
    this.lastUi = new Float64Array(this.catalog.sizes.users + 1).fill(Number.NaN);
    const total = this.activity.events.count;
    for (let index = 0; index < total; index++) this.recordEvent(this.activity.event(index));
    return { lastApi: this.lastApi, lastUi: this.lastUi };
  }

  recordEvent(event: EventRecord) {
    if (!this.lastApi || !this.lastUi || event.spec.name !== 'login') return;
    const target = event.isApiCall ? this.lastApi : this.lastUi;
    const last = target[event.userId] ?? Number.NaN;
    if (Number.isNaN(last) || event.createdSec > last) target[event.userId] = event.createdSec;
  }

  lastLogins(userId: number): { api: number | null; ui: number | null } {
    const { lastApi, lastUi } = this.ensure();
    const api = lastApi[userId] ?? Number.NaN;
    const ui = lastUi[userId] ?? Number.NaN;
    return { api: Number.isNaN(api) ? null : api, ui: Number.isNaN(ui) ? null : ui };
  }
}

/** Which scheduled plans have run at least once (the scheduled_plan explore left-joins jobs onto plans). */
export class PlanRuns {
  private ran: Uint8Array | undefined;

  constructor(
    private readonly catalog: Catalog,
    private readonly activity: Activity,
  ) {}

  private ensure(): Uint8Array {
    if (this.ran) return this.ran;
    this.ran = new Uint8Array(this.catalog.sizes.plans + 1);
    const total = this.activity.jobs.count;
    for (let index = 0; index < total; index++) this.recordJob(this.activity.scheduledJob(index));
    return this.ran;
  }

  recordJob(job: ScheduledJobRecord) {
    if (this.ran) this.ran[job.planId] = 1;
  }

  /** Ids of plans without any job, ascending. */
  plansWithoutJobs(): number[] {
    const ran = this.ensure();
    const ids: number[] = [];
    for (let id = 1; id <= this.catalog.sizes.plans; id++) if (!ran[id]) ids.push(id);
    return ids;
  }
}

export interface FieldUsageRecord {
  id: number;
  model: string;
  explore: string;
  view: string;
  field: string;
  timesUsed: number;
}

/** field_usage: how many saved queries use each field, one row per (model, explore, field). */
export function fieldUsageRows(catalog: Catalog): FieldUsageRecord[] {
  const counts = new Map<
    string,
    { key: string; model: string; explore: string; field: string; times: number }
  >();
  for (let id = 1; id <= catalog.queryCount; id++) {
    const query = catalog.query(id);
    if (!query) continue;
    for (const field of query.fields) {
      const key = `${query.model}\u0000${query.view}\u0000${field}`;
      const entry = counts.get(key);
      if (entry) entry.times++;
      else counts.set(key, { key, model: query.model, explore: query.view, field, times: 1 });
    }
  }
  return [...counts.values()]
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map((entry, index) => ({
      id: index + 1,
      model: entry.model,
      explore: entry.explore,
      view: entry.field.split('.')[0] ?? entry.explore,
      field: entry.field,
      timesUsed: entry.times,
    }));
}
