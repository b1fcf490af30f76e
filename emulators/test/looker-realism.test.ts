import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type EmulatedLookerInstance,
  type LookerEmulator,
  startLookerEmulator,
  type WriteQueryLike,
} from '../src/looker/index.ts';
import { epochOf, login, makeSdk, rawQuery, runJson, session, utcText } from './looker-helpers.ts';

// Elite and standard System Activity as real Looker serves it, through the real @looker/sdk-node: tables refresh
// on their own cadence, rows change after they appear, entities get deleted, times stay in the system zone, the
// API's own queries land in History. One clock is shared with the emulator and moved forward by the tests.

const MODEL = 'system__activity';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const ELITE = { id: 'elite', clientId: 'elite-client', clientSecret: 'elite-secret' };
const STANDARD = { id: 'standard', clientId: 'standard-client', clientSecret: 'standard-secret' };
const NEW_YORK = { id: 'ny', clientId: 'ny-client', clientSecret: 'ny-secret' };
const UTC_TWIN = { id: 'utc-twin', clientId: 'twin-client', clientSecret: 'twin-secret' };
const CAPPED = { id: 'capped', clientId: 'capped-client', clientSecret: 'capped-secret' };

let nowMs = Date.parse('2026-03-02T12:34:56Z');
let emulator: LookerEmulator;

beforeAll(async () => {
  emulator = await startLookerEmulator({
    clock: () => nowMs,
    instances: [
      { ...ELITE, seed: 101, historyRows: 3000, historyDays: 30, users: 400, systemActivity: 'elite' },
      { ...STANDARD, seed: 102, historyRows: 1000, historyDays: 30, systemActivity: 'standard' },
      {
        ...NEW_YORK,
        seed: 103,
        historyRows: 1500,
        historyDays: 20,
        systemActivity: 'elite',
        timezone: 'America/New_York',
      },
      { ...UTC_TWIN, seed: 103, historyRows: 1500, historyDays: 20, systemActivity: 'elite' },
      { ...CAPPED, seed: 104, historyRows: 2000, historyDays: 10, systemActivity: 'elite', maxRowLimit: 500 },
    ],
  });
});

afterAll(async () => {
  await emulator?.close();
});

const sdkFor = (instance: { id: string; clientId: string; clientSecret: string }) =>
  makeSdk(emulator.baseUrl(instance.id), instance.clientId, instance.clientSecret);

/** Moves the shared clock forward to `ms` (never back). */
function stepTo(ms: number) {
  expect(ms).toBeGreaterThanOrEqual(nowMs);
  nowMs = ms;
}

/** An explore's first refresh at least `marginMs` from now. */
function refreshAfter(
  instance: EmulatedLookerInstance,
  explore: Parameters<typeof instance.nextRefresh>[0],
  marginMs: number,
): number {
  const next = instance.nextRefresh(explore);
  const cadence = next - instance.lastRefresh(explore);
  return next + Math.ceil(Math.max(0, marginMs - (next - nowMs)) / cadence) * cadence;
}

/** Moves the clock to an explore's next refresh. */
function stepToRefresh(
  instance: EmulatedLookerInstance,
  explore: Parameters<typeof instance.nextRefresh>[0],
) {
  stepTo(instance.nextRefresh(explore));
}

function maxId(instance: EmulatedLookerInstance, view: string, key: string): number {
  const [row] = instance.runQuery({ model: MODEL, view, fields: [key], sorts: [`${key} desc`], limit: 1 });
  return (row?.[key] as number | undefined) ?? 0;
}

