import type {
  EventAttributeRecord,
  EventRecord,
  HistoryRecord,
  PdtEventRecord,
  ScheduledJobRecord,
} from './activity.ts';
import type { ContentUsageRecord, FieldUsageRecord } from './aggregates.ts';
import type { DashboardRecord, LookRecord, PlanRecord, QueryRecord, UserRecord } from './catalog.ts';
import type { Dataset } from './dataset.ts';
import { type ValueEnv, ViewBuilder } from './fields.ts';
import type { LayoutComponentRecord } from './layout.ts';
import { issuerSourceOf } from './names.ts';
import { hash32, Stream } from './random.ts';
import { DAY, localDay } from './time.ts';

// The System Activity views (a subset of the native `system__activity` model's fields, named and typed as in
// Looker's System Activity), each as getters over the generated records. Fields whose value changes after a row
// first appears (a query still running, a job in progress, content moved to trash) read the record as of
// `env.asOfSec`, the explore's last refresh (+∞ when live).

/** Looker's `days_since_last_access_tiers`. */
const REAL_ACCESS_TIERS = [0, 7, 14, 30, 60, 90];
/** The tiers of the ideal instance, kept as they were. */
const IDEAL_ACCESS_TIERS = [0, 7, 14, 30, 60, 90, 180, 365];

