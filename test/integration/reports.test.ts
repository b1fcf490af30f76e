import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BigQuery } from '@google-cloud/bigquery';
import { PassThroughClient } from 'google-auth-library';
import { type BigQueryEmulator, startBigQueryEmulator } from 'lsa-emulators/bigquery';
import { MemoryObjectStore } from 'lsa-emulators/gcs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ColumnSchema, tableSpec } from '../../src/bigquery/schema.ts';
import { ensureDataset, ensureTable } from '../../src/bigquery/tables.ts';
import { BUILT_IN_EXPORTS } from '../../src/exports/registry.ts';
import { findReport, loadReports, type ReportDefinition } from '../../src/reports/catalog.ts';
import type { ReportDataset } from '../../src/reports/dataset.ts';
import { installReports } from '../../src/reports/install.ts';
import { type ReportRow, readReport } from '../../src/reports/read.ts';
import { spawnLsa } from '../helpers/processes.ts';

// Every report view against known rows: the pipeline's own table code creates the tables in the BigQuery
// emulator, NDJSON load jobs (from the GCS emulator) fill them, `installReports` creates the views, and each view
// is read back through the real client and compared with the answer worked out by hand. Rows are placed
// relative to today where a view looks at the last 7 or 30 days, and with quantiles that do not depend on the
// quantile definition (APPROX_QUANTILES is approximate in BigQuery).

const PROJECT = 'reports-project';
const DATASET = 'activity';
const BUCKET = 'report-fixtures';
const target: ReportDataset = { projectId: PROJECT, dataset: DATASET };

let emulator: BigQueryEmulator;
let store: MemoryObjectStore;
let bigquery: BigQuery;
let reports: ReportDefinition[];

const DAY_MS = 86_400_000;
const today = new Date(new Date().toISOString().slice(0, 10)).getTime();
/** The UTC date `days` days before today, as YYYY-MM-DD. */
const dateAgo = (days: number) => new Date(today - days * DAY_MS).toISOString().slice(0, 10);
/** 10:00 UTC on that date (at least a day and a bit old when days ≥ 2, whatever the time of the run). */
const timeAgo = (days: number, hour = 10) => `${dateAgo(days)}T${String(hour).padStart(2, '0')}:00:00.000Z`;
const EXTRACTED = new Date(Date.now() - 3_600_000).toISOString();
const EXTRACTED_EARLIER = new Date(Date.now() - 2 * DAY_MS).toISOString();

/** Columns the pipeline is adding to these tables; created here too while a table spec does not have them. */
const PENDING_COLUMNS: Record<string, ColumnSchema[]> = {
  history: [{ name: '_lsa_own_query', type: 'BOOLEAN', mode: 'NULLABLE' }],
  user: [{ name: '_deleted_at', type: 'TIMESTAMP', mode: 'NULLABLE' }],
  dashboard: [{ name: '_deleted_at', type: 'TIMESTAMP', mode: 'NULLABLE' }],
  look: [{ name: '_deleted_at', type: 'TIMESTAMP', mode: 'NULLABLE' }],
  field_usage: [{ name: '_deleted_at', type: 'TIMESTAMP', mode: 'NULLABLE' }],
};

let loads = 0;
async function loadRows(tableId: string, rows: Record<string, unknown>[]): Promise<void> {
  const name = `${tableId}/${++loads}.jsonl`;
  const lines = rows.map((row) => JSON.stringify({ _extracted_at: EXTRACTED, ...row }));
  store.putObject({
    bucket: BUCKET,
    name,
    bytes: Buffer.from(lines.join('\n')),
    contentType: 'application/x-ndjson',
  });
  const [job] = await bigquery.createJob({
    configuration: {
      load: {
        sourceUris: [`gs://${BUCKET}/${name}`],
        sourceFormat: 'NEWLINE_DELIMITED_JSON',
        destinationTable: { projectId: PROJECT, datasetId: DATASET, tableId },
        writeDisposition: 'WRITE_APPEND',
      },
    },
  });
  await job.promise();
}

const history = (instance: string, id: number, created: string, runtime: number, extra = {}) => ({
  looker_instance: instance,
  id,
  created_time: created,
  runtime,
  status: 'complete',
  user_id: 1,
  query_model: 'thelook',
  query_explore: 'orders',
  ...extra,
});

