import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BigQueryEmulator, startBigQueryEmulator } from '../src/bigquery/server.ts';
import { type GcsEmulator, startGcsEmulator } from '../src/gcs/server.ts';
import {
  type CliResult,
  type CliSandbox,
  cliInstalled,
  createCliSandbox,
  expectSuccess,
} from './cli-helpers.ts';

// The `bq` CLI (Google Cloud CLI's, Python, built at run time from the discovery document the emulator serves)
// against the BigQuery emulator, loading from the GCS emulator, pointed there only by `--api` and the access-token
// file. Then the answers for a failed query at every endpoint a client reads them from, over plain HTTP.

const BQ = cliInstalled('bq');
if (!BQ) console.warn('[cli-bq] bq is not on the PATH: the bq conformance tests are skipped');

const PROJECT = 'local-project';
const BUCKET = 'lsa-cli-loads';
const ROWS = [
  { id: 1, user: 'ada', created_at: '2024-01-01T10:00:00Z' },
  { id: 2, user: 'bob', created_at: '2024-01-02T11:30:00Z' },
  { id: 3, user: 'ada', created_at: '2024-01-02T12:00:00Z' },
];

/** bq wraps its messages at 80 columns, at spaces or after hyphens; compare them as one line. */
const oneLine = (text: string) => text.replace(/-\n/g, '-').replace(/\s+/g, ' ').trim();

let gcs: GcsEmulator;
let bigquery: BigQueryEmulator;

beforeAll(async () => {
  gcs = await startGcsEmulator();
  bigquery = await startBigQueryEmulator({ gcs: gcs.store });
  gcs.store.createBucket(BUCKET);
  const ndjson = `${ROWS.map((row) => JSON.stringify(row)).join('\n')}\n`;
  gcs.store.putObject({
    bucket: BUCKET,
    name: 'events.jsonl',
    bytes: Buffer.from(ndjson),
    contentType: 'application/json',
  });
  gcs.store.putObject({
    bucket: BUCKET,
    name: 'bad.jsonl',
    bytes: Buffer.from('{"id":4,"user":"cy"}\n{"id":"x","user":"dee"}\n'),
    contentType: 'application/json',
  });
});

afterAll(async () => {
  await bigquery?.close();
  await gcs?.close();
});