export function defineViews(data: Dataset) {
  const { catalog, activity } = data;
  const queryOf = (id: number | null) => (id === null ? null : catalog.query(id));

  // A query still running as of the refresh: no completed time, no runtime, status `running`.
  const running = (h: HistoryRecord, env: ValueEnv) => h.completedSec > env.asOfSec;
  const history = new ViewBuilder<HistoryRecord>('history')
    .number('id', (h) => h.id, { primaryKey: true })
    .time('created', (h) => h.createdSec)
    .time('completed', (h, env) => (running(h, env) ? null : h.completedSec))
    .number('runtime', (h, env) => (running(h, env) ? null : h.runtime), { label: 'Runtime in Seconds' })
    .string('status', (h, env) => (running(h, env) ? 'running' : h.status))
    .string('source', (h) => h.source)
    .string('issuer_source', (h) => issuerSourceOf(h.source))
    .string('result_source', (h) => h.resultSource)
    .string('message', (h, env) => (running(h, env) ? null : h.message))
    .string('connection_name', (h) => queryOf(h.queryId)?.modelSpec.connection ?? null)
    .string('dialect', (h) => queryOf(h.queryId)?.modelSpec.dialect ?? null)
    .string('dashboard_session', (h) => activity.dashboardSession(h))
    // dashboard_id only knows user-defined dashboards; real_dash_id also carries LookML dashboard ids.
    .string('dashboard_id', (h) => (h.dashboardId === null ? null : String(h.dashboardId)), { hidden: true })
    .string('real_dash_id', (h) => (h.dashboardId === null ? h.lookmlDashboardId : String(h.dashboardId)), {
      label: 'Dashboard ID (Inclusive)',
    })
    .number('look_id', (h) => h.lookId, { hidden: true })
    .number('query_id', (h) => h.queryId, { hidden: true })
    .number('user_id', (h) => h.userId, { hidden: true })
    .string('slug', (h) => queryOf(h.queryId)?.slug ?? null)
    .string('cache_key', (h) =>
      (hash32(data.seed, Stream.history, h.index, 901) >>> 0).toString(16).padStart(8, '0'),
    )
    .string('result_format', (h) =>
      h.source === 'api3' || h.source === 'api'
        ? 'json'
        : h.source === 'scheduled_task'
          ? 'csv'
          : 'json_detail',
    )
    .string('workspace_id', (h) => h.workspaceId)
    .yesno('cache', (h) => h.cache)
    .yesno('is_single_query', (h) => h.source !== 'merge_query')
    .yesno('is_user_dashboard', (h) => h.dashboardId !== null)
    .count()
    .count('query_run_count', 'Query Run Count')
    .sum('total_runtime', (h, env) => (running(h, env) ? null : h.runtime))
    .build();

  const query = new ViewBuilder<QueryRecord>('query')
    .number('id', (q) => q.id, { primaryKey: true })
    .time('created', (q) => q.createdSec, ['time', 'date', 'week', 'month'])
    .string('model', (q) => q.model)
    .string('view', (q) => q.view, { label: 'Explore' })
    .string('fields', (q) => JSON.stringify(q.fields), { hidden: true })
    .string('formatted_fields', (q) => q.fields.join(', '))
    .string('filters', () => null)
    .string('sorts', () => null)
    .string('slug', (q) => q.slug)
    .string('query_timezone', () => null)
    .number('limit', (q) => q.limit)
    .yesno('total', () => false)
    .count()
    .build();

  const user = new ViewBuilder<UserRecord>('user')
    .number('id', (u) => u.id, { primaryKey: true })
    .string('email', (u) => u.email)
    .string('first_name', (u) => u.firstName)
    .string('last_name', (u) => u.lastName)
    .string('name', (u) => `${u.firstName} ${u.lastName}`)
    .time('created', (u) => u.createdSec)
    .yesno('is_disabled', (u) => u.isDisabled)
    .string('timezone', (u) => u.timezone)
    .string('dev_branch_name', (u) =>
      u.isDeveloper ? `dev-${u.firstName}-${u.lastName}-${u.id}`.toLowerCase() : null,
    )
    .string('home_space_id', (u) => String(u.homeFolderId))
    .count()
    .build();

  // user_facts is 1:1 with user; its login times come from `login` events.
  const userFacts = new ViewBuilder<UserRecord>('user_facts')
    .number('id', (u) => u.id, { primaryKey: true })
    .number('user_id', (u) => u.id, { hidden: true })
    .yesno('is_admin', (u) => u.isAdmin)
    .yesno('is_developer', (u) => u.isDeveloper)
    .yesno('is_viewer', (u) => !u.isDeveloper)
    .yesno('is_embed', (u) => u.isEmbed)
    .yesno('is_explorer', (u) => u.isDeveloper || !u.isEmbed)
    .yesno('is_looker_employee', (u) => u.isLookerEmployee)
    .yesno('has_api_credentials', (u) => u.hasApiCredentials)
    .yesno('has_ui_credentials', (u) => !u.isEmbed)
    .string('external_id', (u) => (u.isEmbed ? `embed-${u.id}` : null))
    .time('last_api_login', (u, env) => data.logins.lastLogins(u.id, env.asOfSec).api)
    .time('last_ui_login', (u, env) => data.logins.lastLogins(u.id, env.asOfSec).ui)
    .count()
    .build();

  // Moved to trash by the refresh (content in the trash is still in System Activity, with its deleted time).
  const trashed = (record: { deletedSec: number | null }, env: ValueEnv) =>
    record.deletedSec !== null && record.deletedSec <= env.asOfSec;
  const dashboard = new ViewBuilder<DashboardRecord>('dashboard')
    .number('id', (d) => d.id, { primaryKey: true })
    .string('title', (d) => d.title)
    .string('description', (d) => d.description)
    .time('created', (d) => d.createdSec)
    .time('deleted', (d, env) => (trashed(d, env) ? d.deletedSec : null))
    .number('deleter_id', (d, env) => (trashed(d, env) ? d.deleterId : null))
    .yesno('hidden', (d) => d.hidden)
    .yesno('moved_to_trash', (d, env) => trashed(d, env))
    .number('space_id', (d) => d.spaceId, { hidden: true })
    .number('user_id', (d) => d.userId, { hidden: true })
    .string('query_timezone', () => null)
    .count()
    .build();

  const look = new ViewBuilder<LookRecord>('look')
    .number('id', (l) => l.id, { primaryKey: true })
    .string('title', (l) => l.title)
    .string('public_slug', (l) =>
      l.isPublic ? (hash32(data.seed, Stream.looks, l.id, 902) >>> 0).toString(36) : null,
    )
    .time('created', (l) => l.createdSec)
    .time('updated', (l) => l.updatedSec)
    .time('deleted', (l, env) => (trashed(l, env) ? l.deletedSec : null))
    .number('deleter_id', (l, env) => (trashed(l, env) ? l.deleterId : null))
    .number('last_updater_id', (l) => l.lastUpdaterId)
    .yesno('public', (l) => l.isPublic)
    .number('query_id', (l) => l.queryId, { hidden: true })
    .number('space_id', (l) => l.spaceId, { hidden: true })
    .number('user_id', (l) => l.userId, { hidden: true })
    .count()
    .build();

  const daysSince = (c: ContentUsageRecord, env: ValueEnv) =>
    c.lastAccessedSec === null
      ? null
      : localDay(env.nowSec, env.zone) - localDay(c.lastAccessedSec, env.zone);
  const contentUsage = new ViewBuilder<ContentUsageRecord>('content_usage')
    .number('id', (c) => c.id, { primaryKey: true })
    // Looker types content_id as a string: "Look ID, dashboard ID, or LookML dashboard ID".
    .string('content_id', (c) => c.contentId)
    .string('content_type', (c) => c.contentType)
    .string('content_title', (c) => c.title)
    .number('api_count', (c) => c.counts.api)
    .number('embed_count', (c) => c.counts.embed)
    .number('favorite_count', (c) => c.favoriteCount)
    .number('other_count', (c) => c.counts.other)
    .number('prefetch_count', (c) => c.counts.prefetch)
    .number('public_count', (c) => c.counts.public)
    .number('schedule_count', (c) => c.counts.schedule)
    .time('last_accessed', (c) => c.lastAccessedSec)
    .number('days_since_last_accessed', daysSince)
    .tier('days_since_last_access_tiers', data.realistic ? REAL_ACCESS_TIERS : IDEAL_ACCESS_TIERS, daysSince)
    .count('content_count', 'Content Count')
    .sum('api_total', (c) => c.counts.api)
    .sum('other_total', (c) => c.counts.other)
    .sum('schedule_total', (c) => c.counts.schedule)
    .build();

  const event = new ViewBuilder<EventRecord>('event')
    .number('id', (e) => e.id, { primaryKey: true })
    .string('name', (e) => e.spec.name)
    .string('category', (e) => e.spec.category)
    .time('created', (e) => e.createdSec)
    .number('user_id', (e) => e.userId, { hidden: true })
    .number('sudo_user_id', (e) => e.sudoUserId)
    .yesno('is_admin', (e) => catalog.user(e.userId)?.isAdmin ?? false)
    .yesno('is_api_call', (e) => e.isApiCall)
    .yesno('is_looker_employee', (e) => catalog.user(e.userId)?.isLookerEmployee ?? false)
    .count()
    .build();

  const eventAttribute = new ViewBuilder<EventAttributeRecord>('event_attribute')
    .number('id', (a) => a.id, { primaryKey: true })
    .number('event_id', (a) => a.event.id, { hidden: true })
    .string('name', (a) => a.name)
    .string('value', (a) => a.value)
    .count()
    .build();

  const scheduledPlan = new ViewBuilder<PlanRecord>('scheduled_plan')
    .number('id', (p) => p.id, { primaryKey: true })
    .string('name', (p) => p.name)
    .string('cron_schedule', (p) => p.cron)
    .string('datagroup', () => null)
    .string('filters_string', () => null)
    .string('lookml_dashboard_id', () => null)
    .string('timezone', (p) => p.timezone)
    .time('created', (p) => p.createdSec)
    .time('updated', (p) => p.updatedSec)
    // Tomorrow 07:00 UTC: stable for a day, always in the future.
    .time('next_run', (p, env) => (p.enabled ? (Math.floor(env.nowSec / DAY) + 1) * DAY + 7 * 3600 : null))
    .yesno('enabled', (p) => p.enabled)
    .yesno('run_once', () => false)
    .yesno('require_results', (p) => p.requireResults)
    .yesno('require_no_results', () => false)
    .yesno('require_change', () => false)
    .yesno('send_all_results', (p) => p.sendAllResults)
    .yesno('run_as_recipient', () => false)
    .yesno('include_links', () => true)
    .number('look_id', (p) => p.lookId, { hidden: true })
    .number('dashboard_id', (p) => p.dashboardId, { hidden: true })
    .number('query_id', (p) => p.queryId, { hidden: true })
    .number('user_id', (p) => p.userId, { hidden: true })
    .count()
    .build();

  const planOf = (job: ScheduledJobRecord) => catalog.plan(job.planId);
  // A job still sending as of the refresh: `in_progress`, not finalized.
  const inProgress = (j: ScheduledJobRecord, env: ValueEnv) => j.finalizedSec > env.asOfSec;
  const scheduledJob = new ViewBuilder<ScheduledJobRecord>('scheduled_job')
    .number('id', (j) => j.id, { primaryKey: true })
    .number('scheduled_plan_id', (j) => j.planId, { hidden: true })
    .time('created', (j) => j.createdSec)
    .time('finalized', (j, env) => (inProgress(j, env) ? null : j.finalizedSec))
    .string('status', (j, env) => (inProgress(j, env) ? 'in_progress' : j.status))
    .string('status_detail', (j, env) => (inProgress(j, env) ? null : j.statusDetail))
    .string('name', (j) => planOf(j)?.name ?? null)
    .string('cron_schedule', (j) => planOf(j)?.cron ?? null)
    .string('timezone', (j) => planOf(j)?.timezone ?? null)
    .yesno('row_limit_reached', () => false)
    .number('user_id', (j) => planOf(j)?.userId ?? null, { hidden: true })
    .number('look_id', (j) => planOf(j)?.lookId ?? null, { hidden: true })
    .number('dashboard_id', (j) => planOf(j)?.dashboardId ?? null, { hidden: true })
    .number('query_id', (j) => planOf(j)?.queryId ?? null, { hidden: true })
    .count()
    .build();

  const pdtEventLog = new ViewBuilder<PdtEventRecord>('pdt_event_log', 'PDT Event Log')
    .number('id', (p) => p.id, { primaryKey: true })
    .time('created', (p) => p.createdSec)
    .string('action', (p) => p.action)
    .string('action_data', (p) => (p.elapsedMs === null ? null : JSON.stringify({ elapsed_ms: p.elapsedMs })))
    .string('connection', (p) => p.connection)
    .string('model_name', (p) => p.modelName)
    .string('view_name', (p) => p.viewName)
    .string('table_name', (p) => p.tableName)
    .string('hash', (p) => p.hash)
    .string('short_hash', (p) => p.hash.slice(0, 5))
    .string('tid', (p) => `${p.hash.slice(0, 5)}${p.createdSec}`)
    .count()
    .build();

  const dashboardLayoutComponent = new ViewBuilder<LayoutComponentRecord>('dashboard_layout_component')
    .number('id', (c) => c.id, { primaryKey: true })
    .number('dashboard_layout_id', (c) => c.dashboardLayoutId, { hidden: true })
    .string('type', (c) => c.type)
    .number('row', (c) => c.row)
    .number('column', (c) => c.column)
    .number('width', (c) => c.width)
    .number('height', (c) => c.height)
    .count()
    .build();

  const fieldUsage = new ViewBuilder<FieldUsageRecord>('field_usage')
    .number('id', (f) => f.id, { primaryKey: true })
    .string('model', (f) => f.model)
    .string('explore', (f) => f.explore)
    .string('view', (f) => f.view)
    .string('field', (f) => f.field)
    .number('times_used_dim', (f) => f.timesUsed, { hidden: true })
    .count()
    .sum('times_used', (f) => f.timesUsed)
    .build();

  return {
    history,
    query,
    user,
    userFacts,
    dashboard,
    look,
    contentUsage,
    event,
    eventAttribute,
    scheduledPlan,
    scheduledJob,
    pdtEventLog,
    fieldUsage,
    dashboardLayoutComponent,
  };
}

export type SystemActivityViews = ReturnType<typeof defineViews>;
