import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ResolvedExport } from '../../src/config/model.ts';
import { BadRowError, rowConverter } from '../../src/looker/rows.ts';
import { HASH_KEY, thingsField } from '../helpers/row-fixtures.ts';

// The row converter writes each value's JSON text itself for the common cases (quotes around a string that needs
// no escape, String() of a number) and memoises email hashes: the lines must be byte for byte what JSON.parse of
// them gives back, with every awkward string (quotes, backslashes, control characters, surrogates, 1 MB) intact.

const resolved: ResolvedExport = {
  definition: {
    name: 'things',
    description: 'unit test export',
    explore: 't',
    model: 'system__activity',
    fields: [
      thingsField('id', 'INTEGER'),
      thingsField('text', 'STRING'),
      thingsField('ratio', 'FLOAT'),
      thingsField('flag', 'BOOLEAN'),
      thingsField('at', 'TIMESTAMP'),
      thingsField('email', 'STRING'),
    ],
    key: 't.id',
    mode: { kind: 'snapshot' },
    masking: {},
    filters: {},
    refresh: 'daily',
  },
  settings: {} as ResolvedExport['settings'],
  masking: { 't.email': 'hash' },
};
const extractedAt = new Date('2026-07-01T00:00:00Z');
const converter = rowConverter(resolved, {
  instanceId: 'i"1',
  extractedAt,
  hashKey: () => HASH_KEY,
  timezone: 'UTC',
});
const hash = (value: string) => createHmac('sha256', HASH_KEY).update(value).digest('hex');

const AWKWARD = [
  '',
  'plain',
  'quote " backslash \\ slash /',
  'controls \u0000\u0001\b\f\n\r\t\u001f and DEL \u007f',
  'line separators \u2028\u2029',
  'non-BMP 😀𝄞, accents é',
  'lone surrogates \ud800 and \udfff',
  'x'.repeat(1024 * 1024),
];

describe('rowConverter lines', () => {
  it('keeps every string losslessly and writes valid JSON', () => {
    for (const text of AWKWARD) {
      const line = converter.toLine({
        't.id': 7,
        't.text': text,
        't.ratio': 0.5,
        't.flag': 'Yes',
        't.at': '2026-07-01 10:00:00',
        't.email': null,
      });
      expect(JSON.parse(line)).toEqual({
        looker_instance: 'i"1',
        id: 7,
        text,
        ratio: 0.5,
        flag: true,
        at: '2026-07-01 10:00:00',
        email: null,
        _extracted_at: extractedAt.toISOString(),
      });
      // JSON.stringify's own text for the string (lone surrogates escaped, everything else as it is)
      expect(line).toContain(`"text":${JSON.stringify(text)},`);
    }
  });

  it('writes numbers as JSON.stringify does, and big integers as digits', () => {
    const values = [0, -0, 1e21, -123456789, 2 ** 53 - 1, 1e-7];
    for (const ratio of values) {
      const id = Number.isSafeInteger(ratio) ? ratio : 3;
      const line = converter.toLine({
        't.id': id,
        't.text': 1.5e-7,
        't.ratio': ratio,
        't.flag': false,
        't.at': '2026-07-01 10:00:00.123',
        't.email': 'a@b',
      });
      expect(line).toBe(
        `{"looker_instance":"i\\"1","id":${JSON.stringify(id)},"text":"1.5e-7","ratio":${JSON.stringify(ratio)},"flag":false,"at":"2026-07-01 10:00:00.123","email":"${hash('a@b')}","_extracted_at":"2026-07-01T00:00:00.000Z"}`,
      );
    }
    const big = converter.toLine({
      't.id': '1234567890123456789',
      't.text': 'x',
      't.ratio': 1,
      't.flag': 'no',
      't.at': '2026-07-01 10:00:00',
      't.email': null,
    });
    expect(JSON.parse(big).id).toBe('1234567890123456789');
  });

  it('hashes every email with the key, the same email the same way, across more distinct emails than it remembers', () => {
    for (let i = 0; i < 40_000; i += 1) {
      const email = `user${i % 20_000}@example.com`;
      const line = converter.toLine({
        't.id': i,
        't.text': '',
        't.ratio': 0,
        't.flag': 'yes',
        't.at': '2026-07-01 10:00:00',
        't.email': email,
      });
      if (i % 997 === 0 || i >= 39_990) expect(JSON.parse(line).email).toBe(hash(email));
    }
  });

  it('refuses what BigQuery cannot take, naming the column and value', () => {
    const row = {
      't.id': 1,
      't.text': 'x',
      't.ratio': 1,
      't.flag': 'yes',
      't.at': '2026-07-01 10:00:00',
      't.email': null,
    };
    expect(() => converter.toLine({ ...row, 't.flag': 'maybe' })).toThrow(BadRowError);
    expect(() => converter.toLine({ ...row, 't.flag': 'maybe' })).toThrow(
      'column flag (t.flag): "maybe" is not Yes or No',
    );
    expect(() => converter.toLine({ ...row, 't.ratio': 'NaN' })).toThrow(
      'column ratio (t.ratio): "NaN" is not a number',
    );
    expect(() => converter.toLine({ ...row, 't.id': null })).toThrow('column id: the key t.id is null');
    expect(() => converter.toLine({ ...row, 't.text': { a: 1 } })).toThrow(
      'column text (t.text): {"a":1} is not a string',
    );
  });
});
