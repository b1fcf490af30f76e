import { gzipSync } from 'node:zlib';
import {
  type BigQuery,
  BigQueryDate,
  BigQueryDatetime,
  BigQueryTimestamp,
  type Job,
} from '@google-cloud/bigquery';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BigQueryEmulator } from '../src/bigquery/server.ts';
import type { MemoryObjectStore } from '../src/gcs/store.ts';
import { startBigQueryUnderTest } from './bigquery-helpers.ts';

// The BigQuery emulator driven by the real @google-cloud/bigquery client, configured exactly as production points
// it at an emulator (apiEndpoint + PassThroughClient; no BIGQUERY_EMULATOR_HOST, no mocks). Load sources live in an
// in-memory GCS object store filled directly.

const PROJECT = 'local-project';
const BUCKET = 'lsa-exports';
const DATASET = 'activity';

const EVENT_SCHEMA = {
  fields: [
    { name: 'id', type: 'INTEGER', mode: 'REQUIRED' },
    { name: 'name', type: 'STRING' },
    { name: 'created_at', type: 'TIMESTAMP' },
    { name: 'happened_on', type: 'DATE' },
    { name: 'local_time', type: 'DATETIME' },
    { name: 'active', type: 'BOOLEAN' },
    { name: 'score', type: 'FLOAT' },
  ],
};

const GOOD_ROWS = [
  {
    id: 1,
    name: 'first',
    created_at: '2024-01-02T03:04:05.123456Z',
    happened_on: '2024-01-02',
    local_time: '2024-01-02 03:04:05',
    active: true,
    score: 1.5,
  },
  {
    id: '2',
    name: 'second',
    created_at: '2024-01-02 10:00:00 UTC',
    happened_on: '2024-01-03',
    local_time: '2024-01-03T00:00:00.250000',
    active: 'FALSE',
    score: '2.25',
  },
  { id: 3, name: null, created_at: 1704067200, active: null },
];

interface ApiErrorLike {
  code?: number;
  message: string;
  errors?: { reason?: string; message?: string }[];
}

let emulator: BigQueryEmulator;
let bigquery: BigQuery;
let store: MemoryObjectStore;
let sequence = 0;

const uniqueId = (label: string) => `${label}_${Date.now()}_${++sequence}`;

async function rejectionOf(promise: Promise<unknown>): Promise<ApiErrorLike> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error as ApiErrorLike,
  );
}

function putNdjson(name: string, rows: unknown[] | string, { gzip = false } = {}): string {
  const text = typeof rows === 'string' ? rows : `${rows.map((row) => JSON.stringify(row)).join('\n')}\n`;
  const bytes = gzip ? gzipSync(text) : Buffer.from(text);
  store.putObject({
    bucket: BUCKET,
    name,
    bytes,
    contentType: 'application/x-ndjson',
    ...(gzip ? { contentEncoding: 'gzip' } : {}),
  });
  return `gs://${BUCKET}/${name}`;
}

function loadConfig(tableId: string, sourceUris: string[], extra: Record<string, unknown> = {}) {
  return {
    sourceUris,
    sourceFormat: 'NEWLINE_DELIMITED_JSON',
    destinationTable: { projectId: PROJECT, datasetId: DATASET, tableId },
    ...extra,
  };
}

async function startLoad(load: Record<string, unknown>, jobId = uniqueId('load')): Promise<Job> {
  const [job] = await bigquery.createJob({ configuration: { load }, jobId });
  return job;
}

async function load(load: Record<string, unknown>, jobId?: string): Promise<Job> {
  const job = await startLoad(load, jobId);
  await job.promise();
  return job;
}

async function createEventsTable(tableId: string, options: Record<string, unknown> = {}) {
  await bigquery.dataset(DATASET).createTable(tableId, { schema: EVENT_SCHEMA, ...options });
}

async function countRows(tableId: string): Promise<number> {
  const [rows] = await bigquery.query(`SELECT COUNT(*) AS n FROM \`${PROJECT}.${DATASET}.${tableId}\``);
  return (rows[0] as { n: number }).n;
}

async function runQueryJob(query: string, jobId = uniqueId('query')): Promise<Job> {
  const [job] = await bigquery.createQueryJob({ query, jobId });
  await job.getQueryResults();
  return job;
}

beforeAll(async () => {
  ({ emulator, bigquery, store } = await startBigQueryUnderTest({
    projectId: PROJECT,
    bucket: BUCKET,
    dataset: DATASET,
    location: 'US',
  }));
});

afterAll(async () => {
  await emulator?.close();
});

