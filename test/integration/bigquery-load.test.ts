import { gzipSync } from 'node:zlib';
import type { BigQuery } from '@google-cloud/bigquery';
import { startBigQueryEmulator } from 'lsa-emulators/bigquery';
import { MemoryObjectStore } from 'lsa-emulators/gcs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBigQuery } from '../../src/bigquery/client.ts';
import { type LoadRequest, loadBatch, loadWindow, type StagedWindow } from '../../src/bigquery/load.ts';
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

describe('batches, pruning, snapshots, quarantine', () => {
  const history = tableSpec(builtInExport('history')!);
  const user = tableSpec(builtInExport('user')!);
  const extractedAt = (day: string) => `${day}T23:00:00.000Z`;
  const historyRow = (id: number, day: string, instance = 'prod-eu') => ({
    looker_instance: instance,
    id,
    created_time: `${day} 10:00:00`,
    _extracted_at: extractedAt(day),
  });
  // As a window's manifest describes it: rows, none quarantined, the cursor range its extract saw (10:00 UTC).
  const windowOf = (instance: string, day: string, rows: object[]) => ({
    instanceId: instance,
    windowId: `${instance}-${day}`,
    sourceUri: stage(`h-${instance}-${day}.jsonl.gz`, rows),
    rows: rows.length,
    quarantined: 0,
    cursorRange: { minMs: Date.parse(`${day}T10:00:00Z`), maxMs: Date.parse(`${day}T10:00:00Z`) },
    extractedAt: extractedAt(day),
  });
  const batch = (spec = history, windows: StagedWindow[], key: string, attempt = 0) =>
    loadBatch({
      bigquery,
      projectId: PROJECT,
      datasetId: DATASET,
      location: 'US',
      spec,
      strategy: 'merge',
      batchKey: key,
      windows,
      attempt,
    });
  const day = (n: number) => `2026-10-${String(n).padStart(2, '0')}`;
  const rowsOfDay = (n: number, count: number, instance = 'prod-eu') =>
    Array.from({ length: count }, (_, i) => historyRow(n * 1000 + i, day(n), instance));

  async function jobsNamed(prefix: string) {
    const [jobs] = await bigquery.getJobs({ allUsers: true });
    return jobs.filter((j) => j.id?.startsWith(prefix));
  }

  it('a batch of many windows is one load job and one MERGE, with rows counted per window', async () => {
    const windows = [1, 2, 3].flatMap((n) => [
      windowOf('prod-eu', day(n), rowsOfDay(n, 4)),
      windowOf('prod-us', day(n), rowsOfDay(n, 2, 'prod-us')),
    ]);
    const result = await batch(history, windows, 'b1');
    expect(result.jobIds).toEqual(['lsa_stage_history_b1_a0', 'lsa_merge_history_b1_a0']);
    expect(await jobsNamed('lsa_stage_history_b1_')).toHaveLength(1);
    expect(await jobsNamed('lsa_merge_history_b1_')).toHaveLength(1);
    expect(result).toMatchObject({ rowsLoaded: 18, inserted: 18, quarantined: 0 });
    expect(result.windows.map((w) => [w.windowId, w.rows])).toEqual(windows.map((w) => [w.windowId, w.rows]));
  });

  it('the MERGE reads only the partitions of its rows: bytes processed stay flat as older partitions grow', async () => {
    const first = await batch(history, [windowOf('prod-eu', day(20), rowsOfDay(20, 5))], 'p1');
    // Older partitions grow a lot...
    await batch(
      history,
      [4, 5, 6, 7].map((n) => windowOf('prod-eu', day(n), rowsOfDay(n, 50))),
      'p2',
    );
    // ...and a window of the same size in a new partition reads as much as the first one did.
    const later = await batch(history, [windowOf('prod-eu', day(21), rowsOfDay(21, 5))], 'p3');
    expect(first.bytesProcessed).toBeGreaterThan(0);
    expect(later.bytesProcessed).toBe(first.bytesProcessed);
    // A window whose manifest has no cursor range (written before ranges were recorded) may hold rows anywhere:
    // its MERGE reads every partition of the instance, and still finds the row already there.
    const { cursorRange: _unknown, ...rangeless } = windowOf('prod-eu', day(21), rowsOfDay(21, 5));
    const unpruned = await batch(history, [rangeless], 'p4');
    expect(unpruned.bytesProcessed).toBeGreaterThan(first.bytesProcessed * 4);
    expect(unpruned).toMatchObject({ inserted: 0, updated: 5 });
    // content_usage's cursor moves after insert: its MERGE reads every partition of its instances (no duplicate
    // when a row moves to a new partition).
    const uri = stage('moved.jsonl.gz', [{ ...row(1, 11), last_accessed_time: '2026-12-01 10:00:00' }]);
    await loadWindow(request({ windowId: 'moved', sourceUri: uri }));
    const moved = (await rows('content_usage')).filter((r) => r.id === 1);
    expect(moved).toHaveLength(1);
    expect(moved[0]!.last_accessed_time).toEqual({ value: '2026-12-01T10:00:00' });
  });

  it('a snapshot marks rows gone from its instance with _deleted_at in the same MERGE, and clears it when they are back', async () => {
    const userRow = (id: number, instance: string, at: string) => ({
      looker_instance: instance,
      id,
      _extracted_at: at,
    });
    const snapshot = (key: string, instance: string, ids: number[], atMs: number) => {
      const at = new Date(atMs).toISOString();
      return {
        instanceId: instance,
        windowId: `snap-${key}-${instance}`,
        sourceUri: stage(
          `u-${key}-${instance}.jsonl.gz`,
          ids.map((id) => userRow(id, instance, at)),
        ),
        rows: ids.length,
        extractedAt: at,
        snapshotAtMs: atMs,
      };
    };
    const t1 = Date.parse('2026-11-01T00:00:00Z');
    const t2 = Date.parse('2026-11-02T00:00:00Z');
    const t3 = Date.parse('2026-11-03T00:00:00Z');
    await batch(user, [snapshot('1', 'a', [1, 2, 3], t1), snapshot('1', 'b', [1, 2], t1)], 's1');
    const second = await batch(user, [snapshot('2', 'a', [1, 3], t2)], 's2');
    // one statement did it: the stage load and the MERGE, no separate UPDATE or DELETE
    expect(second.jobIds).toEqual(['lsa_stage_user_s2_a0', 'lsa_merge_user_s2_a0']);
    const deleted = async () => {
      const [result] = await bigquery.query(
        `SELECT looker_instance AS i, id, UNIX_MILLIS(_deleted_at) AS gone FROM \`${PROJECT}.${DATASET}.user\` ORDER BY i, id`,
      );
      return (result as { i: string; id: number; gone: number | null }[]).map((r) => [r.i, r.id, r.gone]);
    };
    expect(await deleted()).toEqual([
      ['a', 1, null],
      ['a', 2, t2],
      ['a', 3, null],
      ['b', 1, null],
      ['b', 2, null],
    ]);
    await batch(user, [snapshot('3', 'a', [1, 2, 3], t3)], 's3');
    expect((await deleted()).filter(([, , gone]) => gone !== null)).toEqual([]);
  });

  it('quarantined lines land in _lsa_quarantine once, and count in the loaded rows', async () => {
    const at = extractedAt(day(25));
    const quarantined = (raw: string) => ({
      looker_instance: 'prod-eu',
      _extracted_at: at,
      _lsa_quarantine_reason: 'history.id: not a number',
      _lsa_raw: raw,
    });
    const lines = [...rowsOfDay(25, 3), quarantined('{"history.id":"x"}'), quarantined('{"history.id":"y"}')];
    const window = { ...windowOf('prod-eu', day(25), lines), quarantined: 2, windowId: 'q-window-p1' };
    const first = await batch(history, [window], 'q1');
    expect(first).toMatchObject({ rowsLoaded: 5, quarantined: 2, inserted: 3 });
    expect(first.windows[0]).toMatchObject({ rows: 5, quarantined: 2 });
    const replay = await batch(history, [window], 'q1', 1);
    expect(replay.quarantined).toBe(2);
    const [result] = await bigquery.query(
      `SELECT looker_instance, export, \`window\`, raw, reason FROM \`${PROJECT}.${DATASET}._lsa_quarantine\` ORDER BY raw`,
    );
    expect(result).toEqual([
      {
        looker_instance: 'prod-eu',
        export: 'history',
        window: 'q-window-p1',
        raw: '{"history.id":"x"}',
        reason: 'history.id: not a number',
      },
      {
        looker_instance: 'prod-eu',
        export: 'history',
        window: 'q-window-p1',
        raw: '{"history.id":"y"}',
        reason: 'history.id: not a number',
      },
    ]);
    expect((await rows('history')).filter((r) => Number(r.id) >= 25000 && Number(r.id) < 26000)).toHaveLength(
      3,
    );
  });

  it('a count that does not match what a window wrote takes that window out (the others are not blamed)', async () => {
    const good = windowOf('prod-eu', day(26), rowsOfDay(26, 2));
    const short = { ...windowOf('prod-us', day(26), rowsOfDay(26, 2, 'prod-us')), rows: 3 };
    const error = await batch(history, [good, short], 'c1').catch((e: Error) => e);
    expect(error).toMatchObject({ name: 'NonRetryableError', uris: [short.sourceUri] });
    expect((error as Error).message).toMatch(/prod-us\/prod-us-2026-10-26: the extract wrote 3/);
  });

  it('an object BigQuery refuses is named, so the batch can leave it out', async () => {
    const good = windowOf('prod-eu', day(27), rowsOfDay(27, 2));
    const poisoned = windowOf('prod-us', day(27), [{ ...historyRow(1, day(27), 'prod-us'), surprise: 1 }]);
    const error = await batch(history, [good, poisoned], 'r1').catch((e: Error) => e);
    expect(error).toMatchObject({ uris: [poisoned.sourceUri] });
  });
});
