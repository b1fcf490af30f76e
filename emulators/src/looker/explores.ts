import type { ScheduledJobRecord } from './activity.ts';
import { ATTRIBUTE_SLOTS } from './activity.ts';
import { existsAsOf, type PlanRecord } from './catalog.ts';
import type { Dataset } from './dataset.ts';
import type { DimensionDef, MeasureDef, ValueEnv, ViewDef } from './fields.ts';
import type { LayoutComponentRecord } from './layout.ts';
import type { Timeline } from './timeline.ts';
import { defineViews } from './views.ts';

// The explores of the `system__activity` model: a base view, the views joined onto it, and how to enumerate its
// rows. A row source is indexable (row i can be built on its own) and names the keys that grow with the index
// (ids, creation times), which lets the query engine turn filters into index ranges and skip sorting.
// Rows are enumerated as of `env.asOfSec`, the explore's last refresh (+∞ when live): activity rows written
// since are past the end of the source, and entities deleted by then are gaps (and null in joins).

export interface JoinDef {
  view: ViewDef<unknown>;
  relationship: 'one_to_one' | 'many_to_one' | 'one_to_many';
  sqlOn: string | null;
  /** The joined view's record for a row of the explore (null for an outer join without a match). */
  get(row: unknown, env: ValueEnv): unknown;
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
  rows(env: ValueEnv): RowSource;
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
  get: (row: never, env: ValueEnv) => R | null | undefined,
): JoinDef {
  return {
    view: view as ViewDef<unknown>,
    relationship,
    sqlOn,
    get: get as (row: unknown, env: ValueEnv) => unknown,
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
  // Entities as the explore's copy of their table has them: deleted ones are gone.
  const userAt = (id: number | null, env: ValueEnv) => {
    const user = id === null ? null : catalog.user(id);
    return user && existsAsOf(user, env.asOfSec) ? user : null;
  };
  const dashboardAt = (id: number | null, env: ValueEnv) => {
    const dashboard = id === null ? null : catalog.dashboard(id);
    return dashboard && existsAsOf(dashboard, env.asOfSec) ? dashboard : null;
  };
  const lookAt = (id: number | null, env: ValueEnv) => {
    const look = id === null ? null : catalog.look(id);
    return look && existsAsOf(look, env.asOfSec) ? look : null;
  };

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
      join(views.user, 'many_to_one', '${history.user_id} = ${user.id}', (h: History, env) =>
        userAt(h.userId, env),
      ),
      join(views.userFacts, 'one_to_one', '${user.id} = ${user_facts.user_id}', (h: History, env) =>
        userAt(h.userId, env),
      ),
      join(views.dashboard, 'many_to_one', '${history.dashboard_id} = ${dashboard.id}', (h: History, env) =>
        dashboardAt(h.dashboardId, env),
      ),
      join(views.look, 'many_to_one', '${history.look_id} = ${look.id}', (h: History, env) =>
        lookAt(h.lookId, env),
      ),
    ],
    grains: [['history.id']],
    rows: (env) => {
      const size = activity.history.visibleCount(env.asOfSec);
      return {
        size,
        at: (index) => activity.historyRow(index),
        keys: [idKey('history.id', size), timelineKey('history.created', activity.history)],
      };
    },
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
    rows: (env) => {
      const size = catalog.sizes.users;
      return {
        size,
        at: (index) => userAt(index + 1, env),
        keys: [
          idKey('user.id', size),
          idKey('user_facts.id', size),
          searchedKey('user.created', size, (i) => catalog.user(i + 1)?.createdSec ?? 0),
        ],
      };
    },
  });

  type Dash = NonNullable<ReturnType<typeof catalog.dashboard>>;
  if (!data.realistic) {
    explores.push({
      name: 'dashboard',
      label: 'Dashboard',
      description: 'User-defined dashboards',
      baseView: 'dashboard',
      joins: [
        join(views.dashboard, 'one_to_one', null, (d: Dash) => d),
        join(views.user, 'many_to_one', '${dashboard.user_id} = ${user.id}', (d: Dash, env) =>
          userAt(d.userId, env),
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
  } else {
    // Real System Activity: one row per layout component, left-joined to its dashboard (null when gone).
    type Component = LayoutComponentRecord;
    explores.push({
      name: 'dashboard',
      label: 'Dashboard',
      description: 'User-defined dashboards',
      baseView: 'dashboard_layout_component',
      joins: [
        join(views.dashboardLayoutComponent, 'one_to_one', null, (c: Component) => c),
        join(
          views.dashboard,
          'many_to_one',
          '${dashboard_layout_component.dashboard_layout_id} = ${dashboard.id}',
          (c: Component, env) => dashboardAt(c.dashboardId, env),
        ),
        join(views.user, 'many_to_one', '${dashboard.user_id} = ${user.id}', (c: Component, env) => {
          const dashboard = dashboardAt(c.dashboardId, env);
          return dashboard ? userAt(dashboard.userId, env) : null;
        }),
      ],
      grains: [['dashboard_layout_component.id']],
      rows: () => {
        const size = data.layout.size;
        return {
          size,
          at: (index) => data.layout.component(index),
          keys: [idKey('dashboard_layout_component.id', size)],
        };
      },
    });
  }

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
      join(views.user, 'many_to_one', '${look.user_id} = ${user.id}', (l: Look, env) =>
        userAt(l.userId, env),
      ),
    ],
    grains: [['look.id']],
    rows: (env) => {
      const size = catalog.sizes.looks;
      return {
        size,
        at: (index) => lookAt(index + 1, env),
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
      join(views.dashboard, 'many_to_one', '${content_usage.content_id} = ${dashboard.id}', (c: Usage, env) =>
        dashboardAt(c.dashboardId, env),
      ),
      join(views.look, 'many_to_one', '${content_usage.content_id} = ${look.id}', (c: Usage, env) =>
        lookAt(c.lookId, env),
      ),
    ],
    grains: [['content_usage.id']],
    rows: (env) => {
      const size = data.contentUsage.size;
      const snapshot = data.contentUsage.snapshot(env.asOfSec);
      return {
        size,
        at: (index) => data.contentUsage.row(index, snapshot),
        keys: [idKey('content_usage.id', size)],
      };
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
      join(views.user, 'many_to_one', '${event.user_id} = ${user.id}', (e: Event, env) =>
        userAt(e.userId, env),
      ),
      join(views.userFacts, 'one_to_one', '${user.id} = ${user_facts.user_id}', (e: Event, env) =>
        userAt(e.userId, env),
      ),
    ],
    grains: [['event.id']],
    rows: (env) => {
      const size = activity.events.visibleCount(env.asOfSec);
      return {
        size,
        at: (index) => activity.event(index),
        keys: [idKey('event.id', size), timelineKey('event.created', activity.events)],
      };
    },
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
      join(views.user, 'many_to_one', '${event.user_id} = ${user.id}', (a: Attribute, env) =>
        userAt(a.event.userId, env),
      ),
    ],
    grains: [['event_attribute.id']],
    rows: (env) => {
      const events = activity.events.visibleCount(env.asOfSec);
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
      join(views.user, 'many_to_one', '${scheduled_plan.user_id} = ${user.id}', (r: PlanRow, env) =>
        r.plan ? userAt(r.plan.userId, env) : null,
      ),
      join(
        views.dashboard,
        'many_to_one',
        '${scheduled_plan.dashboard_id} = ${dashboard.id}',
        (r: PlanRow, env) => dashboardAt(r.plan?.dashboardId ?? null, env),
      ),
      join(views.look, 'many_to_one', '${scheduled_plan.look_id} = ${look.id}', (r: PlanRow, env) =>
        lookAt(r.plan?.lookId ?? null, env),
      ),
    ],
    grains: [['scheduled_plan.id', 'scheduled_job.id']],
    rows: (env) => {
      const jobs = activity.jobs.visibleCount(env.asOfSec);
      const idle = data.planRuns.plansWithoutJobs(jobs);
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
    rows: (env) => {
      const size = activity.pdtEvents.visibleCount(env.asOfSec);
      return {
        size,
        at: (index) => activity.pdtEvent(index),
        keys: [idKey('pdt_event_log.id', size), timelineKey('pdt_event_log.created', activity.pdtEvents)],
      };
    },
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
