import { describe, expect, it } from 'vitest';
import { compileFilter, FilterSyntaxError } from '../src/looker/filters.ts';
import { LookerInstance } from '../src/looker/instance.ts';
import { UTC, Zone } from '../src/looker/time.ts';
import { epochOf, utcText } from './looker-helpers.ts';

// The emulator's query engine and filter grammar in process (no HTTP): the corners the SDK tests do not reach.

const MODEL = 'system__activity';
// A fixed start (in the past) pins the generated History to Aug 22 – Nov 20 2026, around a DST change.
const NOW = Math.floor(Date.parse('2026-11-20T00:00:00Z') / 1000);
const instance = new LookerInstance(
  { id: 'e', clientId: 'c', clientSecret: 's', seed: 7, historyRows: 20_000 },
  NOW,
);

describe('filter grammar', () => {
  const env = { zone: UTC, nowSec: NOW };
  const accepts = (
    kind: 'time' | 'number' | 'string' | 'yesno',
    expression: string,
    value: number | string | boolean | null,
  ) => compileFilter(kind, expression, env).test(value);

  it('dates: absolute, ranges, relative, null', () => {
    const t = (text: string) => epochOf(text);
    expect(accepts('time', '2026-11-01', t('2026-11-01 23:59:59'))).toBe(true);
    expect(accepts('time', '2026-11-01', t('2026-11-02 00:00:00'))).toBe(false);
    expect(accepts('time', '2026/11', t('2026-11-30 10:00:00'))).toBe(true);
    expect(accepts('time', '2026', t('2027-01-01 00:00:00'))).toBe(false);
    expect(accepts('time', '2026-11-01 10:00 to 2026-11-01 11:00', t('2026-11-01 10:59:59'))).toBe(true);
    expect(accepts('time', '2026-11-01 10:00 to 2026-11-01 11:00', t('2026-11-01 11:00:00'))).toBe(false);
    expect(accepts('time', '2026-11-01 10:00:00 for 2 hours', t('2026-11-01 11:30:00'))).toBe(true);
    expect(accepts('time', 'today', t('2026-11-20 00:00:00'))).toBe(true);
    expect(accepts('time', 'yesterday', t('2026-11-19 23:00:00'))).toBe(true);
    expect(accepts('time', '7 days', t('2026-11-14 00:00:00'))).toBe(true);
    expect(accepts('time', '7 days', t('2026-11-13 23:59:59'))).toBe(false);
    expect(accepts('time', '3 days ago', t('2026-11-17 08:00:00'))).toBe(true);
    expect(accepts('time', 'before 3 days ago', t('2026-11-16 23:59:59'))).toBe(true);
    expect(accepts('time', 'before 3 days ago', t('2026-11-17 00:00:00'))).toBe(false);
    expect(accepts('time', 'this month', t('2026-11-01 00:00:00'))).toBe(true);
    expect(accepts('time', 'last month', t('2026-10-31 23:59:59'))).toBe(true);
    expect(accepts('time', 'NULL', null)).toBe(true);
    expect(accepts('time', 'NOT NULL', null)).toBe(false);
    for (const bad of ['2026-13-01', '2026-11-01T10:00:00', 'soonish', '2026-11-01 to', '5 fortnights']) {
      expect(() => compileFilter('time', bad, env), bad).toThrow(FilterSyntaxError);
    }
  });

  it('dates are wall-clock times in the query zone', () => {
    const la = { zone: new Zone('America/Los_Angeles'), nowSec: NOW };
    const filter = compileFilter('time', '2026-07-01 00:00:00 to 2026-07-02 00:00:00', la);
    expect(filter.test(epochOf('2026-07-01 07:00:00'))).toBe(true);
    expect(filter.test(epochOf('2026-07-01 06:59:59'))).toBe(false);
    expect(filter.intervals).toEqual([
      { lo: epochOf('2026-07-01 07:00:00'), loIncl: true, hi: epochOf('2026-07-02 07:00:00'), hiIncl: false },
    ]);
  });

  it('numbers, strings and yesno', () => {
    expect(accepts('number', '(1,)', 2)).toBe(true);
    expect(accepts('number', '[,10]', 10)).toBe(true);
    expect(accepts('number', '5 to 10', 10)).toBe(true);
    expect(accepts('number', '<3 OR >80', 81)).toBe(true);
    expect(accepts('number', 'not 5, not 6', 6)).toBe(false);
    expect(accepts('number', '<> 5', 4)).toBe(true);
    expect(() => compileFilter('number', '5 apples', env)).toThrow(FilterSyntaxError);
    expect(accepts('string', 'FOO,BAR', 'BAR')).toBe(true);
    expect(accepts('string', 'FOO', 'foo')).toBe(false);
    expect(accepts('string', '%oo%', 'foobar')).toBe(true);
    expect(accepts('string', '_oo', 'foo')).toBe(true);
    expect(accepts('string', 'system^_^_activity', 'system__activity')).toBe(true);
    expect(accepts('string', 'system^_^_activity', 'systemXYactivity')).toBe(false);
    expect(accepts('string', 'a^,b', 'a,b')).toBe(true);
    expect(accepts('string', '-%error%', 'create error')).toBe(false);
    expect(accepts('string', 'EMPTY', '')).toBe(true);
    expect(accepts('string', '-EMPTY', null)).toBe(false);
    expect(accepts('yesno', 'yes', true)).toBe(true);
    expect(() => compileFilter('yesno', 'true', env)).toThrow(FilterSyntaxError);
  });
});

