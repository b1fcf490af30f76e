// Word lists and code tables the generated System Activity data draws from.

export const FIRST_NAMES = [
  'Ada',
  'Alan',
  'Amara',
  'Anna',
  'Bruno',
  'Carla',
  'Chen',
  'Dana',
  'Diego',
  'Elena',
  'Emil',
  'Fatima',
  'Felix',
  'Grace',
  'Hana',
  'Hugo',
  'Ines',
  'Ivan',
  'Jonas',
  'Julia',
  'Kai',
  'Lara',
  'Leo',
  'Lina',
  'Marco',
  'Maya',
  'Nadia',
  'Noah',
  'Olga',
  'Omar',
  'Paula',
  'Priya',
  'Rafael',
  'Rosa',
  'Sam',
  'Sofia',
  'Tariq',
  'Vera',
  'Yuki',
  'Zoe',
] as const;

export const LAST_NAMES = [
  'Abbott',
  'Becker',
  'Costa',
  'Dubois',
  'Eriksen',
  'Fischer',
  'Garcia',
  'Hansen',
  'Ito',
  'Jensen',
  'Kowalski',
  'Larsen',
  'Moreau',
  'Nakamura',
  'Okafor',
  'Petrov',
  'Quinn',
  'Rossi',
  'Schmidt',
  'Tanaka',
  'Urban',
  'Varga',
  'Weber',
  'Xu',
  'Yilmaz',
  'Zimmer',
  'Almeida',
  'Brandt',
  'Castillo',
  'Delgado',
  'Engel',
  'Ferrari',
  'Gallo',
  'Horvat',
  'Iyer',
  'Jovanovic',
  'Keller',
  'Lopez',
  'Meyer',
  'Novak',
  'Olsen',
  'Popescu',
  'Richter',
  'Silva',
  'Torres',
  'Ueda',
  'Vogel',
  'Wagner',
  'Young',
  'Zhang',
] as const;

export const USER_TIMEZONES = [
  'America/Los_Angeles',
  'America/New_York',
  'Europe/Berlin',
  'Europe/London',
  'Asia/Tokyo',
];

export const TITLE_AREAS = [
  'Sales',
  'Revenue',
  'Marketing',
  'Finance',
  'Support',
  'Product',
  'Inventory',
  'Logistics',
  'Growth',
  'Retention',
  'Pipeline',
  'Churn',
  'Billing',
  'Operations',
  'Engineering',
  'Hiring',
] as const;

export const TITLE_KINDS = [
  'Overview',
  'Weekly Review',
  'KPIs',
  'Deep Dive',
  'Daily Pulse',
  'Forecast',
  'Scorecard',
  'Trends',
  'by Region',
  'Funnel',
  'Cohorts',
  'Executive Summary',
] as const;

export interface ModelSpec {
  model: string;
  connection: string;
  dialect: string;
  explores: readonly string[];
  weight: number;
}

/** The customer models whose queries fill History (plus System Activity itself, which admins query too). */
export const MODELS: readonly ModelSpec[] = [
  {
    model: 'thelook',
    connection: 'thelook_bigquery',
    dialect: 'bigquery_standard_sql',
    explores: ['order_items', 'users', 'inventory_items', 'events'],
    weight: 5,
  },
  {
    model: 'finance',
    connection: 'snowflake_finance',
    dialect: 'snowflake',
    explores: ['ledger', 'invoices', 'budgets'],
    weight: 3,
  },
  {
    model: 'marketing',
    connection: 'bq_marketing',
    dialect: 'bigquery_standard_sql',
    explores: ['campaigns', 'sessions', 'attribution'],
    weight: 2,
  },
  {
    model: 'system__activity',
    connection: 'looker__internal__analytics__replica',
    dialect: 'mysql',
    explores: ['history', 'user', 'dashboard', 'content_usage'],
    weight: 1,
  },
];

export const QUERY_FIELD_NAMES = [
  'id',
  'created_date',
  'created_month',
  'count',
  'total_revenue',
  'status',
  'category',
  'name',
  'region',
  'average_price',
  'user_id',
  'country',
] as const;

/**
 * History sources (what ran the query) with their share of rows. Which content_usage counter a source feeds is
 * decided in `contentCounterOf` below.
 */
