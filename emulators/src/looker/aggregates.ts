import type { Activity, HistoryCore } from './activity.ts';
import type { Catalog } from './catalog.ts';
import { type ContentCounter, contentCounterOf, LOOKML_DASHBOARDS, PDT_VIEWS, TITLE_AREAS } from './names.ts';
import { hash32, Stream } from './random.ts';

// Tables Looker derives from activity: content_usage (per content counters and last access), the login facts of
// user_facts, and the plans that ever ran. Each is a snapshot "as of" an instant (its table's last refresh; +∞ when
// live): the activity rows visible then are a prefix of each table, so a snapshot is built by one scan the first
// time and then extended with the rows written since. A newer snapshot copies the arrays it extends, so a query
// still streaming an older one keeps seeing it unchanged.

export type ContentType = 'dashboard' | 'look' | 'pdt' | 'board';

export interface ContentUsageRecord {
  index: number;
  id: number;
  contentType: ContentType;
  contentId: string;
  title: string;
  dashboardId: number | null;
  lookId: number | null;
  counts: Record<ContentCounter, number>;
  favoriteCount: number;
  lastAccessedSec: number | null;
}

interface ContentEntry {
  contentType: ContentType;
  contentId: string;
  title: string;
  dashboardId: number | null;
  lookId: number | null;
}

const COUNTERS: readonly ContentCounter[] = ['api', 'embed', 'other', 'public', 'schedule', 'prefetch'];

/** Counters of every content row after the first `historyRows` History rows (and `pdtRows` PDT events). */
export interface UsageSnapshot {
  historyRows: number;
  pdtRows: number;
  counts: Record<ContentCounter, Int32Array>;
  lastAccessed: Float64Array;
}

/** Boards of an instance with realistic content_usage (boards are not otherwise modelled). */
const BOARDS = 6;

export class ContentUsageTable {
  private entries: ContentEntry[] | undefined;
  private byDashboard = new Map<number, number>();
  private byLook = new Map<number, number>();
  private byLookml = new Map<string, number>();
  private byPdt = new Map<string, number>();
  private latest: UsageSnapshot | undefined;

  constructor(
    private readonly seed: number,
    private readonly catalog: Catalog,
    private readonly activity: Activity,
    /** Elite/standard: PDTs and boards have rows too, as in Looker. */
    private readonly realistic = false,
  ) {}

  get size(): number {
    return this.list().length;
  }

