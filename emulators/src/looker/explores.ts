import type { ScheduledJobRecord } from './activity.ts';
import { ATTRIBUTE_SLOTS } from './activity.ts';
import type { PlanRecord } from './catalog.ts';
import type { Dataset } from './dataset.ts';
import type { DimensionDef, MeasureDef, ViewDef } from './fields.ts';
import type { Timeline } from './timeline.ts';
import { defineViews } from './views.ts';

// The explores of the `system__activity` model: a base view, the views joined onto it, and how to enumerate its
// rows. A row source is indexable (row i can be built on its own) and names the keys that grow with the index
// (ids, creation times), which lets the query engine turn filters into index ranges and skip sorting.

export interface JoinDef {
  view: ViewDef<unknown>;
  relationship: 'one_to_one' | 'many_to_one' | 'one_to_many';
  sqlOn: string | null;
  /** The joined view's record for a row of the explore (null for an outer join without a match). */
  get(row: unknown): unknown;
}

/** A key that does not decrease with the row index. Nulls count as smaller than every value. */
export interface OrderedKey {
  /** A dimension name, or a dimension group (`history.created`) standing for all its monotone timeframes. */
  field?: string;
  group?: string;
  /** Strictly increasing (a unique id): later sort keys cannot change the order. */
  strict: boolean;
  /** First row index whose key is >= value (time keys: epoch seconds). */
  lowerBound(value: number): number;
  /** Time keys: the key at an index (clamped into the rows that have one), null when no row has one. */
  valueAt?(index: number): number | null;
}

export interface RowSource {
  size: number;
  /** The row at an index, or null where the index is a gap. */
  at(index: number): unknown;
  keys: OrderedKey[];
}

export interface ExploreDef {
  name: string;
  label: string;
  description: string;
  baseView: string;
  /** The base view first (its `get` is the identity or a projection), then the joined views. */
  joins: JoinDef[];
  /** Field sets that identify a row: when all fields of one are selected, rows are distinct already. */
  grains: string[][];
  rows(): RowSource;
}

export interface ExploreFieldRef {
  def: DimensionDef<unknown>;
  join: JoinDef;
}

export interface ExploreMeasureRef {
  def: MeasureDef<unknown>;
  join: JoinDef;
}

function join<R>(
  view: ViewDef<R>,
  relationship: JoinDef['relationship'],
  sqlOn: string | null,
  get: (row: never) => R | null | undefined,
): JoinDef {
  return {
    view: view as ViewDef<unknown>,
    relationship,
    sqlOn,
    get: get as (row: unknown) => unknown,
  };
}

function clamp(value: number, lo: number, hi: number): number {
  if (Number.isNaN(value)) return lo;
  return Math.min(hi, Math.max(lo, value));
}

/** Key `field` = (index − offset) / perId + 1 for indices in [offset, offset + count × perId). */
function idKey(field: string, count: number, offset = 0, perId = 1, strict = true): OrderedKey {
  return {
    field,
    strict,
    lowerBound: (value) => clamp(offset + (Math.ceil(value) - 1) * perId, offset, offset + count * perId),
  };
}

function timelineKey(group: string, timeline: Timeline, offset = 0, perRow = 1): OrderedKey {
  return {
    group,
    strict: false,
    lowerBound: (sec) => offset + timeline.lowerBound(sec) * perRow,
    valueAt: (index) =>
      timeline.count === 0
        ? null
        : timeline.createdSec(clamp(Math.floor((index - offset) / perRow), 0, timeline.count - 1)),
  };
}

/** Binary search on a key read from each row (for the small catalog tables). */
function searchedKey(group: string, size: number, keyAt: (index: number) => number): OrderedKey {
  return {
    group,
    strict: false,
    valueAt: (index) => (size === 0 ? null : keyAt(clamp(index, 0, size - 1))),
    lowerBound: (value) => {
      let lo = 0;
      let hi = size;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (keyAt(mid) < value) lo = mid + 1;
        else hi = mid;
      }
      return lo;
    },
  };
}