describe('datasets and tables', () => {
  it('creates datasets and refuses duplicates with 409 duplicate', async () => {
    const [exists] = await bigquery.dataset(DATASET).exists();
    expect(exists).toBe(true);
    const error = await rejectionOf(bigquery.createDataset(DATASET));
    expect(error.code).toBe(409);
    expect(error.errors?.[0]?.reason).toBe('duplicate');
    expect(error.message).toBe(`Already Exists: Dataset ${PROJECT}:${DATASET}`);

    await bigquery.createDataset('scratch');
    await bigquery.dataset('scratch').createTable('t', { schema: 'id:integer' });
    const inUse = await rejectionOf(bigquery.dataset('scratch').delete());
    expect(inUse.errors?.[0]?.reason).toBe('resourceInUse');
    await bigquery.dataset('scratch').delete({ force: true });
    expect((await bigquery.dataset('scratch').exists())[0]).toBe(false);
  });

  it('creates a partitioned, clustered table and reports its schema with modes and numRows', async () => {
    await createEventsTable('meta_events', {
      timePartitioning: { type: 'DAY', field: 'created_at' },
      clustering: { fields: ['id'] },
    });
    const [metadata] = await bigquery.dataset(DATASET).table('meta_events').getMetadata();
    expect(metadata.schema.fields[0]).toMatchObject({ name: 'id', type: 'INTEGER', mode: 'REQUIRED' });
    expect(metadata.schema.fields[2]).toMatchObject({
      name: 'created_at',
      type: 'TIMESTAMP',
      mode: 'NULLABLE',
    });
    expect(metadata.timePartitioning).toEqual({ type: 'DAY', field: 'created_at' });
    expect(metadata.clustering).toEqual({ fields: ['id'] });
    expect(metadata.numRows).toBe('0');
    const [rows] = await bigquery.dataset(DATASET).table('meta_events').getRows();
    expect(rows).toEqual([]);

    const duplicate = await rejectionOf(createEventsTable('meta_events'));
    expect(duplicate.code).toBe(409);
    expect(duplicate.errors?.[0]?.reason).toBe('duplicate');
    const missingDataset = await rejectionOf(
      bigquery.dataset('no_such_dataset').createTable('t', { schema: 'id:integer' }),
    );
    expect(missingDataset.code).toBe(404);

    const [tables] = await bigquery.dataset(DATASET).getTables();
    expect(tables.map((t) => t.id)).toContain('meta_events');
    await bigquery.dataset(DATASET).table('meta_events').delete();
    expect((await bigquery.dataset(DATASET).table('meta_events').exists())[0]).toBe(false);
  });
});

