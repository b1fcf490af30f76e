import { describe, expect, it } from 'vitest';
import { utcDateTimeText, wallTimeToUtcMs } from '../../src/looker/datetime.ts';
import { FlatRowFields, parseRow } from '../../src/looker/json-rows.ts';
import { BadRowError, type ConvertedRow, type RowConverter } from '../../src/looker/rows.ts';
import { GOOD, PICK, seededRandom, thingsConverter } from '../helpers/row-fixtures.ts';

// `fromJson` builds a row's line from its JSON text, copying the value text BigQuery takes as it is; `toLine` on
// JSON.parse's object is the reference. For every row below, both must agree: the same line once parsed (numbers
// compared with Object.is, so -0 is not 0), the same quarantine reason, the same picked values, or the same
// invalid-JSON error.

/** The reference: JSON.parse, then toLine or the quarantine line. */
function reference(converter: RowConverter, json: string, index: number): ConvertedRow {
  const row = parseRow(json, index);
  const picked = PICK.map((name) => row[name]);
  try {
    return { line: converter.toLine(row), badReason: undefined, picked };
  } catch (error) {
    if (!(error instanceof BadRowError)) throw error;
    return { line: converter.quarantineLine(row, error.message), badReason: error.message, picked };
  }
}

/** Deep equality where numbers must be Object.is-equal (-0 is not 0). */
function sameValue(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' || typeof b === 'number') return Object.is(a, b);
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return a === b;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keysA = Object.keys(a);
  const keysB = Object.keys(b);
  if (keysA.join('\u0000') !== keysB.join('\u0000')) return false;
  return keysA.every((key) =>
    sameValue((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]),
  );
}

type Outcome = { error: string } | (ConvertedRow & { parsed: unknown });
function outcome(run: () => ConvertedRow): Outcome {
  try {
    const result = run();
    return { ...result, parsed: JSON.parse(result.line) };
  } catch (error) {
    return { error: `${(error as Error).name}: ${(error as Error).message}` };
  }
}

/** Reference converters, one per converter under test: each remembers values (hashes, the last datetime) on its
 * own, so a memo that answered wrongly on one path would show. */
const references = new WeakMap<RowConverter, RowConverter>();
function referenceFor(converter: RowConverter, timezone: string): RowConverter {
  let other = references.get(converter);
  if (!other) {
    other = thingsConverter(timezone);
    references.set(converter, other);
  }
  return other;
}
const zones = new WeakMap<RowConverter, string>();
function converterFor(timezone: string): RowConverter {
  const converter = thingsConverter(timezone);
  zones.set(converter, timezone);
  return converter;
}

function expectSame(converter: RowConverter, json: string, index = 0) {
  const other = referenceFor(converter, zones.get(converter) ?? 'UTC');
  const expected = outcome(() => reference(other, json, index));
  const actual = outcome(() => converter.fromJson(json, index));
  const label = json.length > 300 ? `${json.slice(0, 300)}...` : json;
  if ('error' in expected || 'error' in actual) {
    expect(actual, label).toEqual(expected);
    return expected;
  }
  expect(actual.badReason, label).toBe(expected.badReason);
  expect(
    sameValue(actual.parsed, expected.parsed),
    `${label}\n new: ${actual.line}\n old: ${expected.line}`,
  ).toBe(true);
  expect(sameValue(actual.picked, expected.picked), label).toBe(true);
  return expected;
}

/** Values per field that are awkward in some way: escapes, unicode, number forms, wrong types, nested values. */
const AWKWARD_TEXT = [
  '',
  'quote " backslash \\ slash /',
  'controls \u0000\u0001\b\f\n\r\t\u001f and DEL \u007f',
  'line separators \u2028\u2029',
  'non-BMP 😀𝄞, accents é',
  'lone surrogates \ud800 and \udfff',
  '\\',
  '"}',
];
const TEXTS = ['{"a":"x\\u0041\\/\\"y"}', '"\\ud83d\\ude00"', '"\\u00e9"'];