describe('refresh cadence', () => {
  it('elite: 10 min for activity, 1 h for users, 24 h for content; standard: at least 12 h; phase per instance', () => {
    const elite = emulator.instance(ELITE.id);
    const standard = emulator.instance(STANDARD.id);
    const cadence = (instance: EmulatedLookerInstance, explore: Parameters<typeof instance.nextRefresh>[0]) =>
      instance.nextRefresh(explore) - instance.lastRefresh(explore);
    for (const explore of ['history', 'event', 'event_attribute', 'pdt_event_log'] as const) {
      expect(cadence(elite, explore)).toBe(10 * 60_000);
      expect(cadence(standard, explore)).toBe(12 * HOUR);
    }
    expect(cadence(elite, 'user')).toBe(HOUR);
    expect(cadence(standard, 'user')).toBe(12 * HOUR);
    for (const explore of ['content_usage', 'scheduled_plan', 'dashboard', 'look', 'field_usage'] as const) {
      expect(cadence(elite, explore)).toBe(DAY);
      expect(cadence(standard, explore)).toBe(DAY);
    }
    for (const instance of [elite, standard]) {
      expect(instance.lastRefresh('history')).toBeLessThanOrEqual(nowMs);
      expect(instance.nextRefresh('history')).toBeGreaterThan(nowMs);
    }
    // Instances do not refresh in step.
    expect(elite.lastRefresh('content_usage') % DAY).not.toBe(standard.lastRefresh('content_usage') % DAY);
    expect(() => elite.nextRefresh('nope' as 'history')).toThrow(/unknown explore "nope"/);
  });

  it('a new History row is invisible until the next history refresh, then visible over the SDK', async () => {
    const instance = emulator.instance(ELITE.id);
    const sdk = sdkFor(ELITE);
    const refresh = refreshAfter(instance, 'history', 120_000);
    stepTo(refresh - 60_000);
    const before = maxId(instance, 'history', 'history.id');
    const eventsBefore = maxId(instance, 'event', 'event.id');
    instance.simulateActivity(40);
    const body = {
      model: MODEL,
      view: 'history',
      fields: ['history.id'],
      filters: { 'history.id': `>${before}` },
    };
    expect(await runJson(sdk, body)).toEqual([]);
    expect(maxId(instance, 'event', 'event.id')).toBe(eventsBefore);
    stepTo(refresh - 1000);
    expect(await runJson(sdk, body)).toEqual([]);
    stepTo(refresh);
    const visible = await runJson(sdk, body);
    // 40 simulated rows (plus the History rows of the API's own queries just run, also new).
    expect(visible.filter((r) => (r['history.id'] as number) > before).length).toBeGreaterThanOrEqual(40);
    expect(maxId(instance, 'event', 'event.id')).toBeGreaterThan(eventsBefore);
  });

  it('simulated rows are spread over the time since the previous simulation, not one second', () => {
    const instance = emulator.instance(ELITE.id);
    const from = nowMs;
    instance.simulateActivity(1);
    stepTo(from + 2 * HOUR);
    const before = maxId(instance, 'history', 'history.id');
    instance.simulateActivity(100);
    stepToRefresh(instance, 'history');
    const rows = instance.runQuery({
      model: MODEL,
      view: 'history',
      fields: ['history.id', 'history.created_time', 'history.source'],
      filters: { 'history.id': `>${before}`, 'history.source': '-api' },
      sorts: ['history.id'],
    });
    expect(rows).toHaveLength(100);
    const times = rows.map((r) => epochOf(r['history.created_time'] as string) * 1000);
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    expect(times[0] as number).toBeGreaterThan(from);
    expect(times[0] as number).toBeLessThan(from + 20 * 60_000);
    expect(times[times.length - 1] as number).toBeGreaterThan(from + 2 * HOUR - 20 * 60_000);
    expect(times[times.length - 1] as number).toBeLessThanOrEqual(from + 2 * HOUR);
    expect(new Set(times).size).toBeGreaterThan(90);
  });
});