describe('load jobs', () => {
  it('loads NDJSON and reads it back with the right JS types through getRows and query', async () => {
    await createEventsTable('events');
    const uri = putNdjson('events/part-0.jsonl', GOOD_ROWS);
    const [job] = await bigquery.createJob({
      configuration: { load: loadConfig('events', [uri]) },
      jobId: uniqueId('load'),
    });
    expect(job.metadata.status).toEqual({ state: 'RUNNING' });
    await job.promise();
    const [metadata] = await job.getMetadata();
    expect(metadata.status.state).toBe('DONE');
    expect(metadata.statistics.load).toMatchObject({ outputRows: '3', badRecords: '0', inputFiles: '1' });
    expect(Number(metadata.statistics.load.inputFileBytes)).toBeGreaterThan(0);
    expect(Number(metadata.statistics.endTime)).toBeGreaterThanOrEqual(
      Number(metadata.statistics.creationTime),
    );

    const [rows] = await bigquery.dataset(DATASET).table('events').getRows();
    expect(rows).toHaveLength(3);
    const first = rows[0] as Record<string, unknown>;
    expect(first.id).toBe(1);
    expect(first.name).toBe('first');
    expect(first.created_at).toBeInstanceOf(BigQueryTimestamp);
    expect((first.created_at as BigQueryTimestamp).value).toBe('2024-01-02T03:04:05.123456000Z');
    expect(first.happened_on).toEqual(new BigQueryDate('2024-01-02'));
    expect(first.local_time).toEqual(new BigQueryDatetime('2024-01-02T03:04:05'));
    expect(first.active).toBe(true);
    expect(first.score).toBe(1.5);
    expect(rows[1]).toMatchObject({ id: 2, active: false, score: 2.25 });
    expect((rows[1] as { local_time: BigQueryDatetime }).local_time.value).toBe('2024-01-03T00:00:00.250000');
    expect((rows[1] as { created_at: BigQueryTimestamp }).created_at.value).toBe('2024-01-02T10:00:00.000Z');
    expect(rows[2]).toMatchObject({ id: 3, name: null, active: null, happened_on: null });
    expect((rows[2] as { created_at: BigQueryTimestamp }).created_at.value).toBe('2024-01-01T00:00:00.000Z');

    const [queried] = await bigquery.query(
      `SELECT id, created_at, active, score, happened_on FROM ${DATASET}.events WHERE active IS NOT NULL ORDER BY id`,
    );
    expect(queried).toHaveLength(2);
    expect(queried[0]).toMatchObject({ id: 1, active: true, score: 1.5 });
    expect(queried[0].created_at.value).toBe('2024-01-02T03:04:05.123456000Z');
    expect(queried[1].happened_on.value).toBe('2024-01-03');
    const [table] = await bigquery.dataset(DATASET).table('events').getMetadata();
    expect(table.numRows).toBe('3');
  });

  it('reads gzip sources (by contentEncoding and by magic bytes) through one wildcard', async () => {
    putNdjson('gz/part-0.jsonl.gz', [GOOD_ROWS[0], GOOD_ROWS[1]], { gzip: true });
    store.putObject({
      bucket: BUCKET,
      name: 'gz/part-1.jsonl.gz',
      bytes: gzipSync(`${JSON.stringify({ id: 7 })}\n${JSON.stringify({ id: 8 })}`),
      contentType: 'application/octet-stream', // no contentEncoding: sniffed from 1f 8b
    });
    const job = await load(
      loadConfig('gz_events', [`gs://${BUCKET}/gz/part-*.jsonl.gz`], { schema: EVENT_SCHEMA }),
    );
    expect(job.metadata.statistics.load).toMatchObject({ inputFiles: '2', outputRows: '4' });
    expect(await countRows('gz_events')).toBe(4);
  });

  const badValueCases: { label: string; row: Record<string, unknown>; expected: RegExp }[] = [
    { label: 'an unknown field', row: { id: 10, extra: 'x' }, expected: /No such field: extra\./ },
    { label: '1.5 in INTEGER', row: { id: 1.5 }, expected: /to integer\. Field: id; Value: 1\.5/ },
    { label: '"abc" in INTEGER', row: { id: 'abc' }, expected: /string_value: "abc".*Field: id; Value: abc/ },
    {
      label: 'a bad TIMESTAMP',
      row: { id: 11, created_at: '2024-13-45 10:00:00' },
      expected: /as a timestamp.*Field: created_at; Value: 2024-13-45 10:00:00/,
    },
    {
      label: 'a DATETIME with a zone',
      row: { id: 12, local_time: '2024-01-02T03:04:05Z' },
      expected: /as a datetime.*Field: local_time; Value: 2024-01-02T03:04:05Z/,
    },
    {
      label: '"yes" in BOOLEAN',
      row: { id: 13, active: 'yes' },
      expected: /to boolean\. Field: active; Value: yes/,
    },
    {
      label: 'null in a REQUIRED field',
      row: { id: null, name: 'x' },
      expected: /Only optional fields can be set to NULL\. Field: id/,
    },
    {
      label: 'a number in STRING',
      row: { id: 14, name: 42 },
      expected: /to string\. Field: name; Value: 42/,
    },
    {
      label: 'an object in a scalar field',
      row: { id: 15, name: { a: 1 } },
      expected: /non-record field: name/,
    },
  ];

  it.each(badValueCases)(
    'fails the job on $label, naming field and value, and changes nothing',
    async ({ row, expected }) => {
      const tableId = uniqueId('bad');
      await createEventsTable(tableId);
      await load(loadConfig(tableId, [putNdjson(`${tableId}/seed.jsonl`, [{ id: 100 }])]));
      const goodLine = JSON.stringify({ id: 101, name: 'fine' });
      const uri = putNdjson(`${tableId}/bad.jsonl`, `${goodLine}\n${JSON.stringify(row)}\n`);
      const job = await startLoad(loadConfig(tableId, [uri]));
      const error = await rejectionOf(job.promise());
      expect(error.code).toBeUndefined(); // a failed job, not an HTTP error
      expect(error.message).toMatch(expected);
      const [metadata] = await job.getMetadata();
      expect(metadata.status.state).toBe('DONE');
      expect(metadata.status.errorResult).toMatchObject({ reason: 'invalid', location: uri });
      expect(metadata.status.errorResult.message).toMatch(/too many errors, giving up\. Rows: 2; errors: 1/);
      const rowError = metadata.status.errors[1];
      expect(rowError.message).toMatch(
        new RegExp(
          `^Error while reading data, error message: JSON parsing error in row starting at position ${goodLine.length + 1}: `,
        ),
      );
      expect(rowError.message).toMatch(expected);
      expect(await countRows(tableId)).toBe(1);
    },
  );

  it('skips bad rows within maxBadRecords and reports them in status.errors', async () => {
    await createEventsTable('tolerant');
    const uri = putNdjson('tolerant/a.jsonl', [{ id: 1 }, { id: 'nope' }, { id: 3 }]);
    const job = await load(loadConfig('tolerant', [uri], { maxBadRecords: 1 }));
    expect(job.metadata.status.errorResult).toBeUndefined();
    expect(job.metadata.status.errors).toHaveLength(1);
    expect(job.metadata.statistics.load).toMatchObject({ outputRows: '2', badRecords: '1' });
    expect(await countRows('tolerant')).toBe(2);

    const tooMany = putNdjson('tolerant/b.jsonl', [{ id: 'x' }, { id: 'y' }, { id: 5 }]);
    await rejectionOf(load(loadConfig('tolerant', [tooMany], { maxBadRecords: 1 })));
    expect(await countRows('tolerant')).toBe(2);
  });

  it('ignores unknown fields when ignoreUnknownValues is set', async () => {
    await createEventsTable('lenient');
    const uri = putNdjson('lenient/a.jsonl', [{ id: 1, surprise: { deep: true } }]);
    await load(loadConfig('lenient', [uri], { ignoreUnknownValues: true }));
    expect(await countRows('lenient')).toBe(1);
  });

  it('honours WRITE_TRUNCATE, WRITE_EMPTY and CREATE_NEVER', async () => {
    await createEventsTable('dispositions');
    await load(loadConfig('dispositions', [putNdjson('disp/a.jsonl', [{ id: 1 }, { id: 2 }, { id: 3 }])]));
    await load(
      loadConfig('dispositions', [putNdjson('disp/b.jsonl', [{ id: 9 }])], {
        writeDisposition: 'WRITE_TRUNCATE',
      }),
    );
    const [rows] = await bigquery.dataset(DATASET).table('dispositions').getRows();
    expect(rows).toEqual([expect.objectContaining({ id: 9 })]);

    const notEmpty = await rejectionOf(
      load(
        loadConfig('dispositions', [putNdjson('disp/c.jsonl', [{ id: 4 }])], {
          writeDisposition: 'WRITE_EMPTY',
        }),
      ),
    );
    expect(notEmpty.errors?.[0]?.reason).toBe('duplicate');
    expect(await countRows('dispositions')).toBe(1);

    const missing = await rejectionOf(
      load(
        loadConfig('never_created', [putNdjson('disp/d.jsonl', [{ id: 4 }])], {
          createDisposition: 'CREATE_NEVER',
        }),
      ),
    );
    expect(missing.errors?.[0]).toMatchObject({ reason: 'notFound' });
    expect(missing.message).toContain(`Not found: Table ${PROJECT}:${DATASET}.never_created`);
    expect((await bigquery.dataset(DATASET).table('never_created').exists())[0]).toBe(false);
  });

  it('refuses a job schema that does not match the table, a missing source, and non-NDJSON formats', async () => {
    await createEventsTable('strict');
    const uri = putNdjson('strict/a.jsonl', [{ id: 1 }]);
    const mismatch = await rejectionOf(
      load(
        loadConfig('strict', [uri], {
          schema: { fields: [...EVENT_SCHEMA.fields, { name: 'more', type: 'STRING' }] },
        }),
      ),
    );
    expect(mismatch.message).toContain(`Provided Schema does not match Table ${PROJECT}:${DATASET}.strict`);

    const missingUri = `gs://${BUCKET}/strict/absent.jsonl`;
    const missing = await rejectionOf(load(loadConfig('strict', [missingUri])));
    expect(missing.errors?.[0]?.reason).toBe('notFound');
    expect(missing.message).toBe(`Not found: URI ${missingUri}`);

    const csv = await rejectionOf(startLoad({ ...loadConfig('strict', [uri]), sourceFormat: 'CSV' }));
    expect(csv.code).toBe(400);
    expect(csv.message).toContain('only loads sourceFormat NEWLINE_DELIMITED_JSON');
    expect(await countRows('strict')).toBe(0);
  });

  it('replaces only the decorated partition with WRITE_TRUNCATE and refuses rows outside it', async () => {
    await createEventsTable('daily', { timePartitioning: { type: 'DAY', field: 'created_at' } });
    const seed = putNdjson('daily/seed.jsonl', [
      { id: 1, created_at: '2024-01-01T01:00:00Z' },
      { id: 2, created_at: '2024-01-01T23:00:00Z' },
      { id: 3, created_at: '2024-01-02T01:00:00Z' },
      { id: 4, created_at: '2024-01-02T02:00:00Z' },
    ]);
    await load(loadConfig('daily', [seed]));
    const replacement = putNdjson('daily/jan1.jsonl', [{ id: 10, created_at: '2024-01-01T12:00:00Z' }]);
    await load(loadConfig('daily$20240101', [replacement], { writeDisposition: 'WRITE_TRUNCATE' }));
    const [ids] = await bigquery.query(`SELECT id FROM ${DATASET}.daily ORDER BY id`);
    expect(ids.map((r: { id: number }) => r.id)).toEqual([3, 4, 10]);
    const [partition] = await bigquery.dataset(DATASET).table('daily$20240101').getRows();
    expect(partition).toEqual([expect.objectContaining({ id: 10 })]);

    const outside = putNdjson('daily/jan3.jsonl', [{ id: 20, created_at: '2024-01-03T00:00:00Z' }]);
    const error = await rejectionOf(
      load(loadConfig('daily$20240101', [outside], { writeDisposition: 'WRITE_TRUNCATE' })),
    );
    expect(error.message).toContain('destination partition 20240101');
    expect(await countRows('daily')).toBe(3);
  });

  it('answers a reused job id with 409 duplicate and keeps the original job readable', async () => {
    await createEventsTable('idempotent');
    const jobId = uniqueId('once');
    const config = loadConfig('idempotent', [putNdjson('idempotent/a.jsonl', [{ id: 1 }])]);
    await load(config, jobId);
    const error = await rejectionOf(startLoad(config, jobId));
    expect(error.code).toBe(409);
    expect(error.errors?.[0]?.reason).toBe('duplicate');
    expect(error.message).toBe(`Already Exists: Job ${PROJECT}:US.${jobId}`);
    const [metadata] = await bigquery.job(jobId).getMetadata();
    expect(metadata.status.state).toBe('DONE');
    expect(metadata.statistics.load.outputRows).toBe('1');
    expect(await countRows('idempotent')).toBe(1);

    const invalidId = await rejectionOf(startLoad(config, 'not a valid id!'));
    expect(invalidId.code).toBe(400);
    expect(invalidId.errors?.[0]?.reason).toBe('invalid');
  });
});

