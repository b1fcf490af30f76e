import type { Catalog } from './catalog.ts';
import {
  EVENT_SPECS,
  type EventSpec,
  HISTORY_ERRORS,
  HISTORY_SOURCES,
  LOOKML_DASHBOARDS,
  MODELS,
  PDT_ACTIONS,
  PDT_VIEWS,
  SCHEDULE_FAILURES,
} from './names.ts';
import { Draw, hash32, Stream } from './random.ts';
import { Timeline } from './timeline.ts';

// The append-only activity tables: History, events and their attributes, scheduled jobs and PDT events. Row i of
// each is a pure function of (seed, i) and its creation second, which a Timeline gives, so a million rows cost
// nothing until they are read and a time window is an index range.

export interface HistoryCore {
  index: number;
  id: number;
  createdSec: number;
  source: string;
  userId: number;
  dashboardId: number | null;
  lookmlDashboardId: string | null;
  lookId: number | null;
  planId: number | null;
}

export interface HistoryRecord extends HistoryCore {
  queryId: number;
  status: string;
  runtime: number;
  completedSec: number;
  resultSource: string;
  message: string | null;
  workspaceId: string;
  cache: boolean;
}

export interface EventRecord {
  index: number;
  id: number;
  createdSec: number;
  spec: EventSpec;
  userId: number;
  sudoUserId: number | null;
  isApiCall: boolean;
}

export interface EventAttributeRecord {
  slot: number;
  id: number;
  event: EventRecord;
  name: string;
  value: string;
}

/** A query the API user ran through the emulator itself (run_inline_query), as History records it. */
export interface ApiQueryRun {
  /** Seconds; null while it runs. */
  runtime: number | null;
  status: 'complete' | 'error';
  message: string | null;
}

/** History `source` of the queries the API credentials run (the pipeline's own queries). */
export const API_SOURCE = 'api';

export interface ScheduledJobRecord {
  index: number;
  id: number;
  planId: number;
  createdSec: number;
  finalizedSec: number;
  status: string;
  statusDetail: string | null;
}

export interface PdtEventRecord {
  index: number;
  id: number;
  createdSec: number;
  action: string;
  modelName: string;
  viewName: string;
  connection: string;
  tableName: string;
  hash: string;
  elapsedMs: number | null;
}

/** Attribute ids are `event index × 3 + slot + 1`: ids grow with event time, events with fewer attributes leave gaps. */
export const ATTRIBUTE_SLOTS = 3;

export interface ActivitySizes {
  history: number;
  events: number;
  jobs: number;
  pdtEvents: number;
}

export function activitySizes(historyRows: number): ActivitySizes {
  return {
    history: historyRows,
    events: Math.max(10, Math.round(historyRows / 4)),
    jobs: Math.max(3, Math.round(historyRows / 15)),
    pdtEvents: Math.max(5, Math.round(historyRows / 20)),
  };
}

const EVENT_TABLE = EVENT_SPECS.map((spec) => [spec, spec.weight] as const);

function gaussian(draw: Draw): number {
  const u = Math.max(1e-12, draw.next());
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * draw.next());
}

export class Activity {
  readonly history: Timeline;
  readonly events: Timeline;
  readonly jobs: Timeline;
  readonly pdtEvents: Timeline;
  private readonly sessions = new Map<number, string>();
  /** History rows of the API user's own queries, by row index. */
  private readonly apiRuns = new Map<number, ApiQueryRun>();

  constructor(
    private readonly seed: number,
    sizes: ActivitySizes,
    private readonly catalog: Catalog,
    /** Elite/standard: runtimes as Looker sees them (a few long runners), new rows not special-cased. */
    private readonly realistic = false,
  ) {
    const timeline = (stream: number, generated: number) =>
      new Timeline({
        seed,
        stream,
        generated,
        startSec: catalog.windowStartSec,
        endSec: catalog.windowEndSec,
        dailyWave: 0.6,
      });
    this.history = timeline(Stream.historyTime, sizes.history);
    this.events = timeline(Stream.eventsTime, sizes.events);
    this.jobs = timeline(Stream.jobsTime, sizes.jobs);
    this.pdtEvents = timeline(Stream.pdtTime, sizes.pdtEvents);
  }