export function defineExplores(data: Dataset): Map<string, ExploreDef> {
  const views = defineViews(data);
  const { catalog, activity } = data;
  const explores: ExploreDef[] = [];

  type History = ReturnType<typeof activity.historyRow>;
  explores.push({
    name: 'history',
    label: 'History',
    description: 'Every query run on the instance',
    baseView: 'history',
    joins: [
      join(views.history, 'one_to_one', null, (h: History) => h),
      join(views.query, 'many_to_one', '${history.query_id} = ${query.id}', (h: History) =>
        catalog.query(h.queryId),
      ),
      join(views.user, 'many_to_one', '${history.user_id} = ${user.id}', (h: History) =>
        catalog.user(h.userId),
      ),
      join(views.userFacts, 'one_to_one', '${user.id} = ${user_facts.user_id}', (h: History) =>
        catalog.user(h.userId),
      ),
      join(views.dashboard, 'many_to_one', '${history.dashboard_id} = ${dashboard.id}', (h: History) =>
        h.dashboardId === null ? null : catalog.dashboard(h.dashboardId),
      ),
      join(views.look, 'many_to_one', '${history.look_id} = ${look.id}', (h: History) =>
        h.lookId === null ? null : catalog.look(h.lookId),
      ),
    ],
    grains: [['history.id']],
    rows: () => ({
      size: activity.history.count,
      at: (index) => activity.historyRow(index),
      keys: [idKey('history.id', activity.history.count), timelineKey('history.created', activity.history)],
    }),
  });

  explores.push({
    name: 'user',
    label: 'User',
    description: 'Users and their facts',
    baseView: 'user',
    joins: [
      join(views.user, 'one_to_one', null, (u: NonNullable<ReturnType<typeof catalog.user>>) => u),
      join(
        views.userFacts,
        'one_to_one',
        '${user.id} = ${user_facts.user_id}',
        (u: NonNullable<ReturnType<typeof catalog.user>>) => u,
      ),
    ],
    grains: [['user.id'], ['user_facts.id']],
    rows: () => {
      const size = catalog.sizes.users;
      return {
        size,
        at: (index) => catalog.user(index + 1),
        keys: [
          idKey('user.id', size),
          idKey('user_facts.id', size),
          searchedKey('user.created', size, (i) => catalog.user(i + 1)?.createdSec ?? 0),
        ],
      };
    },
  });

  type Dash = NonNullable<ReturnType<typeof catalog.dashboard>>;
  explores.push({
    name: 'dashboard',
    label: 'Dashboard',
    description: 'User-defined dashboards',
    baseView: 'dashboard',
    joins: [
      join(views.dashboard, 'one_to_one', null, (d: Dash) => d),
      join(views.user, 'many_to_one', '${dashboard.user_id} = ${user.id}', (d: Dash) =>
        catalog.user(d.userId),
      ),
    ],
    grains: [['dashboard.id']],
    rows: () => {
      const size = catalog.sizes.dashboards;
      return {
        size,
        at: (index) => catalog.dashboard(index + 1),
        keys: [
          idKey('dashboard.id', size),
          searchedKey('dashboard.created', size, (i) => catalog.dashboard(i + 1)?.createdSec ?? 0),
        ],
      };
    },
  });

  type Look = NonNullable<ReturnType<typeof catalog.look>>;
  explores.push({
    name: 'look',
    label: 'Look',
    description: 'Saved Looks',
    baseView: 'look',
    joins: [
      join(views.look, 'one_to_one', null, (l: Look) => l),
      join(views.query, 'many_to_one', '${look.query_id} = ${query.id}', (l: Look) =>
        catalog.query(l.queryId),
      ),
      join(views.user, 'many_to_one', '${look.user_id} = ${user.id}', (l: Look) => catalog.user(l.userId)),
    ],
    grains: [['look.id']],
    rows: () => {
      const size = catalog.sizes.looks;
      return {
        size,
        at: (index) => catalog.look(index + 1),
        keys: [
          idKey('look.id', size),
          searchedKey('look.created', size, (i) => catalog.look(i + 1)?.createdSec ?? 0),
        ],
      };
    },
  });

  type Usage = NonNullable<ReturnType<typeof data.contentUsage.row>>;
  explores.push({
    name: 'content_usage',
    label: 'Content Usage',
    description: 'Access counts per dashboard and Look',
    baseView: 'content_usage',
    joins: [
      join(views.contentUsage, 'one_to_one', null, (c: Usage) => c),
      join(views.dashboard, 'many_to_one', '${content_usage.content_id} = ${dashboard.id}', (c: Usage) =>
        c.dashboardId === null ? null : catalog.dashboard(c.dashboardId),
      ),
      join(views.look, 'many_to_one', '${content_usage.content_id} = ${look.id}', (c: Usage) =>
        c.lookId === null ? null : catalog.look(c.lookId),
      ),
    ],
    grains: [['content_usage.id']],
    rows: () => {
      const size = data.contentUsage.size;
      return { size, at: (index) => data.contentUsage.row(index), keys: [idKey('content_usage.id', size)] };
    },
  });

  type Event = ReturnType<typeof activity.event>;
  explores.push({
    name: 'event',
    label: 'Event',
    description: 'Audit events',
    baseView: 'event',
    joins: [
      join(views.event, 'one_to_one', null, (e: Event) => e),
      join(views.user, 'many_to_one', '${event.user_id} = ${user.id}', (e: Event) => catalog.user(e.userId)),
      join(views.userFacts, 'one_to_one', '${user.id} = ${user_facts.user_id}', (e: Event) =>
        catalog.user(e.userId),
      ),
    ],
    grains: [['event.id']],
    rows: () => ({
      size: activity.events.count,
      at: (index) => activity.event(index),
      keys: [idKey('event.id', activity.events.count), timelineKey('event.created', activity.events)],
    }),
  });

  type Attribute = NonNullable<ReturnType<typeof activity.eventAttribute>>;
  explores.push({
    name: 'event_attribute',
    label: 'Event Attribute',
    description: 'Name/value attributes of audit events',
    baseView: 'event_attribute',
    joins: [
      join(views.eventAttribute, 'one_to_one', null, (a: Attribute) => a),
      join(
        views.event,
        'many_to_one',
        '${event_attribute.event_id} = ${event.id}',
        (a: Attribute) => a.event,
      ),
      join(views.user, 'many_to_one', '${event.user_id} = ${user.id}', (a: Attribute) =>
        catalog.user(a.event.userId),
      ),
    ],
    grains: [['event_attribute.id']],
    rows: () => {
      const events = activity.events.count;
      const size = events * ATTRIBUTE_SLOTS;
      return {
        size,
        at: (slot) => activity.eventAttribute(slot),
        keys: [
          idKey('event_attribute.id', size),
          idKey('event.id', events, 0, ATTRIBUTE_SLOTS, false),
          timelineKey('event.created', activity.events, 0, ATTRIBUTE_SLOTS),
        ],
      };
    },
  });

  // Jobs are left-joined onto plans: a plan that never ran is one row with null job fields. Those rows come
  // first, so that ordering by job id or time (nulls lowest) is still index order.
  interface PlanRow {
    plan: PlanRecord | null;
    job: ScheduledJobRecord | null;
  }
  explores.push({
    name: 'scheduled_plan',
    label: 'Scheduled Plan',
    description: 'Scheduled plans and their jobs',
    baseView: 'scheduled_plan',
    joins: [
      join(views.scheduledPlan, 'one_to_one', null, (r: PlanRow) => r.plan),
      join(
        views.scheduledJob,
        'one_to_many',
        '${scheduled_plan.id} = ${scheduled_job.scheduled_plan_id}',
        (r: PlanRow) => r.job,
      ),
      join(views.user, 'many_to_one', '${scheduled_plan.user_id} = ${user.id}', (r: PlanRow) =>
        r.plan ? catalog.user(r.plan.userId) : null,
      ),
      join(
        views.dashboard,
        'many_to_one',
        '${scheduled_plan.dashboard_id} = ${dashboard.id}',
        (r: PlanRow) => (r.plan?.dashboardId ? catalog.dashboard(r.plan.dashboardId) : null),
      ),
      join(views.look, 'many_to_one', '${scheduled_plan.look_id} = ${look.id}', (r: PlanRow) =>
        r.plan?.lookId ? catalog.look(r.plan.lookId) : null,
      ),
    ],
    grains: [['scheduled_plan.id', 'scheduled_job.id']],
    rows: () => {
      const idle = data.planRuns.plansWithoutJobs();
      const jobs = activity.jobs.count;
      return {
        size: idle.length + jobs,
        at: (index): PlanRow => {
          if (index < idle.length) return { plan: catalog.plan(idle[index] as number), job: null };
          const job = activity.scheduledJob(index - idle.length);
          return { plan: catalog.plan(job.planId), job };
        },
        keys: [
          idKey('scheduled_job.id', jobs, idle.length, 1, false),
          timelineKey('scheduled_job.created', activity.jobs, idle.length),
        ],
      };
    },
  });

  type Pdt = ReturnType<typeof activity.pdtEvent>;
  explores.push({
    name: 'pdt_event_log',
    label: 'PDT Event Log',
    description: 'Persistent derived table events',
    baseView: 'pdt_event_log',
    joins: [join(views.pdtEventLog, 'one_to_one', null, (p: Pdt) => p)],
    grains: [['pdt_event_log.id']],
    rows: () => ({
      size: activity.pdtEvents.count,
      at: (index) => activity.pdtEvent(index),
      keys: [
        idKey('pdt_event_log.id', activity.pdtEvents.count),
        timelineKey('pdt_event_log.created', activity.pdtEvents),
      ],
    }),
  });

  type Usage2 = ReturnType<typeof data.fieldUsageRows>[number];
  explores.push({
    name: 'field_usage',
    label: 'Field Usage',
    description: 'How often each field is used',
    baseView: 'field_usage',
    joins: [join(views.fieldUsage, 'one_to_one', null, (f: Usage2) => f)],
    grains: [['field_usage.id']],
    rows: () => {
      const rows = data.fieldUsageRows();
      return {
        size: rows.length,
        at: (index) => rows[index] ?? null,
        keys: [idKey('field_usage.id', rows.length)],
      };
    },
  });

  return new Map(explores.map((e) => [e.name, e]));
}

/** Every dimension of an explore with the join that reaches its view, base view first. */
export function exploreDimensions(explore: ExploreDef): ExploreFieldRef[] {
  return explore.joins.flatMap((j) => j.view.dimensions.map((def) => ({ def, join: j })));
}

export function exploreMeasures(explore: ExploreDef): ExploreMeasureRef[] {
  return explore.joins.flatMap((j) => j.view.measures.map((def) => ({ def, join: j })));
}