describe('query engine', () => {
  it('orders by local time across a DST fall-back like Looker (by the converted value), not by instant', () => {
    const body = {
      model: MODEL,
      view: 'history',
      fields: ['history.id', 'history.created_time'],
      filters: { 'history.created_time': '2026-10-31 20:00:00 to 2026-11-01 06:00:00' },
      sorts: ['history.created_time', 'history.id'],
      query_timezone: 'America/Los_Angeles',
    };
    const rows = instance.runQuery(body);
    const expected = [...rows].sort((a, b) =>
      a['history.created_time'] === b['history.created_time']
        ? (a['history.id'] as number) - (b['history.id'] as number)
        : (a['history.created_time'] as string) < (b['history.created_time'] as string)
          ? -1
          : 1,
    );
    expect(rows).toEqual(expected);
    const ids = rows.map((r) => r['history.id'] as number);
    expect(ids.some((id, i) => i > 0 && id < (ids[i - 1] as number))).toBe(true); // the repeated 01:xx hour interleaves
  });

  it('streams in index order when the order allows, with the same result as a sort', () => {
    const window = { 'history.created_time': '2026-10-01 to 2026-10-05' };
    const natural = instance.runQuery({
      model: MODEL,
      view: 'history',
      fields: ['history.id', 'history.created_time'],
      filters: window,
      sorts: ['history.created_time desc', 'history.id desc'],
      query_timezone: 'UTC',
    });
    const ids = natural.map((r) => r['history.id'] as number);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    expect(ids.length).toBeGreaterThan(500);
    for (const r of natural) {
      const t = epochOf(r['history.created_time'] as string);
      expect(t).toBeGreaterThanOrEqual(epochOf('2026-10-01 00:00:00'));
      expect(t).toBeLessThan(epochOf('2026-10-05 00:00:00'));
    }
  });

  it('aggregates count and sum measures over distinct rows, with HAVING-style measure filters', () => {
    const perSource = instance.runQuery({
      model: MODEL,
      view: 'history',
      fields: ['history.source', 'history.count', 'history.total_runtime'],
      sorts: ['history.source'],
    });
    const rows = instance.runQuery({
      model: MODEL,
      view: 'history',
      fields: ['history.id', 'history.source', 'history.runtime'],
    });
    for (const group of perSource) {
      const members = rows.filter((r) => r['history.source'] === group['history.source']);
      expect(group['history.count']).toBe(members.length);
      expect(group['history.total_runtime']).toBeCloseTo(
        members.reduce((s, r) => s + (r['history.runtime'] as number), 0),
        3,
      );
    }
    const big = instance.runQuery({
      model: MODEL,
      view: 'history',
      fields: ['history.source', 'history.count'],
      filters: { 'history.count': '>2000' },
    });
    expect(big.every((r) => (r['history.count'] as number) > 2000)).toBe(true);
    expect(big.length).toBeGreaterThan(0);
    expect(big.length).toBeLessThan(perSource.length);
  });

  it('a yesno of an unmatched outer join is "No", never null; tiers label days since access', () => {
    const rows = instance.runQuery({
      model: MODEL,
      view: 'history',
      fields: ['history.id', 'dashboard.id', 'dashboard.hidden'],
      filters: { 'dashboard.id': 'NULL' },
      limit: 20,
    });
    expect(rows.length).toBe(20);
    for (const r of rows) expect(r['dashboard.hidden']).toBe('No');
    const tiers = instance.runQuery({
      model: MODEL,
      view: 'content_usage',
      fields: ['content_usage.days_since_last_accessed', 'content_usage.days_since_last_access_tiers'],
    });
    for (const r of tiers) {
      const days = r['content_usage.days_since_last_accessed'] as number | null;
      const tier = r['content_usage.days_since_last_access_tiers'];
      if (days === null) expect(tier).toBe('Undefined');
      else if (days < 7) expect(tier).toBe('0 to 6');
      else if (days >= 365) expect(tier).toBe('365 or Above');
      else expect(tier).toMatch(/^\d+ to \d+$/);
    }
  });

  it('user_facts login times agree with login events', () => {
    const logins = instance.runQuery({
      model: MODEL,
      view: 'event',
      fields: ['event.id', 'event.user_id', 'event.is_api_call', 'event.created_time'],
      filters: { 'event.name': 'login' },
      query_timezone: 'UTC',
    });
    const lastUi = new Map<number, string>();
    for (const e of logins) {
      if (e['event.is_api_call'] === 'Yes') continue;
      const user = e['event.user_id'] as number;
      if ((e['event.created_time'] as string) > (lastUi.get(user) ?? ''))
        lastUi.set(user, e['event.created_time'] as string);
    }
    const users = instance.runQuery({
      model: MODEL,
      view: 'user',
      fields: ['user.id', 'user_facts.last_ui_login_time'],
      query_timezone: 'UTC',
    });
    for (const u of users)
      expect(u['user_facts.last_ui_login_time']).toBe(lastUi.get(u['user.id'] as number) ?? null);
  });

  it('History ends before the emulator started and spans historyDays', () => {
    const [oldest] = instance.runQuery({
      model: MODEL,
      view: 'history',
      fields: ['history.created_time'],
      sorts: ['history.created_time'],
      limit: 1,
      query_timezone: 'UTC',
    });
    const [newest] = instance.runQuery({
      model: MODEL,
      view: 'history',
      fields: ['history.created_time'],
      sorts: ['history.created_time desc'],
      limit: 1,
      query_timezone: 'UTC',
    });
    expect((oldest?.['history.created_time'] as string) >= utcText(NOW - 90 * 86_400)).toBe(true);
    expect((newest?.['history.created_time'] as string) < utcText(NOW)).toBe(true);
  });
});