describe('rows that change after they appear', () => {
  it('a running History row completes after its end and the next refresh', () => {
    const instance = emulator.instance(ELITE.id);
    const before = maxId(instance, 'history', 'history.id');
    stepTo(nowMs + HOUR);
    instance.simulateActivity(3000);
    stepToRefresh(instance, 'history');
    const body: WriteQueryLike = {
      model: MODEL,
      view: 'history',
      fields: [
        'history.id',
        'history.status',
        'history.created_time',
        'history.completed_time',
        'history.runtime',
      ],
      filters: { 'history.id': `>${before}` },
      sorts: ['history.id'],
    };
    const running = instance.runQuery(body).filter((r) => r['history.status'] === 'running');
    expect(running.length).toBeGreaterThan(0);
    for (const row of running) {
      expect(row['history.completed_time']).toBeNull();
      expect(row['history.runtime']).toBeNull();
    }
    const ids = new Set(running.map((r) => r['history.id']));
    // Long runners take up to 6 hours: step past them, to a refresh.
    stepTo(nowMs + 7 * HOUR);
    stepToRefresh(instance, 'history');
    const finished = instance.runQuery(body).filter((r) => ids.has(r['history.id']));
    expect(finished).toHaveLength(ids.size);
    for (const row of finished) {
      expect(['complete', 'error', 'killed']).toContain(row['history.status']);
      const runtime = row['history.runtime'] as number;
      expect(runtime).toBeGreaterThan(0);
      const created = epochOf(row['history.created_time'] as string);
      expect(epochOf(row['history.completed_time'] as string)).toBe(created + Math.floor(runtime));
    }
    expect(finished.some((r) => (r['history.runtime'] as number) > 3600)).toBe(true);
  });

  it('a scheduled job is in_progress with no finalized time, then success/failure after its end and a refresh', async () => {
    const instance = emulator.instance(ELITE.id);
    const sdk = sdkFor(ELITE);
    const refresh = refreshAfter(instance, 'scheduled_plan', 10 * 60_000);
    const before = maxId(instance, 'scheduled_plan', 'scheduled_job.id');
    stepTo(refresh - 120_000);
    instance.simulateActivity(15);
    stepTo(refresh - 5000);
    instance.simulateActivity(1500); // 100 jobs over the last 2 minutes before the daily refresh
    const body: WriteQueryLike = {
      model: MODEL,
      view: 'scheduled_plan',
      fields: [
        'scheduled_job.id',
        'scheduled_job.status',
        'scheduled_job.finalized_time',
        'scheduled_job.created_time',
      ],
      filters: { 'scheduled_job.id': `>${before}` },
      sorts: ['scheduled_job.id'],
      limit: '-1',
    };
    expect(await runJson(sdk, body)).toEqual([]); // the daily table has not been refreshed yet
    stepTo(refresh);
    // The jobs of the last simulation (the daily refresh also brings earlier simulations' jobs).
    const first = (await runJson(sdk, body)).filter(
      (r) => (r['scheduled_job.created_time'] as string) > utcText((refresh - 120_000) / 1000),
    );
    expect(first.length).toBeGreaterThan(90);
    const inProgress = first.filter((r) => r['scheduled_job.status'] === 'in_progress');
    expect(inProgress.length).toBeGreaterThan(first.length / 2);
    for (const row of inProgress) expect(row['scheduled_job.finalized_time']).toBeNull();
    stepToRefresh(instance, 'scheduled_plan');
    const second = await runJson(sdk, body);
    const byId = new Map(second.map((r) => [r['scheduled_job.id'], r]));
    for (const row of inProgress) {
      const now = byId.get(row['scheduled_job.id']);
      expect(['success', 'failure', 'skipped']).toContain(now?.['scheduled_job.status']);
      expect(now?.['scheduled_job.finalized_time']).not.toBeNull();
    }
    expect(
      inProgress.some((r) => byId.get(r['scheduled_job.id'])?.['scheduled_job.status'] === 'success'),
    ).toBe(true);
  });

  it('content_usage counters and last access move with new activity at the 24 h refresh, and agree with History', () => {
    const instance = emulator.instance(ELITE.id);
    const usageBody: WriteQueryLike = {
      model: MODEL,
      view: 'content_usage',
      fields: [
        'content_usage.id',
        'content_usage.content_type',
        'content_usage.content_id',
        'content_usage.api_count',
        'content_usage.other_count',
        'content_usage.schedule_count',
        'content_usage.embed_count',
        'content_usage.public_count',
        'content_usage.prefetch_count',
        'content_usage.last_accessed_time',
      ],
      sorts: ['content_usage.id'],
    };
    // Dashboards and Looks count History rows (PDTs count PDT events).
    const total = (row: Record<string, unknown> | undefined) =>
      !['dashboard', 'look'].includes(row?.['content_usage.content_type'] as string)
        ? 0
        : ['api', 'other', 'schedule', 'embed', 'public', 'prefetch'].reduce(
            (sum, c) => sum + ((row?.[`content_usage.${c}_count`] as number) ?? 0),
            0,
          );
    stepToRefresh(instance, 'content_usage');
    const before = instance.runQuery(usageBody);
    expect(new Set(before.map((r) => r['content_usage.content_type']))).toEqual(
      new Set(['dashboard', 'look', 'pdt', 'board']),
    );
    const historyBefore = maxId(instance, 'history', 'history.id');
    stepTo(nowMs + 2 * HOUR);
    instance.simulateActivity(500);
    stepToRefresh(instance, 'history');
    // History shows the new rows, content_usage does not yet.
    expect(maxId(instance, 'history', 'history.id')).toBeGreaterThan(historyBefore);
    expect(instance.runQuery(usageBody)).toEqual(before);
    stepToRefresh(instance, 'content_usage');
    const after = instance.runQuery(usageBody);
    const added = instance.runQuery({
      model: MODEL,
      view: 'history',
      fields: ['history.id', 'history.real_dash_id', 'history.look_id', 'history.created_time'],
      filters: { 'history.id': `>${historyBefore}` },
    });
    const touched = added.filter((r) => r['history.real_dash_id'] !== null || r['history.look_id'] !== null);
    expect(touched.length).toBeGreaterThan(100);
    const delta = after.reduce((sum, row, i) => sum + total(row) - total(before[i]), 0);
    expect(delta).toBe(touched.length);
    const newest = touched.map((r) => r['history.created_time'] as string).sort();
    const moved = after.filter(
      (row, i) => row['content_usage.last_accessed_time'] !== before[i]?.['content_usage.last_accessed_time'],
    );
    expect(moved.length).toBeGreaterThan(0);
    for (const row of moved)
      expect((row['content_usage.last_accessed_time'] as string) >= (newest[0] as string)).toBe(true);
  });

  it('days_since_last_accessed and its tiers are computed from now, at query time', () => {
    const instance = emulator.instance(ELITE.id);
    const body: WriteQueryLike = {
      model: MODEL,
      view: 'content_usage',
      fields: [
        'content_usage.id',
        'content_usage.last_accessed_time',
        'content_usage.days_since_last_accessed',
        'content_usage.days_since_last_access_tiers',
      ],
      sorts: ['content_usage.id'],
    };
    // Stay inside one content_usage refresh: last access does not move, only "now".
    stepTo(instance.lastRefresh('content_usage') + 20 * 60_000);
    const early = instance.runQuery(body);
    const earlyToday = Math.floor(nowMs / DAY);
    stepTo(instance.nextRefresh('content_usage') - 60_000);
    const late = instance.runQuery(body);
    const today = Math.floor(nowMs / DAY);
    const tiers = ['0 to 6', '7 to 13', '14 to 29', '30 to 59', '60 to 89', '90 or Above'];
    const tierOf = (days: number) =>
      tiers[days < 7 ? 0 : days < 14 ? 1 : days < 30 ? 2 : days < 60 ? 3 : days < 90 ? 4 : 5];
    let accessed = 0;
    late.forEach((row, i) => {
      const last = row['content_usage.last_accessed_time'] as string | null;
      expect(last).toBe(early[i]?.['content_usage.last_accessed_time']);
      const days = row['content_usage.days_since_last_accessed'] as number | null;
      if (last === null) {
        expect(days).toBeNull();
        expect(row['content_usage.days_since_last_access_tiers']).toBe('Undefined');
        return;
      }
      accessed++;
      expect(days).toBe(today - Math.floor((epochOf(last) * 1000) / DAY));
      expect(row['content_usage.days_since_last_access_tiers']).toBe(tierOf(days as number));
    });
    expect(accessed).toBeGreaterThan(50);
    // The same last access read 23 hours later: the day count moved with the clock's day, nothing else.
    late.forEach((row, i) => {
      const days = row['content_usage.days_since_last_accessed'] as number | null;
      if (days !== null)
        expect(days - (early[i]?.['content_usage.days_since_last_accessed'] as number)).toBe(
          today - earlyToday,
        );
    });
  });
});