describe('query jobs', () => {
  it('runs DDL and DML, and lists SQL-made tables with BigQuery types', async () => {
    await bigquery.query(
      `CREATE TABLE \`${PROJECT}.${DATASET}.accounts\` (id INT64 NOT NULL, name STRING, balance NUMERIC, updated_at TIMESTAMP)`,
    );
    const [inserted] = await bigquery.createQueryJob({
      query: `INSERT ${DATASET}.accounts (id, name, balance, updated_at) VALUES
        (1, "one", 1.5, TIMESTAMP '2024-01-01 00:00:00+00'), (2, 'two', 2, CURRENT_TIMESTAMP())`,
    });
    await inserted.getQueryResults();
    const [insertMetadata] = await inserted.getMetadata();
    expect(insertMetadata.statistics.query).toMatchObject({
      statementType: 'INSERT',
      numDmlAffectedRows: '2',
    });

    const [table] = await bigquery.dataset(DATASET).table('accounts').getMetadata();
    expect(
      table.schema.fields.map((f: { name: string; type: string; mode: string }) => [f.name, f.type, f.mode]),
    ).toEqual([
      ['id', 'INTEGER', 'REQUIRED'],
      ['name', 'STRING', 'NULLABLE'],
      ['balance', 'NUMERIC', 'NULLABLE'],
      ['updated_at', 'TIMESTAMP', 'NULLABLE'],
    ]);
    const [rows] = await bigquery.dataset(DATASET).table('accounts').getRows();
    expect(rows[0]).toMatchObject({ id: 1, name: 'one' });
    expect(String((rows[0] as { balance: unknown }).balance)).toBe('1.5');
    expect((rows[0] as { updated_at: BigQueryTimestamp }).updated_at.value).toBe('2024-01-01T00:00:00.000Z');

    await bigquery.query(
      `CREATE TABLE ${DATASET}.accounts_copy AS SELECT id, name FROM ${DATASET}.accounts WHERE id > 1`,
    );
    expect(await countRows('accounts_copy')).toBe(1);
    await bigquery.query(`DELETE ${DATASET}.accounts_copy WHERE TRUE`);
    expect(await countRows('accounts_copy')).toBe(0);
    await bigquery.query(`DROP TABLE IF EXISTS ${DATASET}.accounts_copy`);
    await bigquery.query(`DROP TABLE IF EXISTS ${DATASET}.accounts_copy`);
    expect((await bigquery.dataset(DATASET).table('accounts_copy').exists())[0]).toBe(false);

    const [casts] = await bigquery.query(
      `SELECT CAST('7' AS INT64) AS i, SAFE_CAST('x' AS INT64) AS bad, CAST(1 AS FLOAT64) / 4 AS f, CAST('true' AS BOOL) AS b,
              DATE '2024-02-29' AS d, TIMESTAMP_MICROS(1704067200000000) AS ts, 'it\\'s' AS s, "dq" AS dq -- comment
              # another comment`,
    );
    expect(casts[0]).toMatchObject({ i: 7, bad: null, f: 0.25, b: true, s: "it's", dq: 'dq' });
    expect(casts[0].d.value).toBe('2024-02-29');
    expect(casts[0].ts.value).toBe('2024-01-01T00:00:00.000Z');
  });

  it('runs a MERGE upsert with dmlStats and refuses a source that matches a target row twice', async () => {
    await bigquery.query(
      `CREATE TABLE ${DATASET}.target (id INT64 NOT NULL, name STRING, updated_at TIMESTAMP)`,
    );
    await bigquery.query(
      `CREATE TABLE ${DATASET}.staging (id INT64 NOT NULL, name STRING, updated_at TIMESTAMP)`,
    );
    await bigquery.query(`INSERT INTO ${DATASET}.target (id, name, updated_at) VALUES
      (1, 'a', TIMESTAMP '2024-01-01 00:00:00+00'), (2, 'b', TIMESTAMP '2024-01-01 00:00:00+00')`);
    await bigquery.query(`INSERT INTO ${DATASET}.staging (id, name, updated_at) VALUES
      (1, 'a2', TIMESTAMP '2024-02-01 00:00:00+00'), (2, 'b2', TIMESTAMP '2024-02-01 00:00:00+00'),
      (3, 'c', TIMESTAMP '2024-02-01 00:00:00+00')`);
    const merge = `MERGE \`${PROJECT}.${DATASET}.target\` T USING \`${PROJECT}.${DATASET}.staging\` S ON T.id = S.id
      WHEN MATCHED THEN UPDATE SET T.name = S.name, updated_at = S.updated_at
      WHEN NOT MATCHED THEN INSERT (id, name, updated_at) VALUES (S.id, S.name, S.updated_at)`;
    const jobId = uniqueId('merge');
    const job = await runQueryJob(merge, jobId);
    const [metadata] = await job.getMetadata();
    expect(metadata.statistics.query).toMatchObject({
      statementType: 'MERGE',
      numDmlAffectedRows: '3',
      dmlStats: { insertedRowCount: '1', updatedRowCount: '2', deletedRowCount: '0' },
    });
    const [merged] = await bigquery.query(`SELECT id, name FROM ${DATASET}.target ORDER BY id`);
    expect(merged).toEqual([
      { id: 1, name: 'a2' },
      { id: 2, name: 'b2' },
      { id: 3, name: 'c' },
    ]);

    await bigquery.query(`INSERT INTO ${DATASET}.staging (id, name) VALUES (1, 'a3')`);
    const error = await rejectionOf(runQueryJob(merge));
    expect(error.message).toBe('UPDATE/MERGE must match at most one source row for each target row');
    expect(error.errors?.[0]?.reason).toBe('invalidQuery');
    const fastPath = await rejectionOf(bigquery.query(merge));
    expect(fastPath.code).toBe(400);
    const [unchanged] = await bigquery.query(`SELECT id, name FROM ${DATASET}.target ORDER BY id`);
    expect(unchanged).toEqual(merged);

    // Deduplicating in the USING subquery is the portable fix.
    const deduplicated = `MERGE ${DATASET}.target T
      USING (SELECT * FROM ${DATASET}.staging QUALIFY ROW_NUMBER() OVER (PARTITION BY id ORDER BY updated_at DESC NULLS LAST) = 1) S
      ON T.id = S.id WHEN MATCHED THEN UPDATE SET name = S.name`;
    const dedupJob = await runQueryJob(deduplicated);
    expect((await dedupJob.getMetadata())[0].statistics.query.dmlStats.updatedRowCount).toBe('3');
  });

  it('fails bad queries with HTTP errors the client rejects on', async () => {
    const missing = await rejectionOf(bigquery.query(`SELECT * FROM ${DATASET}.no_such_table`));
    expect(missing.code).toBe(404);
    expect(missing.errors?.[0]?.reason).toBe('notFound');
    const syntax = await rejectionOf(bigquery.query('SELEC 1'));
    expect(syntax.code).toBe(400);
    expect(syntax.errors?.[0]?.reason).toBe('invalidQuery');
  });

  it('binds named query parameters and paginates results', async () => {
    const [params] = await bigquery.query({
      query: 'SELECT @n + 1 AS n, @s AS s, @ts AS ts, @flag AS flag',
      params: { n: 41, s: "o'k", ts: new Date('2024-05-06T07:08:09.010Z'), flag: true },
    });
    expect(params[0]).toMatchObject({ n: 42, s: "o'k", flag: true });
    expect(params[0].ts.value).toBe('2024-05-06T07:08:09.010Z');

    const sql = 'SELECT x FROM UNNEST([1, 2, 3, 4, 5]) AS t(x) ORDER BY x';
    const [all] = await bigquery.query({ query: sql, maxResults: 2 });
    expect(all.map((r: { x: number }) => r.x)).toEqual([1, 2, 3, 4, 5]);
    const [job] = await bigquery.createQueryJob({ query: sql, jobId: uniqueId('pages') });
    const [page, next] = await job.getQueryResults({ maxResults: 2, autoPaginate: false });
    expect(page).toEqual([{ x: 1 }, { x: 2 }]);
    expect(next).toMatchObject({ pageToken: expect.any(String) });
    const [rest] = await job.getQueryResults({ ...next, maxResults: 10, autoPaginate: false });
    expect(rest).toEqual([{ x: 3 }, { x: 4 }, { x: 5 }]);

    const [tableRows, tableNext] = await bigquery
      .dataset(DATASET)
      .table('events')
      .getRows({ maxResults: 2, autoPaginate: false });
    expect(tableRows).toHaveLength(2);
    expect(tableNext).toMatchObject({ pageToken: expect.any(String) });
  });
});

