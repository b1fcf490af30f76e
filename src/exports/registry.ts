import type { BigQueryType, ExportDefinition, ExportField, LookerFieldType, MaskingRule } from './types.ts';

// The registry of built-in System Activity exports. Data, not code: each entry names its explore, the fields we
// select, their BigQuery columns and types, the natural key and how the export is windowed. Field names follow
// the native `system__activity` model; where a field was uncertain we selected fewer fields. `refresh` is how
// often Looker refreshes the table (see freshness.ts). `content_usage` is the original design's contract: its 13 fields, column names and
// types are unchanged.

/** BigQuery type for a Looker type when the registry does not say otherwise. */
export function defaultBigQueryType(lookerType: LookerFieldType): BigQueryType {
  switch (lookerType) {
    case 'number':
      return 'INTEGER';
    case 'yesno':
      return 'BOOLEAN';
    case 'date_time':
      return 'TIMESTAMP';
    case 'date_date':
      return 'DATE';
    case 'string':
    case 'tier':
      return 'STRING';
  }
}

type FieldSpec = [field: string, column: string, lookerType: LookerFieldType, bigqueryType?: BigQueryType];

function fields(specs: FieldSpec[]): ExportField[] {
  return specs.map(([field, column, lookerType, bigqueryType]) => ({
    field,
    column,
    lookerType,
    bigqueryType: bigqueryType ?? defaultBigQueryType(lookerType),
  }));
}

/** Personal data is masked by default: emails hashed (joins still work), names dropped. */
const PERSONAL_DATA: Record<string, MaskingRule> = {
  'user.email': 'hash',
  'user.first_name': 'drop',
  'user.last_name': 'drop',
};

const MODEL = 'system__activity';