describe('deletions', () => {
  it('a deleted dashboard leaves the dashboard explore at the next refresh, a deleted user at the next hourly one', async () => {
    const instance = emulator.instance(ELITE.id);
    const sdk = sdkFor(ELITE);
    const [first] = await runJson(sdk, {
      model: MODEL,
      view: 'dashboard',
      fields: ['dashboard.id', 'dashboard.title'],
      filters: { 'dashboard.id': 'NOT NULL', 'dashboard.moved_to_trash': 'No' },
      sorts: ['dashboard.id desc'],
      limit: 1,
    });
    const dashboardId = first?.['dashboard.id'] as number;
    expect(dashboardId).toBeGreaterThan(1);
    const dashboardBody = {
      model: MODEL,
      view: 'dashboard',
      fields: ['dashboard.id'],
      filters: { 'dashboard.id': String(dashboardId) },
    };
    const [user] = await runJson(sdk, {
      model: MODEL,
      view: 'user',
      fields: ['user.id'],
      filters: { 'user.id': '>1' },
      sorts: ['user.id'],
      limit: 1,
    });
    const userId = user?.['user.id'] as number;
    const userBody = {
      model: MODEL,
      view: 'user',
      fields: ['user.id'],
      filters: { 'user.id': String(userId) },
    };
    instance.deleteEntity('dashboard', dashboardId);
    instance.deleteEntity('user', userId);
    expect(await runJson(sdk, dashboardBody)).toEqual([{ 'dashboard.id': dashboardId }]);
    expect(await runJson(sdk, userBody)).toEqual([{ 'user.id': userId }]);
    stepToRefresh(instance, 'user');
    expect(await runJson(sdk, userBody)).toEqual([]);
    stepToRefresh(instance, 'dashboard');
    expect(await runJson(sdk, dashboardBody)).toEqual([]);
    expect(() => instance.deleteEntity('look', 999_999)).toThrow(/no look with id 999999/);
    expect(() => instance.deleteEntity('user', instance.apiUserId)).toThrow(/API user/);
  });

  it('some users, dashboards and Looks are deleted over time, deterministically from the seed', () => {
    const elite = emulator.instance(ELITE.id);
    const users = elite.runQuery({ model: MODEL, view: 'user', fields: ['user.id'], sorts: ['user.id'] });
    const ids = users.map((r) => r['user.id'] as number);
    const highest = ids[ids.length - 1] as number;
    expect(highest).toBe(elite.apiUserId);
    const missing = highest - ids.length;
    expect(missing).toBeGreaterThan(0);
    expect(missing).toBeLessThan(highest * 0.15);
  });

  it('the dashboard explore is based on dashboard_layout_component: some rows have a null dashboard.id', async () => {
    const rows = await runJson(sdkFor(ELITE), {
      model: MODEL,
      view: 'dashboard',
      fields: ['dashboard_layout_component.id', 'dashboard.id', 'dashboard.title'],
      filters: { 'dashboard.id': 'NULL' },
    });
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) expect(row['dashboard.title']).toBeNull();
    const res = await fetch(
      `${emulator.baseUrl(ELITE.id)}/api/4.0/lookml_models/${MODEL}/explores/dashboard?fields=view_name`,
      {
        headers: {
          authorization: `Bearer ${await login(emulator.baseUrl(ELITE.id), ELITE.clientId, ELITE.clientSecret)}`,
        },
      },
    );
    expect(await res.json()).toEqual({ view_name: 'dashboard_layout_component' });
  });
});