describe('faults', () => {
  it('fails the next load with backendError, changes nothing, and a retry with a new job id succeeds', async () => {
    await createEventsTable('flaky');
    const config = loadConfig('flaky', [putNdjson('flaky/a.jsonl', [{ id: 1 }, { id: 2 }])]);
    emulator.faults.add({ kind: 'backendError', on: 'load', times: 1 });
    const failed = await startLoad(config);
    const error = await rejectionOf(failed.promise());
    expect(error.errors?.[0]).toMatchObject({
      reason: 'backendError',
      message: 'Backend error. Job aborted.',
    });
    expect(await countRows('flaky')).toBe(0);
    await load(config);
    expect(await countRows('flaky')).toBe(2);
  });

  it('takes faults over HTTP: backendError on a query job, then 503 on insert that the client retries', async () => {
    const faultsUrl = `${emulator.url}/_emulator/faults`;
    const post = (body: unknown) =>
      fetch(faultsUrl, {
        method: 'POST',
        body: JSON.stringify(body),
        headers: { 'content-type': 'application/json' },
      });
    expect((await post({ kind: 'backendError', on: 'query', times: 1 })).status).toBe(200);
    const [failing] = await bigquery.createQueryJob({
      query: 'SELECT 1 AS one',
      jobId: uniqueId('flaky_query'),
    });
    const error = await rejectionOf(failing.promise());
    expect(error.errors?.[0]?.reason).toBe('backendError');
    const retried = await runQueryJob('SELECT 1 AS one');
    expect((await retried.getQueryResults())[0]).toEqual([{ one: 1 }]);

    await post({ kind: 'status', status: 503, on: 'insert', times: 1 });
    const jobId = uniqueId('after_503');
    const [job] = await bigquery.createQueryJob({ query: 'SELECT 2 AS two', jobId });
    expect(job.id).toBe(jobId);
    expect((await job.getQueryResults())[0]).toEqual([{ two: 2 }]);

    const snapshot = (await (await fetch(faultsUrl)).json()) as {
      pending: unknown[];
      injected: Record<string, number>;
    };
    expect(snapshot.pending).toEqual([]);
    expect(snapshot.injected.backendError).toBeGreaterThanOrEqual(2);
    expect(snapshot.injected.status).toBe(1);
    await post({ kind: 'status', status: 503, on: 'get', times: 5 });
    expect((await fetch(faultsUrl, { method: 'DELETE' })).status).toBe(204);
    expect(emulator.faults.snapshot().pending).toEqual([]);
    const invalidFault = await post({ kind: 'explode' });
    expect(invalidFault.status).toBe(400);
  });
});

