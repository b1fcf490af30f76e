import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InstanceConfig, ResolvedExport } from '../../src/config/model.ts';
import { OWN_QUERY_COLUMN } from '../../src/exports/types.ts';
import { wallTimeToUtcMs } from '../../src/looker/datetime.ts';
import { hashMask } from '../../src/looker/masking.ts';
import { type RunOnceReport, runOnce } from '../../src/pipeline/run-once.ts';
import { startTestPipeline, type TestPipeline } from '../helpers/pipeline.ts';

// The product against a Looker that behaves like real Elite System Activity: tables refresh on their own cadence
// (10 min, 1 h, 24 h), queries and schedules are still running when first read and finish later, content usage
// moves, users and dashboards are deleted, one instance keeps its times in New York time across the end of
// daylight saving, and every query the pipeline runs shows up in History. Several simulated days pass on one
// clock shared by the emulator and the pipeline's planning. At the end BigQuery must equal what Looker shows:
// every table, every column, no row missing, no row extra, no deleted entity live.

const HOUR = 3_600_000;
const ZONES: Record<string, string> = { 'sa-utc': 'UTC', 'sa-ny': 'America/New_York' };
/** One day before New York leaves daylight saving time (1 Nov 2026, 02:00 EDT → 01:00 EST, 06:00 UTC). */
const NEW_YORK_DST_END = Date.parse('2026-11-01T06:00:00Z');
let simNow = NEW_YORK_DST_END - 24 * HOUR;
const clock = () => simNow;
let pipeline: TestPipeline;

beforeAll(async () => {
  pipeline = await startTestPipeline({
    instances: Object.keys(ZONES).map((id, i) => ({
      id,
      clientId: `${id}-client`,
      clientSecret: `${id}-secret-value`,
      seed: 70 + i,
      historyRows: 400,
      historyDays: 10,
      systemActivity: 'elite' as const,
      timezone: ZONES[id]!,
      maxRowLimit: 200,
    })),
    timing: 'derived',
    defaults: { window: '30d' },
    instanceYaml: (id) => `    rowCap: 200\n    timezone: ${ZONES[id]}`,
    now: clock,
  });
}, 120_000);

afterAll(async () => {
  await pipeline?.close();
});

function describeReport(report: RunOnceReport): string {
  return JSON.stringify(
    [
      ...report.windows.filter((w) => w.state !== 'committed'),
      ...report.fanout.skipped.filter((s) => s.reason !== 'nothing new since the watermark'),
    ],
    null,
    1,
  ).slice(0, 2000);
}

async function run(): Promise<void> {
  const report = await runOnce(pipeline.context, { pollMs: 50, timeoutMs: 120_000 });
  expect(report.ok, describeReport(report)).toBe(true);
}

/** A Looker value as BigQuery must hold it: typed, masked as configured, times in UTC. */
function expectedValue(resolved: ResolvedExport, field: string, value: unknown, zone: string): unknown {
  const spec = resolved.definition.fields.find((f) => f.field === field)!;
  const rule = resolved.masking[field];
  if (rule === 'drop') return null;
  if (value === null || value === undefined) return null;
  if (rule === 'hash') return hashMask(pipeline.env.LSA_HASH_KEY!)(String(value));
  switch (spec.lookerType) {
    case 'number':
      return Number(value);
    case 'yesno':
      return value === 'Yes';
    case 'date_time':
      return new Date(wallTimeToUtcMs(String(value), zone)).toISOString();
    default:
      return String(value);
  }
}

/** A BigQuery cell as plain JSON: timestamps and datetimes as UTC ISO instants. */
function loadedValue(value: unknown, bigqueryType: string): unknown {
  if (value === null || value === undefined) return null;
  if (bigqueryType === 'TIMESTAMP') return new Date((value as { value: string }).value).toISOString();
  if (bigqueryType === 'DATETIME') return new Date(`${(value as { value: string }).value}Z`).toISOString();
  return value;
}

/** Looker's `days_since_*` are computed when Looker answers: stale in a table by design (see README). */
const COMPUTED_AT_QUERY_TIME = new Set([
  'content_usage.days_since_last_accessed',
  'content_usage.days_since_last_access_tiers',
]);