describe('system time zone', () => {
  it('returns times in the system zone, never converted to query_timezone; date filters read in the system zone', async () => {
    const ny = sdkFor(NEW_YORK);
    const twin = sdkFor(UTC_TWIN);
    const body = {
      model: MODEL,
      view: 'history',
      fields: ['history.id', 'history.created_time'],
      filters: { 'history.id': '1,500,1000' },
      sorts: ['history.id'],
    };
    const utcRows = await runJson(twin, { ...body, query_timezone: 'UTC' });
    const nyRows = await runJson(ny, { ...body, query_timezone: 'UTC' });
    const tokyoRows = await runJson(ny, { ...body, query_timezone: 'Asia/Tokyo' });
    expect(tokyoRows).toEqual(nyRows);
    expect(nyRows).toHaveLength(3);
    nyRows.forEach((row, i) => {
      const shift =
        epochOf(row['history.created_time'] as string) -
        epochOf(utcRows[i]?.['history.created_time'] as string);
      expect([-4 * 3600, -5 * 3600]).toContain(shift);
    });
    // A day in the system zone: 00:00 to 24:00 New York time, whatever the query zone says.
    const day = String(nyRows[1]?.['history.created_time']).slice(0, 10);
    const next = utcText(epochOf(`${day} 00:00:00`) + 86_400).slice(0, 10);
    const filtered = await runJson(ny, {
      model: MODEL,
      view: 'history',
      fields: ['history.id', 'history.created_time'],
      filters: { 'history.created_time': `${day} 00:00:00 to ${next} 00:00:00` },
      query_timezone: 'Asia/Tokyo',
      limit: '-1',
    });
    expect(filtered.length).toBeGreaterThan(10);
    for (const row of filtered) expect((row['history.created_time'] as string).slice(0, 10)).toBe(day);
    expect(filtered.map((r) => r['history.id'])).toContain(500);
  });
});

