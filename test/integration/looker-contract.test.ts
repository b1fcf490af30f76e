import type { ILookmlModelExplore, IWriteQuery, Looker40SDK } from '@looker/sdk';
import {
  describeSystemActivityModel,
  type LookerEmulator,
  startLookerEmulator,
  type WriteQueryLike,
} from 'lsa-emulators/looker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.ts';
import { BUILT_IN_EXPORTS } from '../../src/exports/registry.ts';
import { LookerClient } from '../../src/looker/client.ts';

// The contract between the export registry and the Looker emulator: every registry explore and field exists with
// the registry's Looker type, and a query of every export returns Looker's JSON value types. If the registry
// names a field the emulator does not model, the pipeline's tests would prove nothing about it.

const A = { id: 'a', clientId: 'a-client', clientSecret: 'a-secret' };
const MODEL = 'system__activity';
let emulator: LookerEmulator;

beforeAll(async () => {
  emulator = await startLookerEmulator({ port: 0, instances: [{ ...A, seed: 11, historyRows: 20_000 }] });
});

afterAll(async () => {
  await emulator?.close();
});

/** The pipeline's own Looker client (config, credentials from the environment, deadline transport). */
function sdkFor(instance: { id: string; clientId: string; clientSecret: string }): Looker40SDK {
  process.env.CONTRACT_TEST_ID = instance.clientId;
  process.env.CONTRACT_TEST_SECRET = instance.clientSecret;
  process.env.CONTRACT_TEST_HASH = 'contract-test-hash-key-0123456789';
  const config = parseConfigText(
    `redis: { url: "redis://127.0.0.1:1" }
gcs: { bucket: unused-bucket }
bigquery: { projectId: p, dataset: d }
masking: { hashKey: "\${CONTRACT_TEST_HASH}" }
instances:
  - id: ${instance.id}
    baseUrl: ${emulator.baseUrl(instance.id)}
    clientId: "\${CONTRACT_TEST_ID}"
    clientSecret: "\${CONTRACT_TEST_SECRET}"
`,
    'contract-test.yaml',
  );
  return new LookerClient(config.instances[0]!).sdk;
}

async function runJson(sdk: Looker40SDK, body: WriteQueryLike): Promise<Record<string, unknown>[]> {
  const result = await sdk.ok(
    sdk.run_inline_query({ result_format: 'json', body: body as unknown as IWriteQuery, cache: false }),
  );
  return result as unknown as Record<string, unknown>[];
}

describe('registry ↔ Looker emulator', () => {
  it('models every registry field with the registry Looker type (in process)', () => {
    const model = describeSystemActivityModel();
    for (const definition of BUILT_IN_EXPORTS) {
      const explore = model.get(definition.explore);
      expect(explore, definition.explore).toBeDefined();
      for (const field of definition.fields) {
        expect(explore?.get(field.field)?.type, `${definition.explore} ${field.field}`).toBe(
          field.lookerType,
        );
      }
      expect(explore?.get(definition.key)?.type).toBe('number');
      if (definition.mode.kind === 'incremental') expect(explore?.has(definition.mode.cursor)).toBe(true);
    }
  });

  it('serves every registry explore with the registry fields and types (through the SDK)', async () => {
    const sdk = sdkFor(A);
    for (const definition of BUILT_IN_EXPORTS) {
      const explore: ILookmlModelExplore = await sdk.ok(
        sdk.lookml_model_explore({ lookml_model_name: MODEL, explore_name: definition.explore }),
      );
      expect(explore.name).toBe(definition.explore);
      const dimensions = new Map((explore.fields?.dimensions ?? []).map((d) => [d.name, d]));
      for (const field of definition.fields) {
        const dimension = dimensions.get(field.field);
        expect(dimension?.type, `${definition.explore} ${field.field}`).toBe(field.lookerType);
        expect(dimension?.category).toBe('dimension');
      }
      expect((explore.fields?.measures ?? []).some((m) => m.type === 'count')).toBe(true);
    }
  });

  it('returns, for every registry export, the rows runQuery gives, with Looker JSON value types', async () => {
    const sdk = sdkFor(A);
    for (const definition of BUILT_IN_EXPORTS) {
      const body: WriteQueryLike = {
        model: MODEL,
        view: definition.explore,
        fields: definition.fields.map((f) => f.field),
        filters: { ...definition.filters, [definition.key]: 'NOT NULL' },
        sorts: [definition.key],
        limit: '200',
        query_timezone: 'UTC',
      };
      const rows = await runJson(sdk, body);
      expect(rows.length, definition.name).toBeGreaterThan(0);
      expect(rows).toEqual(emulator.instance(A.id).runQuery(body));
      for (const row of rows) {
        expect(Object.keys(row)).toEqual(body.fields);
        for (const field of definition.fields) {
          const value = row[field.field];
          if (value === null) continue;
          const check = {
            number: () => expect(typeof value).toBe('number'),
            string: () => expect(typeof value).toBe('string'),
            tier: () => expect(typeof value).toBe('string'),
            yesno: () => expect(['Yes', 'No']).toContain(value),
            date_time: () => expect(value).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/),
            date_date: () => expect(value).toMatch(/^\d{4}-\d\d-\d\d$/),
          }[field.lookerType];
          check();
        }
      }
    }
  });
});
