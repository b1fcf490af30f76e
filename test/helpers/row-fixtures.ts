import type { ResolvedExport } from '../../src/config/model.ts';
import type { ExportField } from '../../src/exports/types.ts';
import { type RowContext, type RowConverter, rowConverter } from '../../src/looker/rows.ts';

// The row converter's unit-test export, `things`: one field of each BigQuery type, a hashed, a redacted and a
// dropped field, an open-while-null field and the own-query user field — and a well-formed row of it. The tests
// that compare one path of the converter with another build their converters here.

export const HASH_KEY = 'unit-hash-key-0123456789';

export const thingsField = (name: string, bigqueryType: ExportField['bigqueryType']): ExportField => ({
  field: `t.${name}`,
  column: name,
  lookerType: 'string',
  bigqueryType,
});

export function thingsExport(masking: ResolvedExport['masking']): ResolvedExport {
  return {
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
        thingsField('local', 'DATETIME'),
        thingsField('day', 'DATE'),
        thingsField('count', 'INTEGER'),
        thingsField('email', 'STRING'),
        thingsField('secret', 'STRING'),
        thingsField('gone', 'STRING'),
        thingsField('user', 'INTEGER'),
      ],
      key: 't.id',
      mode: { kind: 'incremental', cursor: 't.at' },
      masking: {},
      filters: {},
      refresh: 'daily',
      openWhileNull: 't.local',
      ownQueryUserField: 't.user',
    },
    settings: {} as ResolvedExport['settings'],
    masking,
  };
}

export const THINGS_MASKING = { 't.email': 'hash', 't.secret': 'redact', 't.gone': 'drop' } as const;

/** The fields the extract picks from every row (key, cursor, open-while-null) and one Looker does not return. */
export const PICK = ['t.id', 't.at', 't.local', 'looker_error'];

/** A converter of `things` with its masking rules, in `timezone`; the rest of its context may be changed. */
export function thingsConverter(timezone: string, context: Partial<RowContext> = {}): RowConverter {
  return rowConverter(
    thingsExport(THINGS_MASKING),
    {
      instanceId: 'i"1',
      extractedAt: new Date('2026-07-01T00:00:00Z'),
      hashKey: () => HASH_KEY,
      timezone,
      apiUserId: 42,
      ...context,
    },
    PICK,
  );
}

/** A well-formed row of `things`. */
export const GOOD: Record<string, unknown> = {
  't.id': 7,
  't.text': 'plain',
  't.ratio': 0.5,
  't.flag': 'Yes',
  't.at': '2026-07-01 10:00:00',
  't.local': '2026-03-08 02:30:00',
  't.day': '2026-07-01',
  't.count': 3,
  't.email': 'ada@example.com',
  't.secret': 'hush',
  't.user': 42,
};

/** A repeatable random sequence (a linear congruential generator) and a pick of one value by it. */
export function seededRandom(seed: number) {
  let state = seed;
  const random = () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
  const pickOne = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)]!;
  return { random, pickOne };
}
