import { BigQuery, type BigQueryTimestamp } from '@google-cloud/bigquery';
import { PassThroughClient } from 'google-auth-library';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BigQueryEmulator, startBigQueryEmulator } from '../src/bigquery/server.ts';
import { MemoryObjectStore } from '../src/gcs/store.ts';

// The GoogleSQL dialect the BigQuery emulator accepts (rewritten for DuckDB), nested types end to end, and scripts,
// all through the real client.

const PROJECT = 'dialect-project';
const BUCKET = 'sources';

let emulator: BigQueryEmulator;
let bigquery: BigQuery;
let store: MemoryObjectStore;

async function one(sql: string): Promise<Record<string, unknown>> {
  const [rows] = await bigquery.query(sql);
  return rows[0] as Record<string, unknown>;
}

async function loadLines(
  tableId: string,
  name: string,
  lines: unknown[],
  extra: Record<string, unknown> = {},
) {
  store.putObject({
    bucket: BUCKET,
    name,
    bytes: Buffer.from(lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n')),
    contentType: 'application/x-ndjson',
  });
  const [job] = await bigquery.createJob({
    configuration: {
      load: {
        sourceUris: [`gs://${BUCKET}/${name}`],
        sourceFormat: 'NEWLINE_DELIMITED_JSON',
        destinationTable: { projectId: PROJECT, datasetId: 'ds', tableId },
        ...extra,
      },
    },
  });
  await job.promise();
  return job;
}

beforeAll(async () => {
  store = new MemoryObjectStore();
  store.createBucket(BUCKET);
  emulator = await startBigQueryEmulator({ gcs: store });
  bigquery = new BigQuery({
    apiEndpoint: emulator.url,
    projectId: PROJECT,
    authClient: new PassThroughClient(),
  });
  await bigquery.createDataset('ds');
});

afterAll(async () => {
  await emulator?.close();
});

describe('GoogleSQL rewrite', () => {
  it('translates literals, casts and date/time functions', async () => {
    const row = await one(`SELECT
        0.1 + 0.2 AS float_sum, CAST(1.25 AS NUMERIC) AS numeric_value, r'a\\b' AS raw, """tri"ple""" AS triple,
        TIMESTAMP_TRUNC(TIMESTAMP '2024-03-05 10:11:12+00', DAY) AS truncated,
        DATE_TRUNC(DATE '2024-03-05', MONTH) AS month_start,
        TIMESTAMP_ADD(TIMESTAMP '2024-01-01 00:00:00+00', INTERVAL 2 HOUR) AS plus_two,
        DATE_ADD(DATE '2024-01-31', INTERVAL 1 DAY) AS next_day,
        TIMESTAMP_DIFF(TIMESTAMP '2024-01-01 05:30:00+00', TIMESTAMP '2024-01-01 00:00:00+00', HOUR) AS hours,
        DATE_DIFF(DATE '2024-03-01', DATE '2024-01-01', DAY) AS days,
        FORMAT_TIMESTAMP('%Y/%m/%d', TIMESTAMP '2024-01-02 00:00:00+00') AS formatted,
        UNIX_MICROS(TIMESTAMP '2024-01-01 00:00:00+00') AS micros,
        TIMESTAMP('2024-01-01 10:00:00', 'America/New_York') AS new_york,
        SAFE_DIVIDE(1, 0) AS safe, 3 IN UNNEST([1, 2, 3]) AS found, IF(TRUE, 'y', 'n') AS chosen,
        CURRENT_TIMESTAMP() > TIMESTAMP '2020-01-01 00:00:00+00' AS now_is_later`);
    expect(row).toMatchObject({
      float_sum: 0.30000000000000004,
      raw: 'a\\b',
      triple: 'tri"ple',
      hours: 5,
      days: 60,
      formatted: '2024/01/02',
      micros: 1704067200000000,
      safe: null,
      found: true,
      chosen: 'y',
      now_is_later: true,
    });
    expect(String(row.numeric_value)).toBe('1.25');
    expect((row.truncated as BigQueryTimestamp).value).toBe('2024-03-05T00:00:00.000Z');
    expect((row.month_start as { value: string }).value).toBe('2024-03-01');
    expect((row.plus_two as BigQueryTimestamp).value).toBe('2024-01-01T02:00:00.000Z');
    expect((row.next_day as { value: string }).value).toBe('2024-02-01');
    expect((row.new_york as BigQueryTimestamp).value).toBe('2024-01-01T15:00:00.000Z');
  });

  it('builds structs and arrays and names anonymous columns f<n>_', async () => {
    const row = await one(
      `SELECT STRUCT(1 AS a, 'x' AS b) AS s, ARRAY<INT64>[1, 2] AS xs, [STRUCT(1 AS a)] AS list, COUNT(*), 1 + 1`,
    );
    expect(row).toEqual({ s: { a: 1, b: 'x' }, xs: [1, 2], list: [{ a: 1 }], f3_: 1, f4_: 2 });
    const duplicate = await bigquery.query('SELECT 1 AS a, 2 AS a').then(
      () => undefined,
      (error: Error) => error,
    );
    expect(duplicate?.message).toContain('Duplicate column names');
  });

  it('records PARTITION BY / CLUSTER BY from DDL and accepts SELECT * EXCEPT', async () => {
    await bigquery.query(`CREATE TABLE ds.ddl_events (id INT64 NOT NULL OPTIONS(description = "key"), day DATE, note STRING)
      PARTITION BY day CLUSTER BY id OPTIONS(description = "made by DDL")`);
    const [metadata] = await bigquery.dataset('ds').table('ddl_events').getMetadata();
    expect(metadata.timePartitioning).toEqual({ type: 'DAY', field: 'day' });
    expect(metadata.clustering).toEqual({ fields: ['id'] });
    await bigquery.query(
      `INSERT ds.ddl_events (id, day, note) VALUES (1, '2024-01-01', 'a'), (2, '2024-01-02', 'b')`,
    );
    const [rows] = await bigquery.query('SELECT * EXCEPT (note) FROM ds.ddl_events ORDER BY id');
    expect(Object.keys(rows[0] as object)).toEqual(['id', 'day']);

    // A DATE-partitioned table through a decorator.
    await loadLines('ddl_events$20240101', 'ddl/jan1.jsonl', [{ id: 3, day: '2024-01-01' }], {
      writeDisposition: 'WRITE_TRUNCATE',
    });
    const [ids] = await bigquery.query('SELECT id FROM ds.ddl_events ORDER BY id');
    expect(ids).toEqual([{ id: 2 }, { id: 3 }]);
  });

  it('runs scripts, rolling back an open transaction when a statement fails', async () => {
    await bigquery.query('CREATE TABLE ds.ledger (id INT64)');
    const [count] = await bigquery.query(
      'BEGIN TRANSACTION; INSERT INTO ds.ledger (id) VALUES (1), (2); COMMIT TRANSACTION; SELECT COUNT(*) AS n FROM ds.ledger',
    );
    expect(count).toEqual([{ n: 2 }]);
    const failed = await bigquery
      .query(
        'BEGIN TRANSACTION; INSERT INTO ds.ledger (id) VALUES (3); SELECT * FROM ds.missing; COMMIT TRANSACTION',
      )
      .then(
        () => undefined,
        (error: { code?: number }) => error,
      );
    expect(failed?.code).toBe(404);
    expect(await one('SELECT COUNT(*) AS n FROM ds.ledger')).toEqual({ n: 2 });
  });

  it('honours defaultDataset, positional parameters and array parameters', async () => {
    const [rows] = await bigquery.query({
      query: 'SELECT COUNT(*) AS n FROM ledger WHERE id IN UNNEST(@ids)',
      params: { ids: [1, 5] },
      defaultDataset: { datasetId: 'ds' },
    } as Parameters<BigQuery['query']>[0]);
    expect(rows).toEqual([{ n: 1 }]);
    const [positional] = await bigquery.query({ query: 'SELECT ? AS a, ? AS b', params: [7, 'seven'] });
    expect(positional).toEqual([{ a: 7, b: 'seven' }]);
  });
});

describe('nested and exact types through a load', () => {
  it('loads RECORD, REPEATED, JSON, NUMERIC, BYTES and TIME columns and exact int64 values', async () => {
    await bigquery.dataset('ds').createTable('nested', {
      schema: {
        fields: [
          { name: 'id', type: 'INT64', mode: 'REQUIRED' },
          { name: 'tags', type: 'STRING', mode: 'REPEATED' },
          {
            name: 'rec',
            type: 'RECORD',
            fields: [
              { name: 'at', type: 'TIMESTAMP' },
              { name: 'points', type: 'RECORD', mode: 'REPEATED', fields: [{ name: 'x', type: 'FLOAT' }] },
            ],
          },
          { name: 'doc', type: 'JSON' },
          { name: 'amount', type: 'NUMERIC' },
          { name: 'blob', type: 'BYTES' },
          { name: 'at_time', type: 'TIME' },
        ],
      },
    });
    await loadLines('nested', 'nested/a.jsonl', [
      {
        id: 1,
        tags: ['a', 'b'],
        rec: { at: '2024-01-01T00:00:00Z', points: [{ x: 1.5 }, { x: 2 }] },
        doc: { k: [1, 2] },
        amount: '12345678901234567890.123456789',
        blob: 'aGk=',
        at_time: '01:02:03.5',
      },
      { id: 2, tags: null },
      '{"id": 9007199254740993}',
    ]);
    const [rows] = await bigquery.dataset('ds').table('nested').getRows();
    expect(rows[0]).toMatchObject({
      id: 1,
      tags: ['a', 'b'],
      rec: { points: [{ x: 1.5 }, { x: 2 }] },
      doc: '{"k":[1,2]}',
      blob: Buffer.from('hi'),
      at_time: { value: '01:02:03.500000' },
    });
    expect(String((rows[0] as { amount: unknown }).amount)).toBe('12345678901234567890.123456789');
    expect(rows[1]).toMatchObject({ id: 2, tags: [], rec: null });
    // Integers beyond 2^53 are kept exactly (the client reads them as strings only with wrapIntegers).
    const [exact] = await bigquery.query({
      query: 'SELECT CAST(id AS STRING) AS id FROM ds.nested WHERE id > 2',
    });
    expect(exact).toEqual([{ id: '9007199254740993' }]);
  });

  it('writes TIMESTAMP cells as ISO strings when the client asks for ISO8601_STRING', async () => {
    const [rows] = await bigquery.query("SELECT TIMESTAMP '2024-01-01 00:00:00.5+00' AS t", {
      'formatOptions.timestampOutputFormat': 'ISO8601_STRING',
    } as never);
    expect((rows[0] as { t: BigQueryTimestamp }).t.value).toBe('2024-01-01T00:00:00.500Z');
  });
});