export const BUILT_IN_EXPORTS: readonly ExportDefinition[] = [
  {
    name: 'content_usage',
    description:
      'Per dashboard and Look: access counts by channel and the last access time (the original design).',
    explore: 'content_usage',
    model: MODEL,
    fields: fields([
      ['content_usage.content_id', 'content_id', 'string'],
      ['content_usage.content_title', 'content_title', 'string'],
      ['content_usage.content_type', 'content_type', 'string'],
      ['content_usage.days_since_last_access_tiers', 'days_since_last_access_tiers', 'tier'],
      ['content_usage.days_since_last_accessed', 'days_since_last_accessed', 'number'],
      ['content_usage.id', 'id', 'number'],
      ['content_usage.api_count', 'api_count', 'number'],
      ['content_usage.embed_count', 'embed_count', 'number'],
      ['content_usage.favorite_count', 'favorite_count', 'number'],
      ['content_usage.public_count', 'public_count', 'number'],
      ['content_usage.schedule_count', 'schedule_count', 'number'],
      ['content_usage.other_count', 'other_count', 'number'],
      ['content_usage.last_accessed_time', 'last_accessed_time', 'date_time', 'DATETIME'],
    ]),
    key: 'content_usage.id',
    mode: { kind: 'incremental', cursor: 'content_usage.last_accessed_time' },
    masking: {},
    filters: {},
    // The content_usage view has no plain `count`: its count measure is `content_count` (native model).
    countMeasure: 'content_usage.content_count',
    refresh: 'daily',
  },
  {
    name: 'history',
    description: 'Every query run: who, from where, on what content, how long, with what result.',
    explore: 'history',
    model: MODEL,
    fields: fields([
      ['history.id', 'id', 'number'],
      ['history.created_time', 'created_time', 'date_time'],
      ['history.completed_time', 'completed_time', 'date_time'],
      ['history.runtime', 'runtime', 'number', 'FLOAT'],
      ['history.status', 'status', 'string'],
      ['history.source', 'source', 'string'],
      ['history.issuer_source', 'issuer_source', 'string'],
      ['history.result_source', 'result_source', 'string'],
      ['history.connection_name', 'connection_name', 'string'],
      ['history.dashboard_session', 'dashboard_session', 'string'],
      ['history.real_dash_id', 'dashboard_id', 'string'],
      ['history.look_id', 'look_id', 'number'],
      ['history.query_id', 'query_id', 'number'],
      ['history.user_id', 'user_id', 'number'],
      ['history.workspace_id', 'workspace_id', 'string'],
      ['history.is_single_query', 'is_single_query', 'yesno'],
      ['history.message', 'message', 'string'],
      ['query.model', 'query_model', 'string'],
      ['query.view', 'query_explore', 'string'],
      ['user.email', 'user_email', 'string'],
    ]),
    key: 'history.id',
    mode: { kind: 'incremental', cursor: 'history.created_time' },
    masking: PERSONAL_DATA,
    filters: {},
    refresh: 'frequent',
    openWhileNull: 'history.completed_time',
    ownQueryUserField: 'history.user_id',
  },
  {
    name: 'user',
    description: 'Users with their role facts and last logins.',
    explore: 'user',
    model: MODEL,
    fields: fields([
      ['user.id', 'id', 'number'],
      ['user.email', 'email', 'string'],
      ['user.first_name', 'first_name', 'string'],
      ['user.last_name', 'last_name', 'string'],
      ['user.created_time', 'created_time', 'date_time'],
      ['user.is_disabled', 'is_disabled', 'yesno'],
      ['user.timezone', 'timezone', 'string'],
      ['user_facts.is_admin', 'is_admin', 'yesno'],
      ['user_facts.is_developer', 'is_developer', 'yesno'],
      ['user_facts.is_embed', 'is_embed', 'yesno'],
      ['user_facts.last_api_login_time', 'last_api_login_time', 'date_time'],
      ['user_facts.last_ui_login_time', 'last_ui_login_time', 'date_time'],
    ]),
    key: 'user.id',
    mode: { kind: 'snapshot' },
    masking: PERSONAL_DATA,
    filters: {},
    refresh: 'hourly',
  },
  {
    name: 'dashboard',
    description: 'User-defined dashboards, including deleted ones.',
    explore: 'dashboard',
    model: MODEL,
    fields: fields([
      ['dashboard.id', 'id', 'number'],
      ['dashboard.title', 'title', 'string'],
      ['dashboard.created_time', 'created_time', 'date_time'],
      ['dashboard.deleted_time', 'deleted_time', 'date_time'],
      ['dashboard.user_id', 'user_id', 'number'],
      ['dashboard.space_id', 'folder_id', 'number'],
      ['dashboard.hidden', 'hidden', 'yesno'],
    ]),
    key: 'dashboard.id',
    mode: { kind: 'snapshot' },
    masking: {},
    filters: {},
    refresh: 'daily',
  },
  {
    name: 'look',
    description: 'Saved Looks, including deleted ones.',
    explore: 'look',
    model: MODEL,
    fields: fields([
      ['look.id', 'id', 'number'],
      ['look.title', 'title', 'string'],
      ['look.created_time', 'created_time', 'date_time'],
      ['look.updated_time', 'updated_time', 'date_time'],
      ['look.deleted_time', 'deleted_time', 'date_time'],
      ['look.public', 'public', 'yesno'],
      ['look.query_id', 'query_id', 'number'],
      ['look.space_id', 'folder_id', 'number'],
      ['look.user_id', 'user_id', 'number'],
    ]),
    key: 'look.id',
    mode: { kind: 'snapshot' },
    masking: {},
    filters: {},
    refresh: 'daily',
  },
  {
    name: 'event',
    description: 'Audit events (logins, content changes, admin actions).',
    explore: 'event',
    model: MODEL,
    fields: fields([
      ['event.id', 'id', 'number'],
      ['event.name', 'name', 'string'],
      ['event.category', 'category', 'string'],
      ['event.created_time', 'created_time', 'date_time'],
      ['event.user_id', 'user_id', 'number'],
      ['event.sudo_user_id', 'sudo_user_id', 'number'],
      ['event.is_admin', 'is_admin', 'yesno'],
      ['event.is_api_call', 'is_api_call', 'yesno'],
      ['event.is_looker_employee', 'is_looker_employee', 'yesno'],
    ]),
    key: 'event.id',
    mode: { kind: 'incremental', cursor: 'event.created_time' },
    masking: {},
    filters: {},
    refresh: 'frequent',
  },
  {
    name: 'event_attribute',
    description: 'Name/value attributes of audit events, windowed on their event time.',
    explore: 'event_attribute',
    model: MODEL,
    fields: fields([
      ['event_attribute.id', 'id', 'number'],
      ['event_attribute.event_id', 'event_id', 'number'],
      ['event_attribute.name', 'name', 'string'],
      ['event_attribute.value', 'value', 'string'],
      ['event.created_time', 'event_created_time', 'date_time'],
    ]),
    key: 'event_attribute.id',
    mode: { kind: 'incremental', cursor: 'event.created_time' },
    masking: {},
    filters: {},
    refresh: 'frequent',
  },
  {
    name: 'scheduled_job',
    description: 'Runs of scheduled plans, with their outcome.',
    explore: 'scheduled_plan',
    model: MODEL,
    fields: fields([
      ['scheduled_job.id', 'id', 'number'],
      ['scheduled_job.scheduled_plan_id', 'scheduled_plan_id', 'number'],
      ['scheduled_job.created_time', 'created_time', 'date_time'],
      ['scheduled_job.finalized_time', 'finalized_time', 'date_time'],
      ['scheduled_job.status', 'status', 'string'],
      ['scheduled_job.status_detail', 'status_detail', 'string'],
      ['scheduled_job.user_id', 'user_id', 'number'],
      ['scheduled_plan.name', 'scheduled_plan_name', 'string'],
    ]),
    key: 'scheduled_job.id',
    mode: { kind: 'incremental', cursor: 'scheduled_job.created_time' },
    masking: {},
    // The explore's base is scheduled_plan: a plan that never ran joins to one row of null job fields.
    filters: { 'scheduled_job.id': 'NOT NULL' },
    refresh: 'daily',
    openWhileNull: 'scheduled_job.finalized_time',
  },
  {
    name: 'pdt_event_log',
    description: 'Persistent derived table build events.',
    explore: 'pdt_event_log',
    model: MODEL,
    fields: fields([
      ['pdt_event_log.id', 'id', 'number'],
      ['pdt_event_log.created_time', 'created_time', 'date_time'],
      ['pdt_event_log.action', 'action', 'string'],
      ['pdt_event_log.action_data', 'action_data', 'string'],
      ['pdt_event_log.connection', 'connection', 'string'],
      ['pdt_event_log.model_name', 'model_name', 'string'],
      ['pdt_event_log.view_name', 'view_name', 'string'],
      ['pdt_event_log.table_name', 'table_name', 'string'],
    ]),
    key: 'pdt_event_log.id',
    mode: { kind: 'incremental', cursor: 'pdt_event_log.created_time' },
    masking: {},
    filters: {},
    refresh: 'frequent',
  },
  {
    name: 'field_usage',
    description: 'How often each model field is used in queries.',
    explore: 'field_usage',
    model: MODEL,
    fields: fields([
      ['field_usage.id', 'id', 'number'],
      ['field_usage.model', 'model', 'string'],
      ['field_usage.explore', 'explore', 'string'],
      ['field_usage.view', 'view', 'string'],
      ['field_usage.field', 'field', 'string'],
      ['field_usage.times_used_dim', 'times_used', 'number'],
    ]),
    key: 'field_usage.id',
    mode: { kind: 'snapshot' },
    masking: {},
    filters: {},
    refresh: 'daily',
  },
];

export const BUILT_IN_EXPORT_NAMES = BUILT_IN_EXPORTS.map((e) => e.name);

export function builtInExport(name: string): ExportDefinition | undefined {
  return BUILT_IN_EXPORTS.find((e) => e.name === name);
}