describe('the API user', () => {
  it('me() is the API user, a row of the user explore', async () => {
    const instance = emulator.instance(ELITE.id);
    const sdk = sdkFor(ELITE);
    const me = await sdk.ok(sdk.me());
    expect(me).toEqual({
      id: instance.apiUserId,
      email: 'lsa-api@elite.example.com',
      display_name: 'LSA API',
      first_name: 'LSA',
      last_name: 'API',
    });
    const rows = await runJson(sdk, {
      model: MODEL,
      view: 'user',
      fields: ['user.id', 'user.email', 'user_facts.has_api_credentials', 'user_facts.is_admin'],
      filters: { 'user.id': String(instance.apiUserId) },
    });
    expect(rows).toEqual([
      {
        'user.id': instance.apiUserId,
        'user.email': 'lsa-api@elite.example.com',
        'user_facts.has_api_credentials': 'Yes',
        'user_facts.is_admin': 'Yes',
      },
    ]);
  });

  it("the pipeline's own queries appear in History with the API user's id after the next refresh", async () => {
    const instance = emulator.instance(STANDARD.id);
    const sdk = sdkFor(STANDARD);
    const ownBody: WriteQueryLike = {
      model: MODEL,
      view: 'history',
      fields: ['history.id', 'history.user_id', 'history.status', 'history.runtime', 'history.created_time'],
      filters: { 'history.source': 'api' },
      sorts: ['history.id'],
    };
    const before = instance.runQuery(ownBody);
    const startedAt = utcText(Math.floor(nowMs / 1000));
    await runJson(sdk, { model: MODEL, view: 'look', fields: ['look.id'], limit: 3 });
    await runJson(sdk, { model: MODEL, view: 'user', fields: ['user.id'], limit: 3 });
    expect(instance.runQuery(ownBody)).toEqual(before); // standard: 12 hours until History shows them
    stepToRefresh(instance, 'history');
    const own = instance.runQuery(ownBody).slice(before.length);
    expect(own.length).toBeGreaterThanOrEqual(2);
    for (const row of own) {
      expect(row['history.user_id']).toBe(instance.apiUserId);
      expect(row['history.status']).toBe('complete');
      expect(row['history.runtime']).toBeGreaterThanOrEqual(0);
    }
    expect(own.map((r) => r['history.created_time'])).toContain(startedAt);
  });
});

