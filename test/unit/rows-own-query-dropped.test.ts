import { describe, expect, it } from 'vitest';
import type { ResolvedExport } from '../../src/config/model.ts';
import type { ExportField } from '../../src/exports/types.ts';
import { type RowConverter, rowConverter } from '../../src/looker/rows.ts';

// An export that flags its own queries reads the user field even when no column does (its rule is drop): it is
// asked of Looker last, after every column's field. A dropped column after the last column read must then be
// written once, as null, by every path: the one pass (rowAt, and fromBytes trying it first) must write the line
// fromJson writes.

const field = (name: string, bigqueryType: ExportField['bigqueryType']): ExportField => ({
  field: `h.${name}`,
  column: name,
  lookerType: 'string',
  bigqueryType,
});

function converter(masking: Record<string, 'drop'>, apiUserId: number): RowConverter {
  const resolved: ResolvedExport = {
    definition: {
      name: 'history',
      description: 'unit test export',
      explore: 'h',
      model: 'system__activity',
      fields: [
        field('id', 'INTEGER'),
        field('user_id', 'INTEGER'),
        field('status', 'STRING'),
        field('email', 'STRING'),
      ],
      key: 'h.id',
      mode: { kind: 'incremental', cursor: 'h.id' },
      masking: {},
      filters: {},
      refresh: 'daily',
      ownQueryUserField: 'h.user_id',
    },
    settings: {} as ResolvedExport['settings'],
    masking,
  };
  const context = {
    instanceId: 'i1',
    extractedAt: new Date('2026-07-01T00:00:00Z'),
    hashKey: () => 'unit-hash-key-0123456789',
    timezone: 'UTC',
    apiUserId,
  };
  return rowConverter(resolved, context, ['h.id']);
}

describe('the own-query user field asked though its column is dropped', () => {
  const maskings: Record<string, 'drop'>[] = [
    { 'h.user_id': 'drop', 'h.email': 'drop' },
    { 'h.user_id': 'drop', 'h.status': 'drop', 'h.email': 'drop' },
    { 'h.user_id': 'drop' },
  ];
  for (const masking of maskings) {
    it(`writes each dropped column once on every path (${Object.keys(masking).join(', ')})`, () => {
      for (const user of [42, 7]) {
        const rows = converter(masking, 42);
        const reference = converter(masking, 42);
        const fields = [
          '"h.id":5',
          ...('h.status' in masking ? [] : ['"h.status":"complete"']),
          ...('h.email' in masking ? [] : ['"h.email":"a@b.c"']),
          `"h.user_id":${user}`,
        ];
        expect(rows.queryFields.at(-1)).toBe('h.user_id');
        const json = `{${fields.join(',')}}`;
        const expected = `${reference.fromJson(json, 0).line}\n`;
        expect(expected).toContain(`"_lsa_own_query":${user === 42}`);
        const bytes = Buffer.from(`[${json},{"h.id":6}]`);
        const found = rows.rowAt(bytes, 1, bytes.length);
        expect(found?.end).toBe(1 + json.length);
        expect(found!.line.bytes.toString('utf8', found!.line.start, found!.line.end)).toBe(expected);
        expect(found!.line.picked).toEqual([5]);
        const whole = rows.fromBytes(bytes, 1, 1 + json.length, 0);
        expect(whole.bytes.toString('utf8', whole.start, whole.end)).toBe(expected);
      }
    });
  }
});