async function compareExport(instance: InstanceConfig, resolved: ResolvedExport) {
  const { definition } = resolved;
  const label = `${instance.id}/${definition.name}`;
  const emulated = pipeline.stack.looker.instance(instance.id);
  const truth = emulated.runQuery({
    model: definition.model,
    view: definition.explore,
    fields: definition.fields.map((f) => f.field),
    filters: { ...definition.filters, [definition.key]: 'NOT NULL' },
    sorts: [definition.key],
  });
  const keyColumn = definition.fields.find((f) => f.field === definition.key)!.column;
  const { projectId, dataset } = pipeline.config.bigquery;
  const [rows] = await pipeline.context.bigquery.query({
    query: `SELECT * FROM \`${projectId}.${dataset}.${definition.name}\` WHERE looker_instance = @instance ORDER BY \`${keyColumn}\``,
    params: { instance: instance.id },
  });
  const loaded = rows as Record<string, unknown>[];
  const snapshot = definition.mode.kind === 'snapshot';
  const live = snapshot ? loaded.filter((r) => r._deleted_at === null) : loaded;
  const truthKeys = truth.map((r) => Number(r[definition.key]));
  expect(
    live.map((r) => Number(r[keyColumn])),
    `${label}: keys in BigQuery (live) = keys in Looker`,
  ).toEqual(truthKeys);
  if (snapshot) {
    // Every entity Looker no longer has is marked deleted, none is missing, none is live.
    const gone = loaded.filter((r) => r._deleted_at !== null).map((r) => Number(r[keyColumn]));
    for (const key of gone) expect(truthKeys, `${label}: ${key} deleted`).not.toContain(key);
  }
  const byKey = new Map(live.map((r) => [Number(r[keyColumn]), r]));
  // A row read before its user was deleted keeps the user's fields it was read with (Looker's join now gives
  // null); the deletion itself is in the user table's _deleted_at. Documented in the README.
  const users = new Set(
    emulated
      .runQuery({ model: 'system__activity', view: 'user', fields: ['user.id'] })
      .map((u) => Number(u['user.id'])),
  );
  const userIdField = definition.fields.find((f) => /\.user_id$/.test(f.field))?.field;
  for (const row of truth) {
    const got = byKey.get(Number(row[definition.key]))!;
    const userGone =
      userIdField !== undefined && row[userIdField] !== null && !users.has(Number(row[userIdField]));
    for (const field of definition.fields) {
      if (COMPUTED_AT_QUERY_TIME.has(field.field)) continue;
      if (userGone && field.field.startsWith('user.') && definition.explore !== 'user') continue;
      expect(
        loadedValue(got[field.column], field.bigqueryType),
        `${label} key ${row[definition.key]} ${field.column}`,
      ).toEqual(expectedValue(resolved, field.field, row[field.field], ZONES[instance.id]!));
    }
    if (definition.ownQueryUserField) {
      const own = Number(row[definition.ownQueryUserField]) === emulated.apiUserId;
      expect(got[OWN_QUERY_COLUMN], `${label} key ${row[definition.key]} own query`).toBe(own);
    }
  }
  return { rows: truth.length, deleted: loaded.length - live.length };
}

describe('against a Looker that behaves like real System Activity', () => {
  it('ends with BigQuery equal to Looker after days of late, changing and deleted rows', async () => {
    await run(); // initial load
    const deleted: Record<string, number[]> = {};
    for (let step = 0; step < 8; step++) {
      // Two days in six-hour runs: New York's DST change falls at the end of the fourth run's span, so four runs
      // read across and after it, and every table (the daily ones too) refreshes at least twice. Activity
      // happens all along: Looker shows each row from its table's first refresh after the emulator learns of
      // it, so it learns every 30 minutes.
      for (let half = 0; half < 12; half++) {
        simNow += HOUR / 2;
        for (const id of Object.keys(ZONES)) pipeline.stack.looker.instance(id).simulateActivity(5);
      }
      for (const id of Object.keys(ZONES)) {
        const instance = pipeline.stack.looker.instance(id);
        if (step === 4) {
          // An operator deletes a dashboard and a user in Looker.
          const [dashboard] = instance.runQuery({
            model: 'system__activity',
            view: 'dashboard',
            fields: ['dashboard.id'],
            filters: { 'dashboard.id': 'NOT NULL' },
            sorts: ['dashboard.id'],
            limit: 1,
          });
          const users = instance.runQuery({
            model: 'system__activity',
            view: 'user',
            fields: ['user.id'],
            sorts: ['user.id'],
          });
          const user = users.map((u) => Number(u['user.id'])).find((u) => u !== instance.apiUserId)!;
          instance.deleteEntity('dashboard', Number(dashboard!['dashboard.id']));
          instance.deleteEntity('user', user);
          deleted[id] = [Number(dashboard!['dashboard.id']), user];
        }
      }
      await run();
    }
    // The runs above read New York's repeated hour (01:00–02:00 local, twice) as it happened and after it.
    expect(simNow - NEW_YORK_DST_END).toBeGreaterThanOrEqual(24 * HOUR);
    // Quiet days: every running query and schedule finishes, every table refreshes; two more runs read it all.
    simNow += 2 * 24 * HOUR;
    await run();
    simNow += HOUR;
    await run();

    let total = 0;
    let deletedRows = 0;
    for (const instance of pipeline.config.instances) {
      for (const resolved of instance.exports) {
        const { rows, deleted: gone } = await compareExport(instance, resolved);
        total += rows;
        deletedRows += gone;
      }
    }
    expect(total).toBeGreaterThan(1000);
    // The two entities deleted by hand per instance, and the ones the emulator deletes over time.
    expect(deletedRows).toBeGreaterThanOrEqual(4);
    // Nothing open is left behind: every running query was read again until final.
    for (const instance of pipeline.config.instances) {
      expect(await pipeline.context.exportState.openRowCount(instance.id, 'history')).toBe(0);
    }
  }, 600_000);
});