beforeAll(async () => {
  store = new MemoryObjectStore();
  store.createBucket(BUCKET);
  emulator = await startBigQueryEmulator({ gcs: store });
  bigquery = new BigQuery({
    apiEndpoint: emulator.url,
    projectId: PROJECT,
    authClient: new PassThroughClient(),
  });
  await ensureDataset(bigquery, DATASET, 'US');
  for (const definition of BUILT_IN_EXPORTS) {
    const spec = tableSpec(definition);
    const have = new Set(spec.columns.map((c) => c.name));
    const pending = (PENDING_COLUMNS[spec.tableId] ?? []).filter((c) => !have.has(c.name));
    await ensureTable(bigquery, DATASET, { ...spec, columns: [...spec.columns, ...pending] });
  }
  reports = loadReports();

  const own = { _lsa_own_query: true, user_id: 99, query_explore: 'history' };
  await loadRows('history', [
    history('eu', 1, '2024-01-07T10:00:00Z', 1, { user_id: 1 }),
    history('eu', 2, '2024-01-07T11:00:00Z', 2, { user_id: 2, _lsa_own_query: false }),
    history('eu', 3, '2024-01-07T12:00:00Z', 6, { status: 'error', query_explore: 'users' }),
    history('eu', 4, '2024-01-07T13:00:00Z', 6),
    history('eu', 5, '2024-01-07T14:00:00Z', 100, own),
    history('eu', 6, '2024-01-08T09:00:00Z', 5, { user_id: 3 }),
    history('eu', 7, timeAgo(2), 2),
    history('eu', 8, timeAgo(10), 6, { user_id: 2, status: 'error', query_explore: 'users' }),
    history('eu', 9, timeAgo(1), 50, own),
    history('eu', 10, timeAgo(5), 2, { user_id: 2 }),
    history('us', 1, '2024-01-07T10:00:00Z', 10, { query_explore: 'events' }),
    history('us', 2, timeAgo(3), 1, { user_id: 5, query_explore: 'events' }),
    history('us', 3, timeAgo(40), 3, { user_id: 6, query_explore: 'events' }),
  ]);
  await loadRows('user', [
    { looker_instance: 'eu', id: 1, timezone: 'UTC', _extracted_at: EXTRACTED_EARLIER },
    { looker_instance: 'eu', id: 1, timezone: 'Europe/Paris' },
    { looker_instance: 'eu', id: 2, is_disabled: true },
    { looker_instance: 'eu', id: 3, _deleted_at: EXTRACTED },
    { looker_instance: 'eu', id: 4, _extracted_at: EXTRACTED_EARLIER },
    { looker_instance: 'eu', id: 4, _deleted_at: EXTRACTED },
    { looker_instance: 'us', id: 1 },
  ]);
  await loadRows('dashboard', [
    { looker_instance: 'eu', id: 10, title: 'Sales' },
    { looker_instance: 'eu', id: 11, title: 'In the trash', deleted_time: timeAgo(3) },
    { looker_instance: 'eu', id: 12, title: 'Gone', _deleted_at: EXTRACTED },
    { looker_instance: 'us', id: 20, title: 'Usage' },
  ]);
  await loadRows('look', [
    { looker_instance: 'eu', id: 30, title: 'Orders' },
    { looker_instance: 'us', id: 40, title: 'Events' },
    { looker_instance: 'us', id: 41, title: 'Gone', _deleted_at: EXTRACTED },
  ]);
  // Stored day counts and tiers are stale on purpose (99, "90 or Above"): the view must recompute them.
  const usage = (instance: string, id: number, type: string, ageDays: number | null, extra = {}) => ({
    looker_instance: instance,
    id,
    content_id: String(id * 10),
    content_title: `${type} ${id}`,
    content_type: type,
    days_since_last_access_tiers: '90 or Above',
    days_since_last_accessed: 99,
    api_count: 1,
    embed_count: 0,
    favorite_count: 0,
    public_count: 0,
    schedule_count: 0,
    other_count: id,
    last_accessed_time: ageDays === null ? null : `${dateAgo(ageDays)}T12:00:00`,
    ...extra,
  });
  await loadRows('content_usage', [
    usage('eu', 1, 'dashboard', 0),
    usage('eu', 2, 'dashboard', 30, { _extracted_at: EXTRACTED_EARLIER, content_title: 'old title' }),
    usage('eu', 2, 'dashboard', 8),
    usage('eu', 3, 'look', 20),
    usage('eu', 4, 'look', 45),
    usage('eu', 5, 'dashboard', 75),
    usage('eu', 6, 'look', 200),
    usage('eu', 7, 'dashboard', null),
    usage('us', 1, 'dashboard', 30),
    usage('us', 2, 'look', 90),
    usage('us', 3, 'dashboard', 29),
    // Both sides of every tier boundary.
    ...[6, 7, 13, 14, 59, 60, 89].map((age, k) => usage('us', 10 + k, 'board', age)),
  ]);
  const run = (
    instance: string,
    id: number,
    plan: number,
    status: string,
    created: string,
    detail?: string,
  ) => ({
    looker_instance: instance,
    id,
    scheduled_plan_id: plan,
    scheduled_plan_name: plan === 100 ? 'Daily sales' : `Plan ${plan}`,
    created_time: created,
    status,
    status_detail: detail ?? null,
  });
  await loadRows('scheduled_job', [
    run('eu', 1, 100, 'success', timeAgo(5)),
    run('eu', 2, 100, 'failure', timeAgo(3), 'SMTP timeout'),
    run('eu', 3, 100, 'failure', timeAgo(1), 'Query error: unknown column'),
    run('eu', 4, 101, 'success', timeAgo(2)),
    run('eu', 5, 102, 'failure', timeAgo(45), 'long ago'),
    run('us', 1, 200, 'failure', timeAgo(2)),
  ]);
  const pdt = (
    instance: string,
    id: number,
    view: string,
    action: string,
    created: string,
    data?: string,
  ) => ({
    looker_instance: instance,
    id,
    created_time: created,
    action,
    action_data: data ?? null,
    connection: 'warehouse',
    model_name: 'thelook',
    view_name: view,
    table_name: `lr_${view}`,
  });
  await loadRows('pdt_event_log', [
    pdt('eu', 1, 'order_facts', 'create begin', timeAgo(3)),
    pdt('eu', 2, 'order_facts', 'create error', timeAgo(3, 11), 'timeout after 3600s'),
    pdt('eu', 3, 'order_facts', 'create complete', timeAgo(2)),
    pdt('eu', 4, 'user_lifetime', 'create complete', timeAgo(2)),
    pdt('us', 1, 'order_facts', 'create error', timeAgo(40), 'long ago'),
  ]);
});

