import { describe, expect, it } from 'vitest';
import { FlatRowBytes, JsonArrayRowReader } from '../../src/looker/json-rows.ts';
import type { RowLine } from '../../src/looker/rows.ts';
import { GOOD, seededRandom, thingsConverter } from '../helpers/row-fixtures.ts';

// `fromBytes` writes a row's line as bytes from the row's bytes, copying the value bytes BigQuery takes as they
// are; `fromJson` on the row's text is the reference. For every row below both must agree byte for byte: the
// same line (and its newline), the same quarantine reason, the same picked values, or the same invalid-JSON
// error. Rows are fed at an offset inside a larger buffer, and lines already handed out must never change.

/** Numbers compared with Object.is (-0 is not 0), arrays element by element. */
function samePicked(a: unknown[], b: unknown[]): boolean {
  return a.length === b.length && a.every((value, i) => Object.is(value, b[i]));
}

interface Checker {
  /** A row as text (encoded as UTF-8) or as raw bytes (perhaps not valid UTF-8: decoding gives U+FFFD). */
  check(json: string | Buffer, index?: number): void;
  /** Every line handed out so far is still what it was. */
  checkEarlierLines(): void;
}

/** Compares fromBytes (one converter) with fromJson (a converter of its own, so memos are not shared). */
function checker(timezone: string): Checker {
  const underTest = thingsConverter(timezone);
  const reference = thingsConverter(timezone);
  const handedOut: { line: RowLine; copy: Buffer }[] = [];
  return {
    check(row, index = 0) {
      const text = typeof row === 'string' ? Buffer.from(row, 'utf8') : row;
      const json = text.toString('utf8');
      // At an offset inside a larger buffer whose other bytes would confuse a scan that read past the row.
      const padded = Buffer.concat([Buffer.from('{"t.id":"pad",'), text, Buffer.from('"x":1}]')]);
      const label = json.length > 300 ? `${json.slice(0, 300)}...` : json;
      let expected: { line: Buffer; badReason: string | undefined; picked: unknown[] } | { error: string };
      try {
        const converted = reference.fromJson(json, index);
        expected = {
          line: Buffer.from(`${converted.line}\n`, 'utf8'),
          badReason: converted.badReason,
          picked: converted.picked,
        };
      } catch (error) {
        expected = { error: `${(error as Error).name}: ${(error as Error).message}` };
      }
      let actual: RowLine;
      try {
        actual = underTest.fromBytes(padded, 14, 14 + text.length, index);
      } catch (error) {
        expect({ error: `${(error as Error).name}: ${(error as Error).message}` }, label).toEqual(expected);
        return;
      }
      if ('error' in expected) throw new Error(`${label}: fromBytes did not fail with ${expected.error}`);
      const line = actual.bytes.subarray(actual.start, actual.end);
      expect(line.toString('utf8'), label).toBe(expected.line.toString('utf8'));
      expect(line.equals(expected.line), label).toBe(true);
      expect(actual.badReason, label).toBe(expected.badReason);
      expect(samePicked(actual.picked, expected.picked), label).toBe(true);
      handedOut.push({ line: actual, copy: Buffer.from(line) });
    },
    checkEarlierLines() {
      for (const { line, copy } of handedOut) {
        expect(line.bytes.subarray(line.start, line.end).equals(copy)).toBe(true);
      }
    },
  };
}

const AWKWARD_TEXT = [
  '',
  'quote " backslash \\ slash /',
  'controls \u0000\u0001\b\f\n\r\t\u001f and DEL \u007f',
  'line separators \u2028\u2029',
  'non-BMP 😀𝄞, accents é',
  'lone surrogates \ud800 and \udfff',
  '\\',
  '"}',
  '~ printable ASCII !#$%&()*+,-./:;<=>?@[]^_`{|}',
];

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
    -123456789012345,
    '12',
    1.5,
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
    '',
    'NaN',
    null,
    true,
  ],
  't.flag': [
    'Yes',
    'No',
    'yes',
    'NO',
    'true',
    'False',
    'TRUE',
    'nO',
    'ye',
    'yess',
    true,
    false,
    'maybe',
    1,
    null,
  ],
  't.at': [
    '2026-07-01 10:00:00',
    '2026-07-01T10:00:00',
    '2026-07-01 10:00:00.1',
    '2026-07-01 10:00:00.123456',
    '2026-07-01 10:00:00.1234567',
    '2026-07-01 10:00:00.',
    '2026-07-01 10:00',
    '2026-07-01 10:00:0x',
    '2026-07-01',
    20260701,
    null,
  ],
  't.local': ['2026-03-08 02:30:00', '2026-11-01 01:30:00', '2026-11-01 01:30:00.5', 'yesterday', null],
  't.day': ['2026-07-01', '2026-07-01 10:00:00', '2026-7-01', 'July', 1, null],
  't.count': [0, -0, 99, '7', '-3', '07', 'x', '1e400', null],
  't.email': ['ada@example.com', '', 'é@😀', 'q"uote@x', 7, true, null, { nested: 'ada@example.com' }],
  't.secret': ['hush', 'q"uote', 3, null, [1]],
  't.user': [42, 41, '42', null, 42.0, 4.2e1, true],
};