describe('API answers', () => {
  it('unknown explores are 404 Not found, for metadata and queries', async () => {
    const sdk = sdkFor(ELITE);
    const metadata = await sdk.lookml_model_explore({ lookml_model_name: MODEL, explore_name: 'nope' });
    expect(!metadata.ok && metadata.error.message).toBe('Not found');
    const base = emulator.baseUrl(ELITE.id);
    const token = await login(base, ELITE.clientId, ELITE.clientSecret);
    const res = await rawQuery(base, token, { model: MODEL, view: 'nope', fields: ['nope.id'] });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { message: string }).message).toBe('Not found');
  });

  it('login expires_in is 3599', async () => {
    const token = await session(sdkFor(ELITE)).login();
    expect(token.expires_in).toBe(3599);
  });

  it('caps rows silently at maxRowLimit: no limit, -1 and larger limits all get the cap, no error', async () => {
    const sdk = sdkFor(CAPPED);
    const body = { model: MODEL, view: 'history', fields: ['history.id'], sorts: ['history.id'] };
    expect(await runJson(sdk, body)).toHaveLength(500);
    expect(await runJson(sdk, { ...body, limit: '-1' })).toHaveLength(500);
    const capped = await runJson(sdk, { ...body, limit: '1800' });
    expect(capped).toHaveLength(500);
    expect(capped.every((r) => r.looker_error === undefined)).toBe(true);
    expect(await runJson(sdk, { ...body, limit: 12 })).toHaveLength(12);
    expect(emulator.instance(CAPPED.id).runQuery(body).length).toBeGreaterThan(1800); // ground truth: no cap
  });
});

describe('the emulator clock', () => {
  it('is advanced over HTTP when the emulator owns it, and refused when a clock function was given', async () => {
    const own = await startLookerEmulator({
      instances: [{ ...ELITE, seed: 5, historyRows: 100, systemActivity: 'elite' }],
    });
    try {
      const before = own.now();
      const res = await fetch(`${own.url}/_emulator/clock`, {
        method: 'POST',
        body: JSON.stringify({ advanceMs: 3 * DAY }),
      });
      expect(res.status).toBe(200);
      const { now } = (await res.json()) as { now: number };
      expect(now - before).toBeGreaterThanOrEqual(3 * DAY);
      expect(now - before).toBeLessThan(3 * DAY + 60_000);
      own.advanceClock(HOUR);
      expect(own.now() - now).toBeGreaterThanOrEqual(HOUR);
      const bad = await fetch(`${own.url}/_emulator/clock`, { method: 'POST', body: '{"advanceMs": -5}' });
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { message: string }).message).toContain('-5');
      const refreshes = await fetch(`${own.url}/_emulator/instances/${ELITE.id}/refreshes`);
      const history = ((await refreshes.json()) as Record<string, { last: number; next: number }>).history;
      expect((history?.next ?? 0) - (history?.last ?? 0)).toBe(10 * 60_000);
    } finally {
      await own.close();
    }
    const refused = await fetch(`${emulator.url}/_emulator/clock`, {
      method: 'POST',
      body: '{"advanceMs": 5}',
    });
    expect(refused.status).toBe(409);
    expect(() => emulator.advanceClock(5)).toThrow(/clock function/);
  });
});
