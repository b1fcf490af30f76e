import { gzipSync } from 'node:zlib';
import type { BigQuery } from '@google-cloud/bigquery';
import { startBigQueryEmulator } from 'lsa-emulators/bigquery';
import { MemoryObjectStore } from 'lsa-emulators/gcs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBigQuery } from '../../src/bigquery/client.ts';
import { type LoadRequest, loadWindow } from '../../src/bigquery/load.ts';
import { tableSpec } from '../../src/bigquery/schema.ts';
import { ensureDataset } from '../../src/bigquery/tables.ts';
import { builtInExport } from '../../src/exports/registry.ts';

// The load stage with the real @google-cloud/bigquery client against the emulator: table schema, MERGE, append,
// idempotency under a reused job id, and types read back.

const store = new MemoryObjectStore();
let close: () => Promise<void>;
let bigquery: BigQuery;
const PROJECT = 'load-project';
const DATASET = 'activity';

beforeAll(async () => {
  store.createBucket('stage');
  const emulator = await startBigQueryEmulator({ gcs: store });
  close = emulator.close;
  bigquery = createBigQuery({
    projectId: PROJECT,
    dataset: DATASET,
    location: 'US',
    apiEndpoint: emulator.url,
  });
  await ensureDataset(bigquery, DATASET, 'US');
});

afterAll(async () => {
  await close();
});

const contentUsage = tableSpec(builtInExport('content_usage')!);

function stage(name: string, rows: object[]): string {
  store.putObject({
    bucket: 'stage',
    name,
    bytes: gzipSync(rows.map((r) => JSON.stringify(r)).join('\n')),
    contentType: 'application/gzip',
  });
  return `gs://stage/${name}`;
}

function row(id: number, other: number, instance = 'prod-eu') {
  return {
    looker_instance: instance,
    content_id: String(id),
    content_title: `Dashboard ${id}`,
    content_type: 'dashboard',
    days_since_last_access_tiers: '0 to 6',
    days_since_last_accessed: 1,
    id,
    api_count: 0,
    embed_count: 0,
    favorite_count: 1,
    public_count: 0,
    schedule_count: 2,
    other_count: other,
    last_accessed_time: '2026-11-27 10:00:00',
    _extracted_at: '2026-11-28T00:00:00.000Z',
  };
}

function request(overrides: Partial<LoadRequest>): LoadRequest {
  return {
    bigquery,
    projectId: PROJECT,
    datasetId: DATASET,
    location: 'US',
    spec: contentUsage,
    strategy: 'merge',
    instanceId: 'prod-eu',
    windowId: 'w1',
    sourceUri: '',
    attempt: 0,
    ...overrides,
  };
}

async function rows(table: string) {
  const [result] = await bigquery.query(
    `SELECT * FROM \`${PROJECT}.${DATASET}.${table}\` ORDER BY looker_instance, id`,
  );
  return result as Record<string, unknown>[];
}

describe('load', () => {
  it('creates content_usage with exactly the original 13 columns, plus looker_instance and _extracted_at', async () => {
    await loadWindow(request({ sourceUri: stage('a.jsonl.gz', [row(1, 5), row(2, 7)]) }));
    const [metadata] = await bigquery.dataset(DATASET).table('content_usage').getMetadata();
    const fields = (metadata.schema.fields as { name: string; type: string }[]).map(
      (f) => `${f.name}:${f.type}`,
    );
    expect(fields).toEqual([
      'looker_instance:STRING',
      'content_id:STRING',
      'content_title:STRING',
      'content_type:STRING',
      'days_since_last_access_tiers:STRING',
      'days_since_last_accessed:INTEGER',
      'id:INTEGER',
      'api_count:INTEGER',
      'embed_count:INTEGER',
      'favorite_count:INTEGER',
      'public_count:INTEGER',
      'schedule_count:INTEGER',
      'other_count:INTEGER',
      'last_accessed_time:DATETIME',
      '_extracted_at:TIMESTAMP',
    ]);
    expect(metadata.timePartitioning).toMatchObject({ type: 'DAY', field: 'last_accessed_time' });
    expect(metadata.clustering).toEqual({ fields: ['looker_instance'] });
  });

  it('reads back with the right types through getRows() and a query', async () => {
    const [viaRows] = await bigquery.dataset(DATASET).table('content_usage').getRows();
    const first = (viaRows as Record<string, unknown>[]).find((r) => r.id === 1)!;
    expect(first).toMatchObject({ looker_instance: 'prod-eu', id: 1, other_count: 5, content_id: '1' });
    expect(first.last_accessed_time).toEqual({ value: '2026-11-27T10:00:00' });
    expect((first._extracted_at as { value: string }).value).toBe('2026-11-28T00:00:00.000Z');
    const [viaQuery] = await bigquery.query(
      `SELECT id, other_count FROM \`${PROJECT}.${DATASET}.content_usage\` WHERE id = 2`,
    );
    expect(viaQuery).toEqual([{ id: 2, other_count: 7 }]);
  });

  it('merges: loading the same window twice leaves no duplicate; an updated row replaces the old one', async () => {
    const uri = stage('b.jsonl.gz', [row(1, 9), row(3, 1)]);
    const first = await loadWindow(request({ windowId: 'w2', sourceUri: uri }));
    expect(first).toMatchObject({ rowsLoaded: 2, inserted: 1, updated: 1 });
    const again = await loadWindow(request({ windowId: 'w2', sourceUri: uri, attempt: 1 }));
    expect(again).toMatchObject({ rowsLoaded: 2, inserted: 0, updated: 2 });
    const all = await rows('content_usage');
    expect(all.map((r) => [r.id, r.other_count])).toEqual([
      [1, 9],
      [2, 7],
      [3, 1],
    ]);
  });

  it('a reused job id (a retry after a crash mid-load) awaits the earlier job instead of running twice', async () => {
    const uri = stage('c.jsonl.gz', [row(4, 2)]);
    const first = await loadWindow(request({ windowId: 'w3', sourceUri: uri }));
    // same attempt number: the same job ids, which BigQuery answers with 409 duplicate
    const replay = await loadWindow(request({ windowId: 'w3', sourceUri: uri }));
    expect(replay.jobIds).toEqual(first.jobIds);
    expect(replay.rowsLoaded).toBe(1);
    expect((await rows('content_usage')).filter((r) => r.id === 4)).toHaveLength(1);
  });

  it('append appends every observation (the original behaviour), and a retry does not append twice', async () => {
    const history = tableSpec(builtInExport('history')!);
    const make = (id: number) => ({
      looker_instance: 'prod-eu',
      id,
      created_time: '2026-11-27 10:00:00',
      _extracted_at: '2026-11-28T00:00:00Z',
    });
    const uri = stage('d.jsonl.gz', [make(1), make(2)]);
    const append = (windowId: string, attempt = 0) =>
      loadWindow(request({ spec: history, strategy: 'append', windowId, sourceUri: uri, attempt }));
    await append('a1');
    await append('a2');
    expect((await rows('history')).map((r) => r.id)).toEqual([1, 1, 2, 2]);
    // attempt 1 of window a2 finds attempt 0 succeeded: nothing appended
    const retry = await append('a2', 1);
    expect(retry.jobIds[0]).toMatch(/_a0$/);
    expect(await rows('history')).toHaveLength(4);
  });
});