describe('partition elimination', () => {
  const table = () => `\`${PROJECT}.${DATASET}.pruned\``;

  async function query(sql: string): Promise<{ bytes: number; statementType: string }> {
    const [job] = await bigquery.createQueryJob({ query: sql, useLegacySql: false });
    await job.getQueryResults();
    const [metadata] = await job.getMetadata();
    return {
      bytes: Number(metadata.statistics.query.totalBytesProcessed),
      statementType: metadata.statistics.query.statementType,
    };
  }

  async function addDay(day: string, rows: number) {
    const uri = putNdjson(
      uniqueId('day'),
      Array.from({ length: rows }, (_, i) => ({ id: i, note: 'abcd', created: `${day} 0${i % 10}:00:00` })),
    );
    await load(loadConfig('pruned', [uri], { writeDisposition: 'WRITE_APPEND' }));
  }

  beforeAll(async () => {
    await bigquery.dataset(DATASET).createTable('pruned', {
      schema: {
        fields: [
          { name: 'id', type: 'INTEGER' },
          { name: 'note', type: 'STRING' },
          { name: 'created', type: 'DATETIME' },
        ],
      },
      timePartitioning: { type: 'DAY', field: 'created' },
      requirePartitionFilter: true,
    } as never);
    await addDay('2024-03-01', 10);
  });

  it('reports the bytes of the partitions a SELECT reads: flat while older partitions grow', async () => {
    // 10 rows × (8 id + 8 created + 2 + 4 note) = 220 bytes in the partition of 2024-03-01
    const recent = `SELECT id, note, created FROM ${table()} WHERE created >= DATETIME '2024-03-01 00:00:00'`;
    expect((await query(recent)).bytes).toBe(220);
    await addDay('2024-02-01', 10);
    await addDay('2024-01-01', 10);
    expect((await query(recent)).bytes).toBe(220);
    const all = `SELECT id FROM ${table()} WHERE created >= DATETIME '2000-01-01 00:00:00'`;
    expect((await query(all)).bytes).toBe(30 * 16); // id and the partition column, 30 rows
    const between = `SELECT id FROM ${table()} WHERE created BETWEEN DATETIME '2024-01-15 00:00:00' AND DATETIME '2024-02-15 00:00:00'`;
    expect((await query(between)).bytes).toBe(10 * 16);
  });

  it('refuses a query without a partition filter on a table that requires one, in BigQuery words', async () => {
    const error = await rejectionOf(bigquery.query(`SELECT COUNT(*) FROM ${table()}`));
    expect(error.message).toBe(
      `Cannot query over table '${PROJECT}.${DATASET}.pruned' without a filter over column(s) 'created' that can be used for partition elimination`,
    );
    // A condition under OR cannot eliminate partitions either.
    const or = await rejectionOf(
      bigquery.query(`SELECT id FROM ${table()} WHERE created >= DATETIME '2024-03-01 00:00:00' OR id = 1`),
    );
    expect(or.message).toMatch(/without a filter over column\(s\) 'created'/);
    const [metadata] = await bigquery.dataset(DATASET).table('pruned').getMetadata();
    expect(metadata.timePartitioning.requirePartitionFilter).toBe(true);
  });

  it('prunes the target of a MERGE by a constant range in its ON clause', async () => {
    // Matches the row of id 5 (created 05:00): an update of the same size, so the partition's bytes stay 220.
    const source = `(SELECT 5 AS id, 'wxyz' AS note, DATETIME '2024-03-01 05:00:00' AS created)`;
    const merge = (on: string) =>
      `MERGE ${table()} T USING ${source} S ON T.id = S.id AND T.created = S.created${on} ` +
      'WHEN MATCHED THEN UPDATE SET note = S.note ' +
      'WHEN NOT MATCHED THEN INSERT (id, note, created) VALUES (S.id, S.note, S.created)';
    const pruned = await query(
      merge(
        ` AND T.created >= DATETIME '2024-03-01 00:00:00' AND T.created <= DATETIME '2024-03-01 23:00:00'`,
      ),
    );
    expect(pruned.statementType).toBe('MERGE');
    expect(pruned.bytes).toBe(220);
    await addDay('2023-12-01', 10);
    const again = await query(
      merge(
        ` AND T.created >= DATETIME '2024-03-01 00:00:00' AND T.created <= DATETIME '2024-03-01 23:00:00'`,
      ),
    );
    expect(again.bytes).toBe(220);
    const unpruned = await rejectionOf(query(merge('')));
    expect(unpruned.message).toMatch(/Cannot query over table/);
  });
});

