import type { BigQuery, BigQueryTimestamp } from '@google-cloud/bigquery';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BigQueryEmulator } from '../src/bigquery/server.ts';
import type { MemoryObjectStore } from '../src/gcs/store.ts';
import { startBigQueryUnderTest } from './bigquery-helpers.ts';

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
  ({ emulator, bigquery, store } = await startBigQueryUnderTest({
    projectId: PROJECT,
    bucket: BUCKET,
    dataset: 'ds',
  }));
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

  it("runs each statement of a script as a child job holding that statement's DML counts", async () => {
    await bigquery.query('CREATE TABLE ds.script_target (id INT64, note STRING)');
    await bigquery.query(`INSERT ds.script_target (id, note) VALUES (1, 'old')`);
    const [script] = await bigquery.createJob({
      configuration: {
        query: {
          query: [
            `MERGE ds.script_target t USING (SELECT 1 AS id, 'new' AS note UNION ALL SELECT 2, 'new') s ON t.id = s.id`,
            'WHEN MATCHED THEN UPDATE SET note = s.note WHEN NOT MATCHED THEN INSERT (id, note) VALUES (s.id, s.note);',
            `INSERT ds.script_target (id, note) VALUES (3, 'added')`,
          ].join('\n'),
          useLegacySql: false,
        },
      },
    });
    await script.promise();
    const [metadata] = await script.getMetadata();
    // The script's own job: SCRIPT, how many statements ran, and no DML counts of its own (they are the children's).
    expect(metadata.statistics.query.statementType).toBe('SCRIPT');
    expect(metadata.statistics.numChildJobs).toBe('2');
    expect(metadata.statistics.query.dmlStats).toBeUndefined();

    const [children] = await bigquery.getJobs({ parentJobId: script.id!, projection: 'full' });
    const byStatement = children.map((child) => ({
      type: child.metadata.statistics.query.statementType,
      dml: child.metadata.statistics.query.dmlStats,
      parent: child.metadata.statistics.parentJobId,
    }));
    expect(byStatement).toEqual([
      {
        type: 'INSERT',
        dml: { insertedRowCount: '1', updatedRowCount: '0', deletedRowCount: '0' },
        parent: script.id,
      },
      {
        type: 'MERGE',
        dml: { insertedRowCount: '1', updatedRowCount: '1', deletedRowCount: '0' },
        parent: script.id,
      },
    ]);
    // A script that fails half-way: the statements before the failing one stay done, and are listed.
    const [broken] = await bigquery.createJob({
      configuration: {
        query: {
          query: `INSERT ds.script_target (id, note) VALUES (4, 'kept'); SELECT * FROM ds.no_such_table`,
          useLegacySql: false,
        },
      },
    });
    await expect(broken.promise()).rejects.toThrow(/no_such_table/);
    const [brokenChildren] = await bigquery.getJobs({ parentJobId: broken.id!, projection: 'full' });
    expect(
      brokenChildren
        .map((child) => ({
          type: child.metadata.statistics.query.statementType,
          failed: Boolean(child.metadata.status.errorResult),
        }))
        .reverse(),
    ).toEqual([
      { type: 'INSERT', failed: false },
      { type: 'SELECT', failed: true },
    ]);
    expect(await one('SELECT note FROM ds.script_target WHERE id = 4')).toEqual({ note: 'kept' });

    // Listing without a parent shows top-level jobs only, as BigQuery does.
    const [topLevel] = await bigquery.getJobs();
    expect(topLevel.some((job) => job.id?.startsWith('script_job_'))).toBe(false);
    expect(topLevel.some((job) => job.id === script.id)).toBe(true);
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

describe('analyst SQL: aggregates, windows, arrays, time and regular expressions', () => {
  // Six queries of one instance: runtimes 1..5 seconds plus one failed query with no runtime.
  beforeAll(async () => {
    await bigquery.query(`CREATE TABLE ds.queries (id INT64, instance STRING, explore STRING, runtime FLOAT64,
      status STRING, created TIMESTAMP, accessed DATETIME)`);
    await bigquery.query(`INSERT ds.queries (id, instance, explore, runtime, status, created, accessed) VALUES
      (1, 'eu', 'orders', 1.0, 'complete', TIMESTAMP '2024-01-07 10:00:00+00', DATETIME '2024-01-07 10:00:00'),
      (2, 'eu', 'orders', 2.0, 'complete', TIMESTAMP '2024-01-07 11:00:00+00', DATETIME '2024-01-08 10:00:00'),
      (3, 'eu', 'users', 3.0, 'complete', TIMESTAMP '2024-01-08 09:30:00+00', DATETIME '2024-01-09 10:00:00'),
      (4, 'eu', 'orders', 4.0, 'complete', TIMESTAMP '2024-01-08 12:00:00+00', NULL),
      (5, 'us', 'users', 5.0, 'complete', TIMESTAMP '2024-01-09 00:00:00+00', NULL),
      (6, 'us', 'users', NULL, 'error', TIMESTAMP '2024-01-09 01:00:00+00', NULL)`);
  });

  it('APPROX_QUANTILES(x, n)[OFFSET(k)] gives the quantiles of the non-NULL values', async () => {
    const row = await one(`SELECT APPROX_QUANTILES(runtime, 4) AS quartiles,
        APPROX_QUANTILES(runtime, 100)[OFFSET(50)] AS p50, APPROX_QUANTILES(runtime, 100)[OFFSET(100)] AS p100,
        APPROX_QUANTILES(runtime, 2 IGNORE NULLS)[ORDINAL(1)] AS minimum,
        [10, 20, 30][SAFE_OFFSET(7)] AS out_of_range
      FROM ds.queries`);
    expect(row).toEqual({ quartiles: [1, 2, 3, 4, 5], p50: 3, p100: 5, minimum: 1, out_of_range: null });
    const none = await one(
      'SELECT APPROX_QUANTILES(runtime, 10)[OFFSET(5)] AS p FROM ds.queries WHERE id < 0',
    );
    expect(none).toEqual({ p: null });
  });

  it('ARRAY_AGG and STRING_AGG take DISTINCT, IGNORE NULLS, ORDER BY and LIMIT; STRUCT fields take column names', async () => {
    const [rows] = await bigquery.query(`SELECT instance,
        ARRAY_AGG(id ORDER BY runtime DESC LIMIT 2) AS slowest,
        ARRAY_AGG(runtime IGNORE NULLS ORDER BY id) AS runtimes,
        ARRAY_AGG(DISTINCT explore ORDER BY explore) AS explores,
        ARRAY_AGG(STRUCT(id, explore) ORDER BY id LIMIT 1)[OFFSET(0)] AS first,
        STRING_AGG(explore, '|' ORDER BY id DESC LIMIT 2) AS recent, STRING_AGG(status ORDER BY id) AS statuses
      FROM ds.queries GROUP BY instance ORDER BY instance`);
    expect(rows).toEqual([
      {
        instance: 'eu',
        slowest: [4, 3],
        runtimes: [1, 2, 3, 4],
        explores: ['orders', 'users'],
        first: { id: 1, explore: 'orders' },
        recent: 'orders|users',
        statuses: 'complete,complete,complete,complete',
      },
      {
        instance: 'us',
        slowest: [5, 6],
        runtimes: [5],
        explores: ['users'],
        first: { id: 5, explore: 'users' },
        recent: 'users|users',
        statuses: 'complete,error',
      },
    ]);
  });

  it('COUNTIF, SAFE_DIVIDE, window functions and QUALIFY', async () => {
    const [rows] = await bigquery.query(`SELECT instance, id,
        COUNTIF(status = 'error') OVER (PARTITION BY instance) AS errors,
        SAFE_DIVIDE(COUNTIF(status = 'error') OVER (PARTITION BY instance), COUNT(*) OVER (PARTITION BY instance)) AS error_rate,
        SUM(runtime) OVER (PARTITION BY instance ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running,
        LAG(id) OVER (PARTITION BY instance ORDER BY id) AS previous
      FROM ds.queries
      WHERE TRUE
      QUALIFY ROW_NUMBER() OVER (PARTITION BY instance ORDER BY created DESC) = 1
      ORDER BY instance`);
    expect(rows).toEqual([
      { instance: 'eu', id: 4, errors: 0, error_rate: 0, running: 10, previous: 3 },
      { instance: 'us', id: 6, errors: 1, error_rate: 0.5, running: 5, previous: 5 },
    ]);
    expect(
      await one(
        'SELECT SAFE_DIVIDE(COUNTIF(id > 100), COUNT(*)) AS r, SAFE_DIVIDE(1, 0) AS z FROM ds.queries',
      ),
    ).toEqual({
      r: 0,
      z: null,
    });
  });

  it('UNNEST in FROM: aliases, struct elements, WITH OFFSET and references to earlier tables', async () => {
    const [values] = await bigquery.query(
      `SELECT v, o FROM UNNEST(['x', 'y']) AS v WITH OFFSET AS o ORDER BY o`,
    );
    expect(values).toEqual([
      { v: 'x', o: 0 },
      { v: 'y', o: 1 },
    ]);
    const [fields] = await bigquery.query(
      `SELECT s.a, b FROM UNNEST([STRUCT(1 AS a, 'p' AS b), STRUCT(2 AS a, 'q' AS b)]) AS s
         CROSS JOIN UNNEST([STRUCT('p' AS b)]) ORDER BY s.a`,
    );
    expect(fields).toEqual([
      { a: 1, b: 'p' },
      { a: 2, b: 'p' },
    ]);
    const [lateral] = await bigquery.query(
      `SELECT q.id, part FROM ds.queries AS q, UNNEST(SPLIT(q.explore, 'e')) AS part WHERE q.id = 3 ORDER BY part`,
    );
    expect(lateral).toEqual([
      { id: 3, part: 'rs' },
      { id: 3, part: 'us' },
    ]);
  });

  it('DATE, DATETIME and TIMESTAMP _ADD, _SUB, _DIFF and _TRUNC (weeks start on Sunday), EXTRACT, FORMAT_TIMESTAMP', async () => {
    const row = await one(`SELECT
        DATETIME_DIFF(DATETIME '2024-01-10 00:00:00', DATETIME '2024-01-07 10:00:00', DAY) AS datetime_days,
        DATETIME_ADD(DATETIME '2024-01-31 10:00:00', INTERVAL 1 DAY) AS datetime_plus,
        DATETIME_SUB(DATETIME '2024-01-01 00:30:00', INTERVAL 1 HOUR) AS datetime_minus,
        DATETIME_TRUNC(DATETIME '2024-01-10 10:11:12', MONTH) AS datetime_month,
        TIMESTAMP_SUB(TIMESTAMP '2024-03-01 00:00:00+00', INTERVAL 1 DAY) AS leap_day,
        TIMESTAMP_DIFF(TIMESTAMP '2024-01-02 00:00:00+00', TIMESTAMP '2024-01-01 00:00:01+00', DAY) AS whole_days,
        DATE_SUB(DATE '2024-03-31', INTERVAL 1 MONTH) AS month_back,
        DATE_TRUNC(DATE '2024-01-13', WEEK) AS sunday_week, DATE_TRUNC(DATE '2024-01-13', WEEK(MONDAY)) AS monday_week,
        DATE_TRUNC(DATE '2024-01-13', ISOWEEK) AS iso_week,
        TIMESTAMP_TRUNC(TIMESTAMP '2024-01-02 03:00:00+00', DAY, 'America/New_York') AS new_york_day,
        EXTRACT(DAYOFWEEK FROM DATE '2024-01-07') AS sunday, EXTRACT(WEEK FROM DATE '2024-01-07') AS week,
        EXTRACT(HOUR FROM TIMESTAMP '2024-01-02 03:00:00+00' AT TIME ZONE 'America/New_York') AS new_york_hour,
        EXTRACT(MILLISECOND FROM TIMESTAMP '2024-01-01 00:00:05.123+00') AS millis,
        EXTRACT(DATE FROM TIMESTAMP '2024-01-01 23:00:00+00') AS day,
        FORMAT_TIMESTAMP('%F %T', TIMESTAMP '2024-01-02 03:04:05+00') AS iso,
        FORMAT_TIMESTAMP('%Y-%m-%d %H:%M:%E3S', TIMESTAMP '2024-01-02 03:04:05.25+00') AS millis_text,
        FORMAT_TIMESTAMP('%F', TIMESTAMP '2024-01-02 03:00:00+00', 'America/New_York') AS new_york_date`);
    expect(row).toMatchObject({
      datetime_days: 3,
      whole_days: 0,
      sunday: 1,
      week: 1,
      new_york_hour: 22,
      millis: 123,
      iso: '2024-01-02 03:04:05',
      millis_text: '2024-01-02 03:04:05.250',
      new_york_date: '2024-01-01',
    });
    const value = (key: string) => (row[key] as { value: string }).value;
    expect(value('datetime_plus')).toBe('2024-02-01T10:00:00');
    expect(value('datetime_minus')).toBe('2023-12-31T23:30:00');
    expect(value('datetime_month')).toBe('2024-01-01T00:00:00');
    expect(value('leap_day')).toBe('2024-02-29T00:00:00.000Z');
    expect(value('month_back')).toBe('2024-02-29');
    expect(value('sunday_week')).toBe('2024-01-07');
    expect(value('monday_week')).toBe('2024-01-08');
    expect(value('iso_week')).toBe('2024-01-08');
    expect(value('new_york_day')).toBe('2024-01-01T05:00:00.000Z');
    expect(value('day')).toBe('2024-01-01');
  });

  it('REGEXP_CONTAINS, REGEXP_EXTRACT (the capture group), REGEXP_EXTRACT_ALL and REGEXP_REPLACE (every match)', async () => {
    const row = await one(`SELECT REGEXP_CONTAINS('dashboard-42', r'^dash') AS contains,
        REGEXP_CONTAINS('dashboard-42', r'^look') AS not_contains,
        REGEXP_EXTRACT('dashboard-42', r'-(\\d+)$') AS group_only, REGEXP_EXTRACT('a1b22', r'\\d+') AS whole,
        REGEXP_EXTRACT('none', r'\\d') AS missing, REGEXP_EXTRACT_ALL('a1b22c333', r'[a-z](\\d+)') AS all_groups,
        REGEXP_REPLACE('a1b22', r'\\d', '#') AS replaced, REGEXP_REPLACE('2024-01-07', r'(\\d+)-(\\d+)-(\\d+)', r'\\3/\\2/\\1') AS swapped`);
    expect(row).toEqual({
      contains: true,
      not_contains: false,
      group_only: '42',
      whole: '1',
      missing: null,
      all_groups: ['1', '22', '333'],
      replaced: 'a#b##',
      swapped: '07/01/2024',
    });
    const twoGroups = await bigquery.query(`SELECT REGEXP_EXTRACT('ab', r'(a)(b)') AS x`).then(
      () => undefined,
      (error: Error) => error,
    );
    expect(twoGroups?.message).toContain('must not have more than 1 capturing group');
  });

  it('CREATE OR REPLACE VIEW, querying it by every path form, replacing it and dropping it', async () => {
    await bigquery.query(`CREATE OR REPLACE VIEW \`${PROJECT}.ds.per_instance\`
        OPTIONS (description = "queries per instance") AS
      SELECT instance, COUNT(*) AS queries, COUNTIF(status = 'error') AS errors FROM \`${PROJECT}.ds.queries\` GROUP BY instance`);
    const [rows] = await bigquery.query(`SELECT * FROM \`${PROJECT}.ds.per_instance\` ORDER BY instance`);
    expect(rows).toEqual([
      { instance: 'eu', queries: 4, errors: 0 },
      { instance: 'us', queries: 2, errors: 1 },
    ]);
    await bigquery.query(
      `CREATE OR REPLACE VIEW ds.per_instance AS SELECT instance FROM ds.queries GROUP BY instance`,
    );
    const [replaced] = await bigquery.query({
      query: 'SELECT * FROM per_instance ORDER BY instance',
      defaultDataset: { datasetId: 'ds' },
    } as Parameters<BigQuery['query']>[0]);
    expect(replaced).toEqual([{ instance: 'eu' }, { instance: 'us' }]);
    await bigquery.query('DROP VIEW ds.per_instance');
    const gone = await bigquery.query('SELECT * FROM ds.per_instance').then(
      () => undefined,
      (error: { code?: number }) => error,
    );
    expect(gone?.code).toBe(404);
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

describe("query errors in BigQuery's words", () => {
  it.each([
    ['an unknown column', 'SELECT nope FROM UNNEST([1]) AS x', 'Unrecognized name: nope'],
    ['an unknown function', 'SELECT unknown_fn(1)', 'Function not found: unknown_fn'],
    [
      'an ungrouped column',
      'SELECT x, y FROM UNNEST([STRUCT(1 AS x, 2 AS y)]) GROUP BY x',
      'SELECT list expression references column y which is neither grouped nor aggregated',
    ],
    ['a syntax error', 'SELEC 1', 'Syntax error: Unexpected'],
  ])('%s', async (_name, sql, message) => {
    const error = await bigquery.query(sql).then(
      () => undefined,
      (e: unknown) => e as { message: string; errors?: { reason: string }[] },
    );
    expect(error?.message).toContain(message);
    expect(error?.errors?.[0]?.reason).toBe('invalidQuery');
  });
});