const VARIANTS: Record<string, unknown[]> = {
  't.id': [
    0,
    -0,
    1,
    -5,
    2 ** 53 - 1,
    2 ** 53,
    123456789012345,
    1234567890123456,
    '12',
    '1234567890123456789',
    '12345678901234567890',
    1.0,
    1.5,
    1e3,
    null,
    'abc',
    true,
    { a: 1 },
  ],
  't.text': [...AWKWARD_TEXT, 1.5e-7, -0, 1e21, 12, true, false, null, { a: 1 }, [1, 2]],
  't.ratio': [
    0,
    -0,
    1.5,
    -2.25e-10,
    1e21,
    5e-324,
    1.7976931348623157e308,
    '1.5',
    ' 2 ',
    '0x10',
    '',
    'NaN',
    'Infinity',
    null,
    true,
  ],
  't.flag': ['Yes', 'No', 'yes', 'NO', 'true', 'False', true, false, 'maybe', 1, null],
  't.at': [
    '2026-07-01 10:00:00',
    '2026-07-01T10:00:00',
    '2026-07-01 10:00:00.123456',
    '2026-07-01 10:00',
    '2026-07-01',
    20260701,
    null,
  ],
  't.local': ['2026-03-08 02:30:00', '2026-11-01 01:30:00', '2026-11-01 01:30:00.5', 'yesterday', null],
  't.day': ['2026-07-01', '2026-07-01 10:00:00', 'July', 1, null],
  't.count': [0, -0, 99, '7', '-3', '07', 'x', '1e400', null],
  't.email': ['ada@example.com', '', 'é@😀', 'q"uote@x', 7, true, null, { nested: 'ada@example.com' }],
  't.secret': ['hush', 'q"uote', 3, null, [1]],
  't.user': [42, 41, '42', null, 42.0, 4.2e1],
};

