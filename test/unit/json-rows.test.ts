import { describe, expect, it } from 'vitest';
import { JsonArrayRowReader, JsonRowsError, parseRow } from '../../src/looker/json-rows.ts';

// The row reader finds each object of Looker's JSON array in byte chunks cut anywhere: inside a string, inside an
// escape, inside a multi-byte character. Strings are skipped by searching for their closing quote, so escapes
// (a quote or a backslash before a quote) are where a wrong skip would show.

const ROWS: Record<string, unknown>[] = [
  { 'a.id': 1, 'a.text': 'plain', 'a.n': null },
  { 'a.id': 2, 'a.text': 'quote " and backslash \\ and \\" and ends with \\', 'a.n': 1.5 },
  { 'a.id': 3, 'a.text': '}],{["\\\\"', 'a.n': -2 },
  { 'a.id': 4, 'a.text': 'control \u0001\n\t, non-BMP 😀, accents é, lone \ud800', 'a.n': true },
  { 'a.id': 5, 'a.text': '\\', 'a.n': false },
  { 'a.id': 6, 'a.text': '', 'a.n': 'x'.repeat(5000) },
  { 'a.id': 7, 'a.text': '"}', 'a.n': '"},{"a.id":' },
];

function readAll(chunks: Buffer[]): Record<string, unknown>[] {
  const reader = new JsonArrayRowReader();
  const rows: Record<string, unknown>[] = [];
  for (const chunk of chunks) reader.push(chunk, (json) => rows.push(parseRow(json, reader.rows - 1)));
  reader.finish();
  return rows;
}

function cutEvery(bytes: Buffer, size: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
  return chunks;
}

describe('JsonArrayRowReader', () => {
  const body = Buffer.from(` [ ${ROWS.map((r) => JSON.stringify(r)).join(' ,\n')} ] `);

  it('reads every row whatever the chunk size, escapes and multi-byte characters included', () => {
    for (const size of [1, 2, 3, 5, 7, 16, 64, 1000, body.length]) {
      expect(readAll(cutEvery(body, size)), `chunks of ${size}`).toEqual(ROWS);
    }
  });

  it('reads every row when the body is cut in two at any byte', () => {
    for (let at = 0; at <= body.length; at++) {
      expect(readAll([body.subarray(0, at), body.subarray(at)]), `cut at ${at}`).toEqual(ROWS);
    }
  });

  it('refuses a body that ends early, with the rows read so far', () => {
    const cut = body.subarray(0, body.indexOf('"a.id":3'));
    expect(() => readAll([cut])).toThrow(/ended before the JSON array was closed \(after 2 rows\)/);
  });

  it('refuses a body that is not an array of objects, quoting it', () => {
    expect(() => readAll([Buffer.from('{"error":"nope"}')])).toThrow(JsonRowsError);
    expect(() => readAll([Buffer.from('[1,2]')])).toThrow(/invalid JSON after row 0/);
    expect(() => readAll([Buffer.from('[{"a":1}] x')])).toThrow(/invalid JSON after row 1/);
  });

  it('names the row whose JSON is invalid', () => {
    expect(() => readAll([Buffer.from('[{"a":1},{"a":tru}]')])).toThrow(/row 2 is not valid JSON/);
  });
});