describe('fromBytes: the bytes of fromJson’s line', () => {
  for (const zone of ['UTC', 'America/New_York']) {
    it(`one awkward value at a time, every field, zone ${zone}`, () => {
      const { check, checkEarlierLines } = checker(zone);
      check(JSON.stringify(GOOD));
      for (const [name, values] of Object.entries(VARIANTS)) {
        for (const value of values) check(JSON.stringify({ ...GOOD, [name]: value }));
      }
      checkEarlierLines();
    });
  }

  it('number forms, spacing, order, repeats, extra and missing fields, empty rows', () => {
    const { check, checkEarlierLines } = checker('UTC');
    const good = JSON.stringify(GOOD);
    const rows = [
      good.replace('"t.id":7', '"t.id":7e0'),
      good.replace('"t.id":7', '"t.id":-0.0'),
      good.replace('"t.id":7', '"t.id":12345678901234567890'),
      good.replace('"t.id":7', '"t.id":1e400'),
      good.replace('"t.ratio":0.5', '"t.ratio":-0.0e5'),
      good.replace('"t.ratio":0.5', '"t.ratio":0.000'),
      good.replace('"t.ratio":0.5', '"t.ratio":-0'),
      good.replace('"t.ratio":0.5', '"t.ratio":1E+2'),
      good.replace('"t.ratio":0.5', '"t.ratio":1.50'),
      good.replace('"t.ratio":0.5', '"t.ratio":1e400'),
      good.replace('"t.ratio":0.5', `"t.ratio":${'9'.repeat(299)}`),
      good.replace('"t.ratio":0.5', `"t.ratio":${'9'.repeat(301)}`),
      good.replace('"t.ratio":0.5', `"t.ratio":${'9'.repeat(400)}`),
      good.replace('"t.ratio":0.5', `"t.ratio":0.${'0'.repeat(400)}1`),
      good.replace('"t.ratio":0.5', '"t.ratio":123456789012345678901234567890.123'),
      good.replace('"t.count":3', '"t.count":-0'),
      good.replace('"t.text":"plain"', '"t.text":"\\u0070lain\\/"'),
      good.replace('"t.id"', '"t.\\u0069d"'),
      good.replace('"t.email":"ada@example.com"', '"t.email":"ada\\u0040example.com"'),
      JSON.stringify(GOOD, null, 2),
      good.replaceAll(':', ' : ').replaceAll(',"', ' ,\r\n "'),
      `{ ${good.slice(1, -1)} }`,
      JSON.stringify(Object.fromEntries(Object.entries(GOOD).reverse())),
      JSON.stringify({ ...GOOD, 'extra.field': 'x', 'extra.nested': { a: [1, { b: '"' }] } }),
      JSON.stringify({ 'extra.first': 1, ...GOOD }),
      JSON.stringify({ ...GOOD, 'extra.é': 1 }),
      good.replace('"t.id":7', '"t.id":7,"t.id":8'),
      good.replace('"t.id":7', '"t.id":null,"t.id":9'),
      good.replace('"t.id":7', '"t.id":9,"t.id":null'),
      JSON.stringify({ ...GOOD, 't.id': undefined }),
      JSON.stringify({ ...GOOD, 't.text': undefined }),
      '{}',
      '{ }',
      JSON.stringify({ looker_error: 'the database timed out' }),
      JSON.stringify({ ...GOOD, looker_error: null }),
      JSON.stringify({ ...GOOD, 't.email': ['ada@example.com'], 't.gone': 'shown?' }),
      JSON.stringify({ ...GOOD, 't.text': 'x'.repeat(1024 * 1024) }),
      JSON.stringify({ ...GOOD, 't.text': `${'y'.repeat(300_000)}é` }),
    ];
    for (const json of rows) check(json);
    checkEarlierLines();
  });

  it('text JSON.parse refuses fails the same way, naming the row', () => {
    const { check } = checker('UTC');
    const good = JSON.stringify(GOOD);
    const invalid = [
      good.replace('"t.id":7', '"t.id":07'),
      good.replace('"t.id":7', '"t.id":-'),
      good.replace('"t.id":7', '"t.id":7.'),
      good.replace('"t.id":7', '"t.id":.5'),
      good.replace('"t.id":7', '"t.id":+7'),
      good.replace('"t.id":7', '"t.id":1e'),
      good.replace('"t.id":7', '"t.id":1e+'),
      good.replace('"t.id":7', '"t.id":tru'),
      good.replace('"t.id":7', '"t.id":nul'),
      good.replace('"t.id":7', '"t.id":fals'),
      good.replace('"t.id":7', '"t.id":NaN'),
      good.replace('"t.id":7', '"t.id":7 8'),
      good.replace('"t.id":7', '"t.id" 7'),
      good.replace('"t.id":7', '"t.id":'),
      good.replace('"t.id":7', "'t.id':7"),
      good.replace('"t.id":7,', '"t.id":7,,'),
      `${good.slice(0, -1)},}`,
      good.replace('"t.text":"plain"', '"t.text":"a\\x"'),
      good.replace('"t.text":"plain"', '"t.text":"tab\there"'),
      good.replace('"t.text":"plain"', '"t.text":"nul\u0000here"'),
      good.replace('"t.text"', '"t.te\u0001xt"'),
      `{"t.id":7\u0001}`,
      '{"a":1}}',
      '{"a":1',
      '{"a"}',
      '{,}',
      '{"a":"}',
    ];
    for (const json of invalid) check(json, 4);
  });

  it('agrees on thousands of random rows mixing every awkward value and spacing', () => {
    const { random, pickOne } = seededRandom(20261201);
    for (const zone of ['UTC', 'Europe/Berlin']) {
      const { check, checkEarlierLines } = checker(zone);
      for (let n = 0; n < 3000; n++) {
        const row: Record<string, unknown> = {};
        for (const [name, values] of Object.entries(VARIANTS)) {
          const r = random();
          if (r < 0.03) continue; // missing
          row[name] = r < 0.75 ? GOOD[name] : pickOne(values);
        }
        if (random() < 0.1) row[`extra.${n % 3}`] = pickOne([...VARIANTS['t.text']!, ...AWKWARD_TEXT]);
        const space = pickOne([undefined, undefined, undefined, undefined, 1, '\t']);
        check(JSON.stringify(row, null, space), n);
      }
      checkEarlierLines();
    }
  });

  it('bytes beyond ASCII: valid UTF-8 is copied, anything else decodes to U+FFFD as the text path does', () => {
    const { check, checkEarlierLines } = checker('UTC');
    const sequences = [
      [0xc3, 0xa9], // é
      [0xf0, 0x9f, 0x98, 0x80], // 😀
      [0xe2, 0x80, 0xa8], // U+2028
      [0x7f], // DEL
      [0xef, 0xbb, 0xbf], // a byte-order mark
      [0xc3, 0x28], // a lead byte without its continuation
      [0x80], // a lone continuation byte
      [0xed, 0xa0, 0x80], // a surrogate, which UTF-8 cannot hold
      [0xc0, 0xaf], // an overlong form
      [0xf5, 0x80, 0x80, 0x80], // beyond U+10FFFF
      [0xf0, 0x9f, 0x98], // a cut 4-byte sequence
      [0xff],
    ];
    for (const sequence of sequences) {
      for (const [name, plain] of [
        ['t.text', 'plain'],
        ['t.email', 'ada@example.com'],
        ['t.secret', 'hush'],
        ['t.at', '2026-07-01 10:00:00'],
        ['t.flag', 'Yes'],
      ] as const) {
        const good = JSON.stringify(GOOD);
        const at = good.indexOf(`"${name}":"${plain}"`) + name.length + 4;
        for (const where of [0, 1, plain.length]) {
          const row = Buffer.concat([
            Buffer.from(good.slice(0, at + where)),
            Buffer.from(sequence),
            Buffer.from(good.slice(at + where)),
          ]);
          check(row);
        }
      }
    }
    checkEarlierLines();
    const converter = thingsConverter('UTC');
    const accented = Buffer.from(
      JSON.stringify({ ...GOOD, 't.text': 'Zürich 😀', 't.email': 'zoë@example.com' }),
    );
    expect(converter.rowAt(accented, 0, accented.length)?.end).toBe(accented.length);
  });

  it('an instance id outside ASCII is written as fromJson writes it', () => {
    const underTest = thingsConverter('UTC', { instanceId: 'münchen-😀', apiUserId: undefined });
    const json = JSON.stringify(GOOD);
    const line = underTest.fromBytes(Buffer.from(json), 0, json.length, 0);
    expect(line.bytes.toString('utf8', line.start, line.end)).toBe(`${underTest.fromJson(json, 0).line}\n`);
  });
});