describe('fromJson: the same line as toLine on the parsed row', () => {
  for (const zone of ['UTC', 'America/New_York', 'Australia/Lord_Howe']) {
    it(`one awkward value at a time, every field, zone ${zone}`, () => {
      const converter = converterFor(zone);
      expectSame(converter, JSON.stringify(GOOD));
      for (const [name, values] of Object.entries(VARIANTS)) {
        for (const value of values) expectSame(converter, JSON.stringify({ ...GOOD, [name]: value }));
      }
    });
  }

  it('rows whose text JSON.stringify would not write: escapes, exponents, big numbers, spacing, order, repeats', () => {
    const converter = converterFor('UTC');
    const good = JSON.stringify(GOOD);
    const rows = [
      good.replace('"t.id":7', '"t.id":7e0'),
      good.replace('"t.id":7', '"t.id":70E-1'),
      good.replace('"t.id":7', '"t.id":-0.0'),
      good.replace('"t.id":7', '"t.id":12345678901234567890'),
      good.replace('"t.id":7', '"t.id":1e400'),
      good.replace('"t.ratio":0.5', '"t.ratio":-0.0e5'),
      good.replace('"t.ratio":0.5', '"t.ratio":1E+2'),
      good.replace('"t.ratio":0.5', '"t.ratio":1.50'),
      good.replace('"t.ratio":0.5', '"t.ratio":1e400'),
      good.replace('"t.ratio":0.5', '"t.ratio":1e-400'),
      good.replace('"t.ratio":0.5', '"t.ratio":123456789012345678901234567890.123'),
      good.replace('"t.count":3', '"t.count":-0'),
      good.replace('"t.count":3', '"t.count":10'),
      good.replace('"t.text":"plain"', '"t.text":"\\u0070lain\\/"'),
      good.replace('"t.text":"plain"', '"t.text":"\\ud800"'),
      good.replace('"t.text":"plain"', '"t.text":"a\\\\"'),
      good.replace('"t.text":"plain"', '"t.text":"a\\\\\\""'),
      good.replace('"t.at":"2026', '"t.at":"\\u0032026'),
      good.replace('"t.id"', '"t.\\u0069d"'),
      good.replace('"t.flag":"Yes"', '"t.flag":"Y\\u0065s"'),
      good.replace('"t.email":"ada@example.com"', '"t.email":"ada\\u0040example.com"'),
      ...TEXTS.map((t) => good.replace('"t.text":"plain"', `"t.text":${JSON.stringify(t)}`)),
      // Looker's pretty-printed form, and spacing anywhere JSON allows it
      JSON.stringify(GOOD, null, 2),
      JSON.stringify(GOOD, null, '\t'),
      good.replaceAll(':', ' : ').replaceAll(',"', ' ,\r\n "'),
      `{ ${good.slice(1, -1)} }`,
      // fields in another order, a field Looker adds, a field twice (the last counts), no fields
      JSON.stringify(Object.fromEntries(Object.entries(GOOD).reverse())),
      JSON.stringify({ ...GOOD, 'extra.field': 'x', 'extra.nested': { a: [1, { b: '"' }] } }),
      JSON.stringify({ 'extra.first': 1, ...GOOD }),
      good.replace('"t.id":7', '"t.id":7,"t.id":8'),
      good.replace('"t.id":7', '"t.id":null,"t.id":9'),
      good.replace('"t.id":7', '"t.id":9,"t.id":null'),
      good.replace('"t.text":"plain"', '"t.text":"a","t.text":{"b":1}'),
      '{}',
      '{ }',
      JSON.stringify({ looker_error: 'the database timed out' }),
      JSON.stringify({ ...GOOD, looker_error: null }),
      // a masked value that is itself bad, a dropped field present anyway
      JSON.stringify({ ...GOOD, 't.email': ['ada@example.com'], 't.gone': 'shown?' }),
    ];
    for (const json of rows) expectSame(converter, json);
  });

  it('text JSON.parse refuses fails the same way, naming the row', () => {
    const converter = converterFor('UTC');
    const good = JSON.stringify(GOOD);
    const invalid = [
      good.replace('"t.id":7', '"t.id":07'),
      good.replace('"t.id":7', '"t.id":-'),
      good.replace('"t.id":7', '"t.id":7.'),
      good.replace('"t.id":7', '"t.id":.5'),
      good.replace('"t.id":7', '"t.id":+7'),
      good.replace('"t.id":7', '"t.id":0x7'),
      good.replace('"t.id":7', '"t.id":tru'),
      good.replace('"t.id":7', '"t.id":nul'),
      good.replace('"t.id":7', '"t.id":NaN'),
      good.replace('"t.id":7', '"t.id":7 8'),
      good.replace('"t.id":7', '"t.id" 7'),
      good.replace('"t.id":7', '"t.id":'),
      good.replace('"t.id":7', "'t.id':7"),
      good.replace('"t.id":7,', '"t.id":7,,'),
      `${good.slice(0, -1)},}`,
      good.replace('"t.text":"plain"', '"t.text":"a\\x"'),
      good.replace('"t.text":"plain"', '"t.text":"a\\u12"'),
      good.replace('"t.text":"plain"', '"t.text":"tab\there"'),
      good.replace('"t.text":"plain"', '"t.text":"nl\nhere"'),
      good.replace('"t.text":"plain"', '"t.text":"nul\u0000here"'),
      good.replace('"t.text"', '"t.te\u0001xt"'),
      good.replace('"t.text"', '"t.te\\qxt"'),
      good.replace('"t.text":"plain"', '"t.text":"esc\\"\tthen tab"'),
      `{"t.id":7\u0001}`,
      '{"a":1}}',
      '{"a":1',
      '{"a"}',
      '{,}',
    ];
    for (const json of invalid) {
      const result = expectSame(converter, json, 4);
      expect(result, json).toMatchObject({
        error: expect.stringMatching(/^JsonRowsError: row 5 is not valid JSON/),
      });
    }
  });

  it('agrees on thousands of random rows mixing every awkward value and spacing', () => {
    const { random, pickOne } = seededRandom(20261129);
    for (const zone of ['UTC', 'Europe/Berlin']) {
      const converter = converterFor(zone);
      for (let n = 0; n < 3000; n++) {
        const row: Record<string, unknown> = {};
        for (const [name, values] of Object.entries(VARIANTS)) {
          const r = random();
          if (r < 0.03) continue; // missing
          row[name] = r < 0.75 ? GOOD[name] : pickOne(values);
        }
        if (random() < 0.1) row[`extra.${n % 3}`] = pickOne([...VARIANTS['t.text']!, ...AWKWARD_TEXT]);
        const space = pickOne([undefined, undefined, undefined, 1, '\t', ' \n']);
        const result = expectSame(converter, JSON.stringify(row, null, space), n);
        // outside UTC: the wall time moved to UTC, whatever the memo of the last value remembered
        const local = row['t.local'];
        if (zone !== 'UTC' && !('error' in result) && !result.badReason && typeof local === 'string') {
          expect((JSON.parse(result.line) as { local: string }).local).toBe(
            utcDateTimeText(wallTimeToUtcMs(local, zone)),
          );
        }
      }
    }
  });

  it('copies most values as they are written: a common row is byte for byte what toLine writes', () => {
    const converter = converterFor('UTC');
    const json = JSON.stringify(GOOD);
    expect(converter.fromJson(json, 0).line).toBe(converter.toLine(JSON.parse(json)));
  });
});

describe('FlatRowFields', () => {
  it('finds each field and its value without parsing, and refuses nested values', () => {
    const fields = new FlatRowFields();
    expect(fields.scan('{"a":1,"b":"x\\"y","c":null,"d":-1.5e3,"e":true}')).toBe(true);
    expect(fields.count).toBe(5);
    expect([0, 1, 2, 3, 4].map((i) => [fields.key(i), fields.value(i)])).toEqual([
      ['a', 1],
      ['b', 'x"y'],
      ['c', null],
      ['d', -1500],
      ['e', true],
    ]);
    expect(fields.scan('{"a":{"b":1}}')).toBe(false);
    expect(fields.scan('{"a":[1]}')).toBe(false);
  });

  it('grows past 64 fields', () => {
    const row = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`f${i}`, i]));
    const fields = new FlatRowFields();
    expect(fields.scan(JSON.stringify(row))).toBe(true);
    expect(fields.count).toBe(200);
    expect(fields.value(199)).toBe(199);
  });
});