describe('MERGE … WHEN NOT MATCHED BY SOURCE', () => {
  it('updates the target rows the source lacks, restricted by the clause condition, in one statement', async () => {
    const tableId = uniqueId('snapshot');
    const target = `\`${PROJECT}.${DATASET}.${tableId}\``;
    await bigquery.query(`CREATE TABLE ${target} (inst STRING, id INT64, name STRING, deleted_at TIMESTAMP)`);
    await bigquery.query(
      `INSERT INTO ${target} (inst, id, name) VALUES ('a', 1, 'one'), ('a', 2, 'two'), ('b', 1, 'other')`,
    );
    const [job] = await bigquery.createQueryJob({
      query:
        `MERGE ${target} T USING (SELECT 'a' AS inst, 1 AS id, 'uno' AS name) S ON T.inst = S.inst AND T.id = S.id ` +
        'WHEN MATCHED THEN UPDATE SET name = S.name, deleted_at = NULL ' +
        'WHEN NOT MATCHED THEN INSERT (inst, id, name) VALUES (S.inst, S.id, S.name) ' +
        `WHEN NOT MATCHED BY SOURCE AND T.inst IN ('a') AND T.deleted_at IS NULL ` +
        `THEN UPDATE SET deleted_at = TIMESTAMP_MILLIS(1700000000000)`,
      useLegacySql: false,
    });
    await job.getQueryResults();
    const [metadata] = await job.getMetadata();
    expect(metadata.statistics.query.dmlStats).toMatchObject({ updatedRowCount: '2', insertedRowCount: '0' });
    const [rows] = await bigquery.query(
      `SELECT inst, id, name, UNIX_MILLIS(deleted_at) AS gone FROM ${target} ORDER BY inst, id`,
    );
    expect(rows).toEqual([
      { inst: 'a', id: 1, name: 'uno', gone: null },
      { inst: 'a', id: 2, name: 'two', gone: 1700000000000 },
      { inst: 'b', id: 1, name: 'other', gone: null },
    ]);
  });
});
