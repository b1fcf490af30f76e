import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ResolvedExport } from '../../src/config/model.ts';
import { builtInExport } from '../../src/exports/registry.ts';
import { QUARANTINE_RAW_COLUMN, QUARANTINE_REASON_COLUMN } from '../../src/exports/types.ts';
import { hashMask, REDACTED, redactMask } from '../../src/looker/masking.ts';
import { rowConverter } from '../../src/looker/rows.ts';

const KEY = 'a-masking-key-of-32-characters!!';
const EMAIL = 'ada.lovelace@example.com';

describe('masks', () => {
  it('hash is a keyed HMAC-SHA256: the same value hashes the same way, another key another way', () => {
    const hash = hashMask(KEY);
    expect(hash(EMAIL)).toBe(createHmac('sha256', KEY).update(EMAIL).digest('hex'));
    expect(hash(EMAIL)).toBe(hashMask(KEY)(EMAIL));
    expect(hash(EMAIL)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashMask(`${KEY}-other`)(EMAIL)).not.toBe(hash(EMAIL));
    expect(hash('grace.hopper@example.com')).not.toBe(hash(EMAIL));
  });

  it('refuses a hash key shorter than 16 characters, without repeating it', () => {
    expect(() => hashMask('short-key')).toThrow(/at least 16 characters/);
    expect(() => hashMask('short-key')).not.toThrow(/short-key/);
  });

  it('redact keeps only that a value was there', () => {
    expect(redactMask(EMAIL)).toBe(REDACTED);
  });
});

function userExport(masking: ResolvedExport['masking']): ResolvedExport {
  return {
    definition: builtInExport('user')!,
    settings: {
      windowMs: 86_400_000,
      lookbackMs: 0,
      lagMs: 0,
      horizon: 'all',
      pageSize: 5000,
      loadStrategy: 'merge',
    },
    masking,
  };
}

const context = {
  instanceId: 'prod-eu',
  extractedAt: new Date('2026-11-29T10:00:00Z'),
  hashKey: () => KEY,
  timezone: 'UTC',
};

const row = {
  'user.id': 7,
  'user.email': EMAIL,
  'user.first_name': 'Ada',
  'user.last_name': 'Lovelace',
  'user.created_time': '2026-01-02 03:04:05',
  'user.is_disabled': 'No',
  'user.timezone': 'Europe/London',
  'user_facts.is_admin': 'Yes',
  'user_facts.is_developer': 'No',
  'user_facts.is_embed': 'No',
  'user_facts.last_api_login_time': null,
  'user_facts.last_ui_login_time': '2026-11-28 09:00:00',
};

describe('rows: masking on the way to the spool file', () => {
  const converter = rowConverter(
    userExport({ 'user.email': 'hash', 'user.first_name': 'drop', 'user.last_name': 'redact' }),
    context,
  );

  it('never asks Looker for a dropped field', () => {
    expect(converter.queryFields).not.toContain('user.first_name');
    expect(converter.queryFields).toContain('user.email');
    // the column stays (tables keep their shape), always null
    expect(converter.columns).toContain('first_name');
  });

  it('writes hashed, redacted and dropped columns, and never the plain value', () => {
    const line = converter.toLine(row);
    const parsed = JSON.parse(line) as Record<string, unknown>;
    expect(parsed.email).toBe(hashMask(KEY)(EMAIL));
    expect(parsed.last_name).toBe(REDACTED);
    expect(parsed.first_name).toBeNull();
    expect(parsed.id).toBe(7);
    expect(line).not.toContain(EMAIL);
    expect(line).not.toContain('Ada');
    expect(line).not.toContain('Lovelace');
  });

  it('a quarantined row keeps its lineage and reason, hashes hashed fields, drops dropped ones', () => {
    const bad = { ...row, 'user.id': 'not-a-number', 'user.first_name': 'Ada' };
    const line = converter.quarantineLine(bad, 'column id (user.id): "not-a-number" is not a whole number');
    const parsed = JSON.parse(line) as Record<string, unknown>;
    expect(Object.keys(parsed).sort()).toEqual(
      ['_extracted_at', QUARANTINE_RAW_COLUMN, QUARANTINE_REASON_COLUMN, 'looker_instance'].sort(),
    );
    expect(parsed.looker_instance).toBe('prod-eu');
    expect(parsed._extracted_at).toBe('2026-11-29T10:00:00.000Z');
    expect(parsed[QUARANTINE_REASON_COLUMN]).toMatch(/not a whole number/);
    const raw = JSON.parse(parsed[QUARANTINE_RAW_COLUMN] as string) as Record<string, unknown>;
    expect(raw['user.id']).toBe('not-a-number');
    expect(raw['user.email']).toBe(hashMask(KEY)(EMAIL));
    expect(raw['user.last_name']).toBe(REDACTED);
    expect('user.first_name' in raw).toBe(false);
    expect(line).not.toContain(EMAIL);
    expect(line).not.toContain('Ada');
  });

  it('a masked field that is itself the bad value is redacted, not hashed as text, in quarantine', () => {
    const line = converter.quarantineLine({ ...row, 'user.email': { nested: EMAIL } }, 'bad email');
    const raw = JSON.parse((JSON.parse(line) as Record<string, string>)[QUARANTINE_RAW_COLUMN]!) as Record<
      string,
      unknown
    >;
    expect(raw['user.email']).toBe(REDACTED);
    expect(line).not.toContain(EMAIL);
  });

  it('a null masked value stays null (it tells that there was none)', () => {
    const parsed = JSON.parse(converter.toLine({ ...row, 'user.email': null })) as Record<string, unknown>;
    expect(parsed.email).toBeNull();
  });

  it('asks for the hash key only when a field is hashed', () => {
    let asked = 0;
    rowConverter(userExport({ 'user.first_name': 'drop' }), {
      ...context,
      hashKey: () => {
        asked++;
        return KEY;
      },
    });
    expect(asked).toBe(0);
  });
});