describe('rowAt through the row reader: a whole body', () => {
  it('gives fromJson’s lines, reasons and picks for a body cut anywhere, rows taken whole or left to fromBytes', () => {
    const rows: string[] = [];
    for (let n = 0; n < 60; n++) {
      const value = Object.values(VARIANTS)[n % 11]![Math.floor(n / 11) % 5];
      const name = Object.keys(VARIANTS)[n % 11]!;
      rows.push(JSON.stringify(n % 3 === 0 ? GOOD : { ...GOOD, [name]: value }));
    }
    rows.push(JSON.stringify({ ...GOOD, 't.text': 'z'.repeat(40_000) })); // longer than a one-pass row
    const body = Buffer.from(`[${rows.join(',\n')}]`);
    const reference = thingsConverter('UTC');
    const expected = rows.map((json, i) => {
      const converted = reference.fromJson(json, i);
      return { line: `${converted.line}\n`, badReason: converted.badReason, picked: converted.picked };
    });
    for (const cut of [1, 100, 611, 1000, 4096, 20_000, 65_536]) {
      const converter = thingsConverter('UTC');
      const reader = new JsonArrayRowReader();
      const lines: RowLine[] = [];
      let taken = 0;
      for (let at = 0; at < body.length; at += cut) {
        reader.pushBytes(
          body.subarray(at, Math.min(body.length, at + cut)),
          (bytes, start, end) => lines.push(converter.fromBytes(bytes, start, end, reader.rows - 1)),
          (bytes, start, limit) => {
            const found = converter.rowAt(bytes, start, limit);
            if (!found) return -1;
            taken++;
            lines.push(found.line);
            return found.end;
          },
        );
      }
      reader.finish();
      expect(reader.rows).toBe(rows.length);
      expect(
        lines.map((l) => ({
          line: l.bytes.toString('utf8', l.start, l.end),
          badReason: l.badReason,
          picked: l.picked,
        })),
        `cut every ${cut} bytes`,
      ).toEqual(expected);
      if (cut >= 4096) expect(taken, `cut every ${cut} bytes`).toBeGreaterThan(rows.length / 4);
    }
  });
});