  /**
   * The content rows in id order: LookML dashboards (oldest), then dashboards and Looks by creation time; when
   * realistic, then boards and PDTs (their content_id is the board id and the PDT's view name).
   */
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
    if (this.realistic) {
      for (let b = 1; b <= BOARDS; b++) {
        const title = `${TITLE_AREAS[b % TITLE_AREAS.length]} Board`;
        entries.push({ contentType: 'board', contentId: String(b), title, dashboardId: null, lookId: null });
      }
      for (const view of PDT_VIEWS)
        entries.push({ contentType: 'pdt', contentId: view, title: view, dashboardId: null, lookId: null });
    }
    entries.forEach((entry, index) => {
      if (entry.contentType === 'pdt') this.byPdt.set(entry.contentId, index);
      else if (entry.dashboardId !== null) this.byDashboard.set(entry.dashboardId, index);
      else if (entry.lookId !== null) this.byLook.set(entry.lookId, index);
      else if (entry.contentType === 'dashboard') this.byLookml.set(entry.contentId, index);
    });
    this.entries = entries;
    return entries;
  }

  private indexOf(row: HistoryCore): number | undefined {
    if (row.dashboardId !== null) return this.byDashboard.get(row.dashboardId);
    if (row.lookId !== null) return this.byLook.get(row.lookId);
    if (row.lookmlDashboardId !== null) return this.byLookml.get(row.lookmlDashboardId);
    return undefined;
  }

  /** The counters as of `asOfSec` (+∞: everything so far). */
  snapshot(asOfSec: number): UsageSnapshot {
    const size = this.list().length;
    const historyRows = this.activity.history.visibleCount(asOfSec);
    const pdtRows = this.realistic ? this.activity.pdtEvents.visibleCount(asOfSec) : 0;
    const latest = this.latest;
    if (latest && latest.historyRows === historyRows && latest.pdtRows === pdtRows) return latest;
    let next: UsageSnapshot;
    if (latest && latest.historyRows <= historyRows && latest.pdtRows <= pdtRows) {
      next = {
        historyRows: latest.historyRows,
        pdtRows: latest.pdtRows,
        counts: Object.fromEntries(
          COUNTERS.map((c) => [c, latest.counts[c].slice()]),
        ) as UsageSnapshot['counts'],
        lastAccessed: latest.lastAccessed.slice(),
      };
    } else {
      next = {
        historyRows: 0,
        pdtRows: 0,
        counts: Object.fromEntries(COUNTERS.map((c) => [c, new Int32Array(size)])) as UsageSnapshot['counts'],
        lastAccessed: new Float64Array(size).fill(Number.NaN),
      };
    }
    for (let index = next.historyRows; index < historyRows; index++) {
      const row = this.activity.historyCore(index);
      this.count(next, this.indexOf(row), contentCounterOf(row.source), row.createdSec);
    }
    for (let index = next.pdtRows; index < pdtRows; index++) {
      const event = this.activity.pdtEvent(index);
      this.count(next, this.byPdt.get(event.viewName), 'other', event.createdSec);
    }
    next.historyRows = historyRows;
    next.pdtRows = pdtRows;
    // Keep the newest: snapshots only move forward, except when a test asks for an older instant.
    if (!latest || historyRows >= latest.historyRows) this.latest = next;
    return next;
  }

  private count(snapshot: UsageSnapshot, index: number | undefined, counter: ContentCounter, atSec: number) {
    if (index === undefined) return;
    const counts = snapshot.counts[counter];
    counts[index] = (counts[index] ?? 0) + 1;
    const last = snapshot.lastAccessed[index] ?? Number.NaN;
    if (Number.isNaN(last) || atSec > last) snapshot.lastAccessed[index] = atSec;
  }

  row(index: number, snapshot: UsageSnapshot): ContentUsageRecord | null {
    const entry = this.list()[index];
    if (!entry) return null;
    const { counts, lastAccessed } = snapshot;
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

interface LoginSnapshot {
  events: number;
  lastApi: Float64Array;
  lastUi: Float64Array;
}

/** user_facts' last API/UI login times, from `login` events. */
export class LoginFacts {
  private latest: LoginSnapshot | undefined;
  private memo: { asOfSec: number; total: number; snapshot: LoginSnapshot } | undefined;

  constructor(
    private readonly catalog: Catalog,
    private readonly activity: Activity,
  ) {}

  /** The login facts as of `asOfSec` (called per row: the last answer is remembered). */
  private snapshot(asOfSec: number): LoginSnapshot {
    const total = this.activity.events.count;
    const memo = this.memo;
    if (memo && memo.asOfSec === asOfSec && memo.total === total) return memo.snapshot;
    const events = this.activity.events.visibleCount(asOfSec);
    const latest = this.latest;
    let next: LoginSnapshot;
    if (latest && latest.events === events) next = latest;
    else {
      const extend = latest !== undefined && latest.events < events;
      const users = this.catalog.sizes.users + 1;
      next = {
        events: extend ? latest.events : 0,
        lastApi: extend ? latest.lastApi.slice() : new Float64Array(users).fill(Number.NaN),
        lastUi: extend ? latest.lastUi.slice() : new Float64Array(users).fill(Number.NaN),
      };
      for (let index = next.events; index < events; index++) {
        const event = this.activity.event(index);
        if (event.spec.name !== 'login') continue;
        const target = event.isApiCall ? next.lastApi : next.lastUi;
        const last = target[event.userId] ?? Number.NaN;
        if (Number.isNaN(last) || event.createdSec > last) target[event.userId] = event.createdSec;
      }
      next.events = events;
      if (!latest || events >= latest.events) this.latest = next;
    }
    this.memo = { asOfSec, total, snapshot: next };
    return next;
  }

  lastLogins(userId: number, asOfSec = Number.POSITIVE_INFINITY): { api: number | null; ui: number | null } {
    const { lastApi, lastUi } = this.snapshot(asOfSec);
    const api = lastApi[userId] ?? Number.NaN;
    const ui = lastUi[userId] ?? Number.NaN;
    return { api: Number.isNaN(api) ? null : api, ui: Number.isNaN(ui) ? null : ui };
  }
}

/** When each scheduled plan first ran (the scheduled_plan explore left-joins jobs onto plans). */
export class PlanRuns {
  private firstRun: Float64Array | undefined;
  private scanned = 0;

  constructor(
    private readonly catalog: Catalog,
    private readonly activity: Activity,
  ) {}

  private ensure(): Float64Array {
    this.firstRun ??= new Float64Array(this.catalog.sizes.plans + 1).fill(Number.POSITIVE_INFINITY);
    const firstRun = this.firstRun;
    const total = this.activity.jobs.count;
    for (; this.scanned < total; this.scanned++) {
      const job = this.activity.scheduledJob(this.scanned);
      // Jobs are in time order: the first seen is the first run.
      if (firstRun[job.planId] === Number.POSITIVE_INFINITY) firstRun[job.planId] = job.createdSec;
    }
    return firstRun;
  }

  /** Ids of plans without any job among the first `visibleJobs` jobs, ascending. */
  plansWithoutJobs(visibleJobs = this.activity.jobs.count): number[] {
    const firstRun = this.ensure();
    // The last visible job's time: a plan whose first run is later had not run in that copy of the table.
    const until = visibleJobs > 0 ? this.activity.jobs.createdSec(visibleJobs - 1) : Number.NEGATIVE_INFINITY;
    const ids: number[] = [];
    for (let id = 1; id <= this.catalog.sizes.plans; id++) if ((firstRun[id] as number) > until) ids.push(id);
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