// Each command is a Python start plus a `gcloud config list` (2-4 s on a busy machine): generous timeouts, and
// several commands per test so there are few invocations (18). The tests run in order on one dataset, each
// starting from what the previous one left.
describe.skipIf(!BQ)('bq against the BigQuery emulator', { timeout: 120_000 }, () => {
  let cli: CliSandbox;
  const bq = (args: string[]) => cli.run('bq', ['--api', bigquery.url, '--project_id', PROJECT, ...args]);
  const ok = async (args: string[]) => expectSuccess(await bq(args), `bq ${args.join(' ')}`);
  const json = async (args: string[]) => JSON.parse((await ok(['--format=json', ...args])).stdout);

  /** The emulator's REST API, for checking what a bq command did without starting bq again (~1.5 s). */
  const rest = (path: string, init?: RequestInit) =>
    fetch(`${bigquery.url}/bigquery/v2/projects/${PROJECT}${path}`, init);

  beforeAll(async () => {
    cli = await createCliSandbox({ project: PROJECT });
  });

  afterAll(async () => {
    await cli?.remove();
  });

  it('mk makes a dataset and a partitioned, clustered table; show and ls describe them', async () => {
    expect((await ok(['mk', 'activity'])).stdout).toContain(
      `Dataset '${PROJECT}:activity' successfully created.`,
    );
    const made = await ok([
      'mk',
      '--table',
      '--schema=id:INTEGER,user:STRING,created_at:TIMESTAMP',
      '--time_partitioning_field=created_at',
      '--time_partitioning_type=DAY',
      '--clustering_fields=user',
      'activity.events',
    ]);
    expect(made.stdout).toContain(`Table '${PROJECT}:activity.events' successfully created.`);

    const table = await json(['show', 'activity.events']);
    expect(table).toMatchObject({
      kind: 'bigquery#table',
      id: `${PROJECT}:activity.events`,
      tableReference: { projectId: PROJECT, datasetId: 'activity', tableId: 'events' },
      type: 'TABLE',
      numRows: '0',
      timePartitioning: { type: 'DAY', field: 'created_at' },
      clustering: { fields: ['user'] },
    });
    expect(table.schema.fields.map((f: { name: string; type: string }) => [f.name, f.type])).toEqual([
      ['id', 'INTEGER'],
      ['user', 'STRING'],
      ['created_at', 'TIMESTAMP'],
    ]);

    const datasets = await json(['ls']);
    expect(datasets).toEqual([
      expect.objectContaining({
        id: `${PROJECT}:activity`,
        datasetReference: { projectId: PROJECT, datasetId: 'activity' },
      }),
    ]);
    const tables = await json(['ls', 'activity']);
    expect(tables).toEqual([
      expect.objectContaining({
        id: `${PROJECT}:activity.events`,
        type: 'TABLE',
        timePartitioning: { type: 'DAY', field: 'created_at' },
        clustering: { fields: ['user'] },
      }),
    ]);

    // Human output: the partitioning and clustering columns bq prints for a table.
    const pretty = await ok(['show', 'activity.events']);
    expect(oneLine(pretty.stdout)).toContain(`Table ${PROJECT}:activity.events`);
    expect(pretty.stdout).toMatch(/DAY \(field: created_at\)\s+user/);
  });

  it('load reads NDJSON from the GCS emulator; update sets a description; head returns the rows', async () => {
    const loaded = await ok([
      'load',
      '--source_format=NEWLINE_DELIMITED_JSON',
      'activity.events',
      `gs://${BUCKET}/events.jsonl`,
    ]);
    expect(loaded.stderr).toMatch(/Current status: DONE/);
    // update patches the table (bq sends `"schema": null` along with the description).
    await ok(['update', '--description', 'Looker events', 'activity.events']);
    // `bq show` is covered above; tables.get is what it reads.
    expect(await (await rest('/datasets/activity/tables/events')).json()).toMatchObject({
      numRows: '3',
      description: 'Looker events',
    });
    // tabledata.list, cells as bq prints them (INTEGER as text, TIMESTAMP rendered in UTC).
    expect(await json(['head', '-n', '2', 'activity.events'])).toEqual([
      { id: '1', user: 'ada', created_at: '2024-01-01 10:00:00' },
      { id: '2', user: 'bob', created_at: '2024-01-02 11:30:00' },
    ]);
  });

  it('query --nouse_legacy_sql returns rows; a failing query or load prints BigQuery error text', async () => {
    const rows = await json([
      'query',
      '--nouse_legacy_sql',
      'SELECT user, COUNT(*) AS n FROM activity.events GROUP BY user ORDER BY user',
    ]);
    expect(rows).toEqual([
      { user: 'ada', n: '2' },
      { user: 'bob', n: '1' },
    ]);

    const badQuery = await bq(['query', '--nouse_legacy_sql', 'SELEC 1']);
    expect(badQuery.code).not.toBe(0);
    expect(oneLine(badQuery.stdout)).toMatch(
      new RegExp(
        `^Error in query string: Error processing job '${PROJECT}:bqjob_\\w+': Syntax error: .*\\[1:1\\]$`,
      ),
    );

    const badLoad: CliResult = await bq([
      'load',
      '--source_format=NEWLINE_DELIMITED_JSON',
      'activity.events',
      `gs://${BUCKET}/bad.jsonl`,
    ]);
    expect(badLoad.code).not.toBe(0);
    expect(oneLine(badLoad.stdout)).toContain(
      'Error while reading data, error message: JSON table encountered too many errors, giving up. Rows: 2; errors: 1.',
    );
    expect(oneLine(badLoad.stdout)).toContain(`- gs://${BUCKET}/bad.jsonl: Error while reading data`);
  });

  it('ls -j lists jobs newest first; show -j shows one; ls -p lists the project', async () => {
    const jobs = await json(['ls', '-j', '-n', '2']);
    expect(jobs).toHaveLength(2);
    // The newest two: the failed load, then the failed query.
    expect(jobs[0]).toMatchObject({
      state: 'DONE',
      configuration: { jobType: 'LOAD' },
      status: { state: 'DONE', errorResult: { reason: 'invalid' } },
    });
    expect(jobs[1]).toMatchObject({
      configuration: { jobType: 'QUERY' },
      errorResult: { reason: 'invalidQuery' },
    });

    const jobId = jobs[0].jobReference.jobId as string;
    const shown = await json(['show', '-j', jobId]);
    expect(shown).toMatchObject({
      kind: 'bigquery#job',
      jobReference: { projectId: PROJECT, jobId, location: 'US' },
      configuration: { load: { sourceUris: [`gs://${BUCKET}/bad.jsonl`] } },
      status: { state: 'DONE' },
    });

    expect(await json(['ls', '-p'])).toEqual([
      expect.objectContaining({ id: PROJECT, projectReference: { projectId: PROJECT } }),
    ]);
  });

  it('rm removes a table, then a dataset with its contents', async () => {
    await ok(['rm', '-f', '-t', 'activity.events']);
    const gone = await bq(['show', 'activity.events']);
    expect(gone.code).not.toBe(0);
    expect(oneLine(gone.stdout)).toBe(
      `BigQuery error in show operation: Not found: Table ${PROJECT}:activity.events`,
    );
    // The dataset still holds a table when it is removed (made through the API: `bq mk` is covered above).
    const other = await rest('/datasets/activity/tables', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        tableReference: { projectId: PROJECT, datasetId: 'activity', tableId: 'other' },
        schema: { fields: [{ name: 'id', type: 'INTEGER' }] },
      }),
    });
    expect(other.status).toBe(200);
    await ok(['rm', '-r', '-f', '-d', 'activity']);
    expect((await rest('/datasets/activity')).status).toBe(404);
    expect((await rest('/datasets/activity/tables/other')).status).toBe(404);
  });
});