export const HISTORY_SOURCES: readonly (readonly [string, number])[] = [
  ['dashboard', 34],
  ['explore', 14],
  ['api3', 12],
  ['look', 6],
  ['scheduled_task', 8],
  ['private_embed', 5],
  ['public_url', 2],
  ['dashboard_prefetch', 3],
  ['drill_modal', 3],
  ['suggest', 5],
  ['regenerator', 3],
  ['sqlrunner', 2],
  ['merge_query', 2],
  ['alerts', 1],
];

export type ContentCounter = 'api' | 'embed' | 'other' | 'public' | 'schedule' | 'prefetch';

/** The content_usage counter a history row of `source` feeds (when it ran a dashboard or Look). */
export function contentCounterOf(source: string): ContentCounter {
  switch (source) {
    case 'api3':
    case 'api':
      return 'api';
    case 'private_embed':
      return 'embed';
    case 'public_url':
      return 'public';
    case 'scheduled_task':
      return 'schedule';
    case 'dashboard_prefetch':
      return 'prefetch';
    default:
      return 'other';
  }
}

/** Looker's `history.issuer_source`: who issued the query. */
export function issuerSourceOf(source: string): string {
  switch (source) {
    case 'api3':
    case 'api':
      return 'API';
    case 'scheduled_task':
    case 'regenerator':
    case 'dashboard_prefetch':
    case 'alerts':
      return 'System';
    case 'sqlrunner':
    case 'suggest':
      return 'Other';
    default:
      return 'User';
  }
}

export const HISTORY_ERRORS = [
  'Query timed out after 300 seconds',
  'SQL compilation error: invalid identifier',
  'Access denied for connection',
  'Resources exceeded during query execution',
];

export const LOOKML_DASHBOARDS = [
  { id: 'system__activity::user_activity', title: 'User Activity' },
  { id: 'system__activity::content_activity', title: 'Content Activity' },
  { id: 'thelook::business_pulse', title: 'Business Pulse' },
] as const;

export const CRON_SCHEDULES = ['0 7 * * *', '0 8 * * 1', '30 6 * * 1-5', '0 */4 * * *', '0 9 1 * *'];

export const SCHEDULE_FAILURES = [
  'Error sending email: mailbox unavailable',
  'Query timed out',
  'SFTP destination refused the connection',
  'Webhook returned HTTP 500',
];

export interface EventSpec {
  name: string;
  category: string;
  weight: number;
  attributes: readonly string[];
}

/** Audit event kinds with their attribute names (at most 3, see activity.ts `ATTRIBUTE_SLOTS`). */
export const EVENT_SPECS: readonly EventSpec[] = [
  {
    name: 'login',
    category: 'authentication',
    weight: 35,
    attributes: ['credentials_type', 'ip_address', 'user_agent'],
  },
  { name: 'logout', category: 'authentication', weight: 5, attributes: ['session_id'] },
  { name: 'login_failed', category: 'authentication', weight: 3, attributes: ['email', 'reason'] },
  { name: 'create_dashboard', category: 'dashboard', weight: 4, attributes: ['dashboard_id', 'title'] },
  { name: 'update_dashboard', category: 'dashboard', weight: 10, attributes: ['dashboard_id', 'title'] },
  { name: 'delete_dashboard', category: 'dashboard', weight: 1, attributes: ['dashboard_id'] },
  { name: 'create_look', category: 'look', weight: 4, attributes: ['look_id', 'title'] },
  { name: 'update_look', category: 'look', weight: 6, attributes: ['look_id', 'title'] },
  { name: 'export_query', category: 'query', weight: 10, attributes: ['query_id', 'format', 'row_count'] },
  {
    name: 'create_scheduled_plan',
    category: 'scheduled_plan',
    weight: 3,
    attributes: ['scheduled_plan_id', 'name'],
  },
  { name: 'update_user', category: 'user', weight: 3, attributes: ['user_id', 'changed_fields'] },
];

export const PDT_ACTIONS: readonly (readonly [string, number])[] = [
  ['trigger datagroup check', 40],
  ['trigger value changed', 8],
  ['create begin', 15],
  ['create complete', 14],
  ['create error', 1],
  ['drop', 10],
  ['reap', 12],
];

export const PDT_VIEWS = [
  'order_facts',
  'user_lifetime',
  'daily_revenue',
  'session_rollup',
  'ledger_balances',
];