let dir: string | undefined;

afterAll(async () => {
  await emulator?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const read = (name: string, instance?: string): Promise<ReportRow[]> =>
  readReport(bigquery, target, findReport(reports, name), instance === undefined ? {} : { instance });
const timestamp = (iso: string) => new Date(iso).toISOString();

describe('lsa reports install', () => {
  it('creates every view, in dependency order, and is idempotent', async () => {
    const first = await installReports(bigquery, target, reports);
    expect(first.filter((o) => o.status !== 'installed')).toEqual([]);
    expect(first.map((o) => o.name)).toEqual(reports.map((r) => r.name));
    const order = first.map((o) => o.name);
    expect(order.indexOf('content_usage_current')).toBeLessThan(order.indexOf('unused_content'));
    expect(order.indexOf('unused_content')).toBeLessThan(order.indexOf('instance_overview'));
    const second = await installReports(bigquery, target, reports);
    expect(second.every((o) => o.status === 'installed')).toBe(true);
    const [tables] = await bigquery.dataset(DATASET).getTables();
    const views = tables.filter((t) => t.metadata.type === 'VIEW').map((t) => t.id);
    expect(views.sort()).toEqual(reports.map((r) => r.name).sort());
  });

  it('covers at least the views the readers asked for', () => {
    expect(reports.map((r) => r.name)).toEqual(
      expect.arrayContaining([
        'content_usage_current',
        'unused_content',
        'query_performance_daily',
        'top_explores',
        'active_users_daily',
        'schedule_failures',
        'pdt_build_failures',
        'users_current',
        'dashboards_current',
        'looks_current',
        'instance_overview',
      ]),
    );
    for (const report of reports) expect(report.description.length, report.name).toBeGreaterThan(20);
  });
});

describe('report views: known answers', () => {
  beforeAll(async () => {
    await installReports(bigquery, target, reports);
  });

  it('content_usage_current recomputes ages and tiers from last_accessed_time, one row per item', async () => {
    const rows = await read('content_usage_current');
    expect(
      rows.map((r) => [r.looker_instance, r.id, r.days_since_last_accessed, r.days_since_last_access_tiers]),
    ).toEqual([
      ['eu', 6, 200, '90 or Above'],
      ['eu', 5, 75, '60 to 89'],
      ['eu', 4, 45, '30 to 59'],
      ['eu', 3, 20, '14 to 29'],
      ['eu', 2, 8, '7 to 13'],
      ['eu', 1, 0, '0 to 6'],
      ['eu', 7, null, null],
      ['us', 2, 90, '90 or Above'],
      ['us', 16, 89, '60 to 89'],
      ['us', 15, 60, '60 to 89'],
      ['us', 14, 59, '30 to 59'],
      ['us', 1, 30, '30 to 59'],
      ['us', 3, 29, '14 to 29'],
      ['us', 13, 14, '14 to 29'],
      ['us', 12, 13, '7 to 13'],
      ['us', 11, 7, '7 to 13'],
      ['us', 10, 6, '0 to 6'],
    ]);
    const itemTwo = rows.find((r) => r.looker_instance === 'eu' && r.id === 2)!;
    expect(itemTwo).toEqual({
      looker_instance: 'eu',
      content_id: '20',
      content_title: 'dashboard 2',
      content_type: 'dashboard',
      days_since_last_access_tiers: '7 to 13',
      days_since_last_accessed: 8,
      id: 2,
      api_count: 1,
      embed_count: 0,
      favorite_count: 0,
      public_count: 0,
      schedule_count: 0,
      other_count: 2,
      last_accessed_time: `${dateAgo(8)}T12:00:00`,
      _extracted_at: timestamp(EXTRACTED),
    });
  });

  it('unused_content counts never / 30 / 90 days per instance and type', async () => {
    expect(await read('unused_content')).toEqual([
      {
        looker_instance: 'eu',
        content_type: 'dashboard',
        content_items: 4,
        never_accessed: 1,
        unused_30d: 2,
        unused_90d: 1,
        unused_90d_share: 0.25,
      },
      {
        looker_instance: 'eu',
        content_type: 'look',
        content_items: 3,
        never_accessed: 0,
        unused_30d: 2,
        unused_90d: 1,
        unused_90d_share: 1 / 3,
      },
      {
        looker_instance: 'us',
        content_type: 'board',
        content_items: 7,
        never_accessed: 0,
        unused_30d: 3,
        unused_90d: 0,
        unused_90d_share: 0,
      },
      {
        looker_instance: 'us',
        content_type: 'dashboard',
        content_items: 2,
        never_accessed: 0,
        unused_30d: 1,
        unused_90d: 0,
        unused_90d_share: 0,
      },
      {
        looker_instance: 'us',
        content_type: 'look',
        content_items: 1,
        never_accessed: 0,
        unused_30d: 1,
        unused_90d: 1,
        unused_90d_share: 1,
      },
    ]);
  });

  it('query_performance_daily: queries, users, p50/p95, errors per day, without the pipeline own queries', async () => {
    const day = (looker_instance: string, date: string, runtime: number, extra = {}) => ({
      looker_instance,
      day: date,
      queries: 1,
      users: 1,
      p50_runtime_s: runtime,
      p95_runtime_s: runtime,
      max_runtime_s: runtime,
      errors: 0,
      error_rate: 0,
      ...extra,
    });
    expect(await read('query_performance_daily')).toEqual([
      day('eu', dateAgo(2), 2),
      day('eu', dateAgo(5), 2),
      day('eu', dateAgo(10), 6, { errors: 1, error_rate: 1 }),
      day('eu', '2024-01-08', 5),
      day('eu', '2024-01-07', 0, {
        queries: 4,
        users: 2,
        p50_runtime_s: 2,
        p95_runtime_s: 6,
        max_runtime_s: 6,
        errors: 1,
        error_rate: 0.25,
      }),
      day('us', dateAgo(3), 1),
      day('us', dateAgo(40), 3),
      day('us', '2024-01-07', 10),
    ]);
  });

  it('top_explores ranks explores of the last 30 days per instance', async () => {
    expect(await read('top_explores')).toEqual([
      {
        looker_instance: 'eu',
        model: 'thelook',
        explore: 'orders',
        queries: 2,
        users: 2,
        p95_runtime_s: 2,
        errors: 0,
        rank_in_instance: 1,
      },
      {
        looker_instance: 'eu',
        model: 'thelook',
        explore: 'users',
        queries: 1,
        users: 1,
        p95_runtime_s: 6,
        errors: 1,
        rank_in_instance: 2,
      },
      {
        looker_instance: 'us',
        model: 'thelook',
        explore: 'events',
        queries: 1,
        users: 1,
        p95_runtime_s: 1,
        errors: 0,
        rank_in_instance: 1,
      },
    ]);
  });

  it('active_users_daily counts distinct users per day; one instance with --instance', async () => {
    const day = (looker_instance: string, date: string, active_users = 1, queries = 1) => ({
      looker_instance,
      day: date,
      active_users,
      queries,
    });
    expect(await read('active_users_daily')).toEqual([
      day('eu', dateAgo(2)),
      day('eu', dateAgo(5)),
      day('eu', dateAgo(10)),
      day('eu', '2024-01-08'),
      day('eu', '2024-01-07', 2, 4),
      day('us', dateAgo(3)),
      day('us', dateAgo(40)),
      day('us', '2024-01-07'),
    ]);
    expect((await read('active_users_daily', 'us')).map((r) => r.day)).toEqual([
      dateAgo(3),
      dateAgo(40),
      '2024-01-07',
    ]);
  });

  it('schedule_failures lists plans that failed in the last 30 days with the last error and success', async () => {
    expect(await read('schedule_failures')).toEqual([
      {
        looker_instance: 'eu',
        scheduled_plan_id: 100,
        scheduled_plan_name: 'Daily sales',
        runs: 3,
        failures: 2,
        failure_rate: 2 / 3,
        last_failure_time: timestamp(timeAgo(1)),
        last_failure_detail: 'Query error: unknown column',
        last_success_time: timestamp(timeAgo(5)),
      },
      {
        looker_instance: 'us',
        scheduled_plan_id: 200,
        scheduled_plan_name: 'Plan 200',
        runs: 1,
        failures: 1,
        failure_rate: 1,
        last_failure_time: timestamp(timeAgo(2)),
        last_failure_detail: null,
        last_success_time: null,
      },
    ]);
  });

  it('pdt_build_failures lists PDTs whose builds failed in the last 30 days', async () => {
    expect(await read('pdt_build_failures')).toEqual([
      {
        looker_instance: 'eu',
        connection: 'warehouse',
        model_name: 'thelook',
        view_name: 'order_facts',
        failures: 1,
        builds: 1,
        last_failure_time: timestamp(timeAgo(3, 11)),
        last_failure_detail: 'timeout after 3600s',
        last_build_time: timestamp(timeAgo(2)),
      },
    ]);
  });

  it('users_current, dashboards_current and looks_current keep the latest row of what exists now', async () => {
    const users = await read('users_current');
    expect(users.map((r) => [r.looker_instance, r.id, r.timezone, r.is_disabled])).toEqual([
      ['eu', 1, 'Europe/Paris', null],
      ['eu', 2, null, true],
      ['us', 1, null, null],
    ]);
    expect(users[0]).not.toHaveProperty('_deleted_at');
    expect((await read('dashboards_current')).map((r) => [r.looker_instance, r.id])).toEqual([
      ['eu', 10],
      ['us', 20],
    ]);
    expect((await read('looks_current')).map((r) => [r.looker_instance, r.id, r.title])).toEqual([
      ['eu', 30, 'Orders'],
      ['us', 40, 'Events'],
    ]);
  });

  it('instance_overview puts the instances side by side', async () => {
    expect(await read('instance_overview')).toEqual([
      {
        looker_instance: 'eu',
        queries_7d: 2,
        queries_30d: 3,
        active_users_7d: 2,
        active_users_30d: 2,
        errors_7d: 0,
        errors_30d: 1,
        users: 2,
        enabled_users: 1,
        dashboards: 1,
        looks: 1,
        content_unused_90d: 2,
        last_extracted_at: timestamp(EXTRACTED),
      },
      {
        looker_instance: 'us',
        queries_7d: 1,
        queries_30d: 1,
        active_users_7d: 1,
        active_users_30d: 1,
        errors_7d: 0,
        errors_30d: 0,
        users: 1,
        enabled_users: 1,
        dashboards: 1,
        looks: 1,
        content_unused_90d: 1,
        last_extracted_at: timestamp(EXTRACTED),
      },
    ]);
  });
});

describe('lsa report and lsa reports, as processes', () => {
  /** A config whose Looker secrets and Redis are never needed (the variables are not even set). */
  const configFor = (dataset: string) => {
    dir ??= mkdtempSync(join(tmpdir(), 'lsa-reports-'));
    const file = join(dir, `${dataset}.yaml`);
    writeFileSync(
      file,
      `redis: { url: "redis://127.0.0.1:1" }
gcs: { bucket: ${BUCKET} }
bigquery: { projectId: ${PROJECT}, dataset: ${dataset}, apiEndpoint: "${emulator.url}" }
masking: { hashKey: "\${LSA_REPORTS_TEST_UNSET_HASH_KEY}" }
instances:
  - id: eu
    baseUrl: https://eu.looker.example
    clientId: "\${LSA_REPORTS_TEST_UNSET_CLIENT_ID}"
    clientSecret: "\${LSA_REPORTS_TEST_UNSET_CLIENT_SECRET}"
`,
    );
    return file;
  };
  const lsa = async (...args: string[]) => {
    const child = spawnLsa(args);
    const code = await child.exited;
    return { code, output: child.output() };
  };

  it('installs the views and prints a report as JSON, CSV and a table, with no Looker secret', async () => {
    const config = configFor(DATASET);
    const install = await lsa('reports', 'install', '--config', config);
    expect(install.code, install.output).toBe(0);
    expect(install.output).toContain(`installed ${PROJECT}.${DATASET}.instance_overview`);

    const json = await lsa(
      'report',
      'top_explores',
      '--instance',
      'eu',
      '--format',
      'json',
      '--config',
      config,
    );
    expect(json.code, json.output).toBe(0);
    expect(JSON.parse(json.output)).toEqual(await read('top_explores', 'eu'));

    const csv = await lsa('report', 'unused_content', '--format', 'csv', '--limit', '1', '--config', config);
    expect(csv.output).toBe(
      'looker_instance,content_type,content_items,never_accessed,unused_30d,unused_90d,unused_90d_share\r\n' +
        'eu,dashboard,4,1,2,1,0.25\r\n',
    );

    const table = await lsa('report', 'instance_overview', '--config', config);
    expect(table.output.split('\n')[0]).toMatch(/^looker_instance\s+queries_7d\s+queries_30d/);
    expect(table.output).toMatch(/\neu\s+2\s+3\s+2\s+2\s+0\s+1\s+2\s+1\s+1\s+1\s+2\s+\S+Z\n/);
  });

  it('skips views whose tables the dataset lacks (exit 3), and refuses unknown reports (exit 2)', async () => {
    await ensureDataset(bigquery, 'partial', 'US');
    const historySpec = tableSpec(BUILT_IN_EXPORTS.find((d) => d.name === 'history')!);
    const have = new Set(historySpec.columns.map((c) => c.name));
    await ensureTable(bigquery, 'partial', {
      ...historySpec,
      columns: [...historySpec.columns, ...PENDING_COLUMNS.history!.filter((c) => !have.has(c.name))],
    });
    const install = await lsa('reports', 'install', '--config', configFor('partial'));
    expect(install.code, install.output).toBe(3);
    expect(install.output).toContain(`installed ${PROJECT}.partial.query_performance_daily`);
    expect(install.output).toContain(
      `skipped   ${PROJECT}.partial.users_current: table user not in ${PROJECT}.partial`,
    );
    expect(install.output).toContain(
      `skipped   ${PROJECT}.partial.unused_content: it reads content_usage_current, which is not installed`,
    );

    const unknown = await lsa('report', 'slow_dashboards', '--config', configFor(DATASET));
    expect(unknown.code).toBe(2);
    expect(unknown.output).toContain('unknown report "slow_dashboards"');
    expect(unknown.output).toContain('query_performance_daily');
  });
});