  /** Who ran what, from where: all content_usage needs, without the rest of the row. */
  historyCore(index: number, draw = new Draw(this.seed, Stream.history, index)): HistoryCore {
    const createdSec = this.history.createdSec(index);
    const catalog = this.catalog;
    if (index >= this.history.generated && this.apiRuns.has(index)) {
      const userId = catalog.apiUserId;
      const id = index + 1;
      const noContent = { dashboardId: null, lookmlDashboardId: null, lookId: null, planId: null };
      return { index, id, createdSec, source: API_SOURCE, userId, ...noContent };
    }
    const source = draw.weighted(HISTORY_SOURCES);
    let userId = catalog.liveUserAt(draw, createdSec);
    let dashboardId: number | null = null;
    let lookmlDashboardId: string | null = null;
    let lookId: number | null = null;
    let planId: number | null = null;
    switch (source) {
      case 'dashboard':
        if (draw.chance(0.05)) lookmlDashboardId = draw.pick(LOOKML_DASHBOARDS).id;
        else dashboardId = catalog.liveDashboardAt(draw, createdSec);
        break;
      case 'dashboard_prefetch':
      case 'private_embed':
        dashboardId = catalog.liveDashboardAt(draw, createdSec);
        break;
      case 'look':
      case 'public_url':
        lookId = catalog.liveLookAt(draw, createdSec);
        break;
      case 'api3': {
        const roll = draw.next();
        if (roll < 0.5) lookId = catalog.liveLookAt(draw, createdSec);
        else if (roll < 0.7) dashboardId = catalog.liveDashboardAt(draw, createdSec);
        break;
      }
      case 'scheduled_task': {
        planId = draw.skewedId(catalog.sizes.plans);
        const plan = catalog.plan(planId);
        if (plan) {
          userId = plan.userId;
          dashboardId = plan.dashboardId;
          lookId = plan.lookId;
        }
        break;
      }
    }
    return {
      index,
      id: index + 1,
      createdSec,
      source,
      userId,
      dashboardId,
      lookmlDashboardId,
      lookId,
      planId,
    };
  }

  historyRow(index: number): HistoryRecord {
    const draw = new Draw(this.seed, Stream.history, index);
    const core = this.historyCore(index, draw);
    const catalog = this.catalog;
    let queryId: number;
    if (core.lookId !== null) queryId = catalog.look(core.lookId)?.queryId ?? catalog.adHocQueryId(draw);
    else if (core.dashboardId !== null)
      queryId = draw.pick(catalog.dashboard(core.dashboardId)?.queryIds ?? [1]);
    else queryId = catalog.adHocQueryId(draw);
    const statusRoll = draw.next();
    const status = statusRoll < 0.955 ? 'complete' : statusRoll < 0.99 ? 'error' : 'killed';
    const cached = status === 'complete' && draw.chance(0.4);
    const resultSource = cached ? (draw.chance(0.1) ? 'stale_cache' : 'cache') : 'query';
    let runtime = cached
      ? Math.round((0.01 + draw.next() * 0.4) * 1000) / 1000
      : Math.round(Math.min(600, Math.max(0.05, Math.exp(0.4 + 1.1 * gaussian(draw)))) * 1000) / 1000;
    if (this.realistic) {
      // About 0.5% of real queries run for more than an hour (a hash, not a draw: the other draws stay put).
      const long = hash32(this.seed, Stream.history, index, 903) / 0x100000000;
      if (!cached && long < 0.005) runtime = 3600 + Math.round((long / 0.005) * 5 * 3600); // 1 to 6 h
    } else if (index >= this.history.generated) {
      // Ideal: rows simulated "now" finish within seconds, so their completed_time is not far in the future.
      runtime = Math.min(runtime, 2.5);
    }
    let message: string | null = null;
    if (status === 'error') message = draw.pick(HISTORY_ERRORS);
    else if (status === 'killed') message = 'Query killed by user';
    const apiRun = index >= this.history.generated ? this.apiRuns.get(index) : undefined;
    if (apiRun) {
      // The API user's own query: complete (or error) once it has returned; running until then.
      return {
        index,
        id: core.id,
        createdSec: core.createdSec,
        source: core.source,
        userId: core.userId,
        dashboardId: null,
        lookmlDashboardId: null,
        lookId: null,
        planId: null,
        queryId,
        status: apiRun.status,
        runtime: apiRun.runtime ?? 0,
        completedSec:
          apiRun.runtime === null ? Number.POSITIVE_INFINITY : core.createdSec + Math.floor(apiRun.runtime),
        resultSource: 'query',
        message: apiRun.message,
        workspaceId: 'production',
        cache: false,
      };
    }
    // Fields listed one by one: object spread here cost ~20 µs per row in V8 (a 10x slowdown of streaming).
    return {
      index,
      id: core.id,
      createdSec: core.createdSec,
      source: core.source,
      userId: core.userId,
      dashboardId: core.dashboardId,
      lookmlDashboardId: core.lookmlDashboardId,
      lookId: core.lookId,
      planId: core.planId,
      queryId,
      status,
      runtime,
      completedSec: core.createdSec + Math.floor(runtime),
      resultSource,
      message,
      workspaceId: draw.chance(0.03) ? 'dev' : 'production',
      cache: draw.chance(0.9),
    };
  }