describe('FlatRowBytes and JsonArrayRowReader.pushBytes', () => {
  it('finds fields of printable ASCII rows and refuses escapes, control and non-ASCII bytes', () => {
    const fields = new FlatRowBytes();
    const row = Buffer.from('{"a":1,"b":"x y","c":null,"d":-1.5e3,"e":true,"f":false}');
    expect(fields.scan(row, 0, row.length)).toBe(true);
    expect(fields.count).toBe(6);
    expect([0, 1, 2, 3, 4, 5].map((i) => [fields.key(i), fields.value(i)])).toEqual([
      ['a', 1],
      ['b', 'x y'],
      ['c', null],
      ['d', -1500],
      ['e', true],
      ['f', false],
    ]);
    expect(fields.exponent[3]).toBe(1);
    for (const refused of ['{"b":"x\\"y"}', '{"b":"é"}', '{"b":"tab\t"}', '{"a":{"b":1}}', '{"a":[1]}']) {
      const bytes = Buffer.from(refused);
      expect(fields.scan(bytes, 0, bytes.length), refused).toBe(false);
    }
  });

  it('hands each row as bytes, across chunk boundaries, as push hands its text', () => {
    const rows = [GOOD, { ...GOOD, 't.text': 'é😀 across' }, { ...GOOD, 't.text': '\\"}{' }];
    const body = Buffer.from(JSON.stringify(rows));
    for (let cut = 1; cut < body.length; cut += 7) {
      const texts: string[] = [];
      const bytes: string[] = [];
      const byText = new JsonArrayRowReader();
      const byBytes = new JsonArrayRowReader();
      for (const chunk of [body.subarray(0, cut), body.subarray(cut)]) {
        byText.push(chunk, (json) => texts.push(json));
        byBytes.pushBytes(chunk, (b, start, end) => bytes.push(b.toString('utf8', start, end)));
      }
      expect(bytes).toEqual(texts);
      expect(texts.map((t) => JSON.parse(t))).toEqual(rows);
    }
  });
});