describe('the discovery document', () => {
  it('serves the discovery document bq builds its client from, pointing at the emulator', async () => {
    const response = await fetch(`${bigquery.url}/$discovery/rest?version=v2`);
    expect(response.status).toBe(200);
    const document = await response.json();
    expect(document).toMatchObject({
      kind: 'discovery#restDescription',
      id: 'bigquery:v2',
      rootUrl: `${bigquery.url}/`,
      baseUrl: `${bigquery.url}/bigquery/v2/`,
      servicePath: 'bigquery/v2/',
    });
    expect(Object.keys(document.resources).sort()).toEqual([
      'datasets',
      'jobs',
      'projects',
      'tabledata',
      'tables',
    ]);
    expect(Object.keys(document.resources.jobs.methods)).toEqual(
      expect.arrayContaining(['insert', 'get', 'list', 'query', 'getQueryResults', 'cancel']),
    );
    expect((await fetch(`${bigquery.url}/$discovery/rest?version=v3`)).status).toBe(404);
    // google-api-python-client's default discovery URL serves the same document.
    const classic = await fetch(`${bigquery.url}/discovery/v1/apis/bigquery/v2/rest`);
    expect((await classic.json()).rootUrl).toBe(`${bigquery.url}/`);
  });
});

// The answers BigQuery gives for a failed query, endpoint by endpoint: jobs.query and getQueryResults answer the
// job's error as an HTTP error (status from its reason), jobs.get answers 200 with status.errorResult. No CLI needed.
describe('a failed query answers as BigQuery does at every endpoint', () => {
  const api = (path: string, init?: RequestInit) =>
    fetch(`${bigquery.url}/bigquery/v2/projects/${PROJECT}${path}`, init);
  const post = (path: string, body: unknown) =>
    api(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const query = 'SELEC 1';

  it('jobs.query: HTTP 400 with the error', async () => {
    const response = await post('/queries', { query, useLegacySql: false });
    expect(response.status).toBe(400);
    const { error } = await response.json();
    expect(error).toMatchObject({ code: 400, status: 'INVALID_ARGUMENT' });
    expect(error.errors[0]).toMatchObject({ reason: 'invalidQuery', location: 'query', domain: 'global' });
    expect(error.message).toBe(error.errors[0].message);
  });

  it('jobs.insert answers RUNNING; jobs.get the job with status.errorResult; getQueryResults HTTP 400', async () => {
    const jobId = `failed_query_${Date.now()}`;
    const inserted = await post('/jobs', {
      jobReference: { jobId },
      configuration: { query: { query, useLegacySql: false } },
    });
    expect(inserted.status).toBe(200);
    expect((await inserted.json()).status).toEqual({ state: 'RUNNING' });

    const got = await api(`/jobs/${jobId}`);
    expect(got.status).toBe(200);
    const { status } = await got.json();
    expect(status.state).toBe('DONE');
    expect(status.errorResult).toMatchObject({ reason: 'invalidQuery', location: 'query' });
    expect(status.errors).toEqual([status.errorResult]);

    const results = await api(`/queries/${jobId}`);
    expect(results.status).toBe(400);
    const { error } = await results.json();
    expect(error.errors).toEqual([{ ...status.errorResult, domain: 'global' }]);
  });
});