  /**
   * Records a query of the API user started at `createdSec`: a History row, running until `finish` is called
   * with its runtime (seconds) and outcome.
   */
  startApiQuery(createdSec: number): { finish(runtimeSec: number, error: string | null): void } {
    const run: ApiQueryRun = { runtime: null, status: 'complete', message: null };
    const index = this.history.count;
    this.apiRuns.set(index, run);
    const appended = this.history.append(createdSec);
    if (appended !== index) throw new Error(`History row ${index} was appended at ${appended}`);
    return {
      finish: (runtimeSec, error) => {
        run.runtime = Math.round(Math.max(0, runtimeSec) * 1000) / 1000;
        if (error !== null) {
          run.status = 'error';
          run.message = error;
        }
      },
    };
  }

  /** The 32-hex id shared by the tiles of one dashboard load (same dashboard, same 15 minutes). */
  dashboardSession(row: HistoryCore): string | null {
    const dashboard = row.dashboardId ?? row.lookmlDashboardId;
    if (
      dashboard === null ||
      (row.source !== 'dashboard' && row.source !== 'dashboard_prefetch' && row.source !== 'private_embed')
    ) {
      return null;
    }
    const dashboardKey =
      typeof dashboard === 'number'
        ? dashboard
        : 1_000_000 + LOOKML_DASHBOARDS.findIndex((d) => d.id === dashboard);
    const key = dashboardKey * 10_000_000 + Math.floor(row.createdSec / 900);
    // Rows are read in time order, so the same session comes back many times in a row: remember recent ones.
    let session = this.sessions.get(key);
    if (session === undefined) {
      session = new Draw(this.seed, Stream.content, key).hex(32);
      if (this.sessions.size >= 4096) this.sessions.clear();
      this.sessions.set(key, session);
    }
    return session;
  }

  event(index: number): EventRecord {
    const draw = new Draw(this.seed, Stream.events, index);
    const spec = draw.weighted(EVENT_TABLE);
    const createdSec = this.events.createdSec(index);
    const userId = this.catalog.liveUserAt(draw, createdSec);
    const user = this.catalog.user(userId);
    const isApiCall =
      (spec.name === 'login' && (user?.hasApiCredentials ?? false) && draw.chance(0.6)) ||
      (spec.name === 'export_query' && draw.chance(0.3));
    return {
      index,
      id: index + 1,
      createdSec,
      spec,
      userId,
      sudoUserId: draw.chance(0.02) ? 1 : null,
      isApiCall,
    };
  }

  /** The attribute in `slot` (event index × 3 + position), or null where the event has fewer attributes. */
  eventAttribute(slot: number): EventAttributeRecord | null {
    const eventIndex = Math.floor(slot / ATTRIBUTE_SLOTS);
    const position = slot - eventIndex * ATTRIBUTE_SLOTS;
    const event = this.event(eventIndex);
    const name = event.spec.attributes[position];
    if (name === undefined) return null;
    return { slot, id: slot + 1, event, name, value: this.attributeValue(event, name) };
  }

  private attributeValue(event: EventRecord, name: string): string {
    const draw = new Draw(
      this.seed,
      Stream.attributes,
      event.index * ATTRIBUTE_SLOTS + event.spec.attributes.indexOf(name),
    );
    const catalog = this.catalog;
    switch (name) {
      case 'credentials_type':
        return event.isApiCall ? 'api3' : draw.pick(['email', 'saml', 'google']);
      case 'ip_address':
        return `10.${draw.int(256)}.${draw.int(256)}.${draw.between(1, 254)}`;
      case 'user_agent':
        return event.isApiCall
          ? 'looker-sdk-node/26.12.0'
          : draw.pick(['Mozilla/5.0 (Macintosh)', 'Mozilla/5.0 (Windows NT 10.0)']);
      case 'session_id':
        return draw.hex(24);
      case 'email':
        return catalog.user(event.userId)?.email ?? 'unknown@example.com';
      case 'reason':
        return draw.pick(['bad_password', 'locked_out', 'unknown_user']);
      case 'dashboard_id':
        return String(draw.skewedId(catalog.sizes.dashboards));
      case 'look_id':
        return String(draw.skewedId(catalog.sizes.looks));
      case 'title':
        return `${draw.pick(['Sales', 'Revenue', 'Support'])} ${draw.pick(['Overview', 'KPIs'])}`;
      case 'query_id':
        return String(draw.between(1, catalog.queryCount));
      case 'format':
        return draw.pick(['csv', 'xlsx', 'json', 'pdf']);
      case 'row_count':
        return String(draw.between(1, 50_000));
      case 'scheduled_plan_id':
        return String(draw.skewedId(catalog.sizes.plans));
      case 'name':
        return `Schedule ${draw.between(1, 999)}`;
      case 'user_id':
        return String(draw.skewedId(catalog.sizes.users));
      case 'changed_fields':
        return draw.pick(['["email"]', '["role_ids"]', '["first_name","last_name"]']);
      default:
        return '';
    }
  }

  scheduledJob(index: number): ScheduledJobRecord {
    const draw = new Draw(this.seed, Stream.jobs, index);
    const createdSec = this.jobs.createdSec(index);
    const statusRoll = draw.next();
    const status = statusRoll < 0.88 ? 'success' : statusRoll < 0.98 ? 'failure' : 'skipped';
    let planId = draw.skewedId(this.catalog.sizes.plans);
    for (let attempt = 0; attempt < 4 && !this.catalog.plan(planId)?.enabled; attempt++)
      planId = draw.skewedId(this.catalog.sizes.plans);
    if (!this.catalog.plan(planId)?.enabled) planId = 1;
    return {
      index,
      id: index + 1,
      planId,
      createdSec,
      // Ideal: jobs simulated "now" finish at once. Realistic: they take as long as any other.
      finalizedSec: createdSec + (index >= this.jobs.generated && !this.realistic ? 1 : draw.between(2, 300)),
      status,
      statusDetail:
        status === 'failure'
          ? draw.pick(SCHEDULE_FAILURES)
          : status === 'skipped'
            ? 'Skipped: the query returned no results'
            : null,
    };
  }

  pdtEvent(index: number): PdtEventRecord {
    const draw = new Draw(this.seed, Stream.pdt, index);
    const action = draw.weighted(PDT_ACTIONS);
    const model = draw.pick(MODELS.slice(0, 3));
    const viewName = draw.pick(PDT_VIEWS);
    const hash = (
      hash32(this.seed, Stream.pdt, index, 77).toString(36) +
      hash32(this.seed, Stream.pdt, index, 78).toString(36)
    ).slice(0, 12);
    const createdSec = this.pdtEvents.createdSec(index);
    return {
      index,
      id: index + 1,
      createdSec,
      action,
      modelName: model.model,
      viewName,
      connection: model.connection,
      tableName: `LR$${hash.slice(0, 5).toUpperCase()}${createdSec}_${viewName}`,
      hash,
      elapsedMs: action === 'create complete' ? draw.between(200, 900_000) : null,
    };
  }
}
