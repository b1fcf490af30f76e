import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { type LookerEmulator, startLookerEmulator } from 'lsa-emulators/looker';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.ts';
import type { InstanceConfig, PipelineConfig, ResolvedExport } from '../../src/config/model.ts';
import { NonRetryableError, RetryAfterError } from '../../src/errors.ts';
import { OWN_QUERY_COLUMN } from '../../src/exports/types.ts';
import { LookerClients } from '../../src/looker/client.ts';
import { type ExtractResult, extractWindow } from '../../src/looker/extract.ts';
import { hashMask } from '../../src/looker/masking.ts';
import type { ExtractWindow } from '../../src/window.ts';

// The streamed extract, driven through the real @looker/sdk-node against the Looker emulator: every export of
// the registry, row caps, empty windows, masking, and each injected fault.

const HASH_KEY = 'extract-test-hash-key-0123456789';
const CAP = 300;
let looker: LookerEmulator;
let config: PipelineConfig;
let instance: InstanceConfig;
let clients: LookerClients;
let dir: string;

beforeAll(async () => {
  looker = await startLookerEmulator({
    instances: [
      {
        id: 'main',
        clientId: 'main-id',
        clientSecret: 'main-secret-value',
        seed: 42,
        historyRows: 3000,
        historyDays: 20,
        maxRowLimit: CAP,
      },
    ],
  });
  process.env.EXTRACT_TEST_ID = 'main-id';
  process.env.EXTRACT_TEST_SECRET = 'main-secret-value';
  process.env.EXTRACT_TEST_HASH = HASH_KEY;
  config = parseConfigText(
    `redis: { url: "redis://127.0.0.1:1" }
gcs: { bucket: unused-bucket }
bigquery: { projectId: p, dataset: d }
masking: { hashKey: "\${EXTRACT_TEST_HASH}" }
defaults: { pageSize: ${CAP} }
instances:
  - id: main
    baseUrl: ${looker.baseUrl('main')}
    clientId: "\${EXTRACT_TEST_ID}"
    clientSecret: "\${EXTRACT_TEST_SECRET}"
    queryTimeout: 3s
`,
    'extract-test.yaml',
  );
  instance = config.instances[0]!;
  clients = new LookerClients();
  dir = await mkdtemp(join(tmpdir(), 'lsa-extract-'));
});

afterAll(async () => {
  await clients.closeAll();
  await looker.close();
  await rm(dir, { recursive: true, force: true });
});

beforeEach(() => looker.instance('main').faults.clear());

const exportNamed = (name: string): ResolvedExport =>
  instance.exports.find((e) => e.definition.name === name)!;
const NOW = Date.now();
const DAY = 86_400_000;
const everything = (e: ResolvedExport): ExtractWindow =>
  e.definition.mode.kind === 'snapshot'
    ? { kind: 'snapshot', atMs: NOW }
    : { kind: 'range', startMs: NOW - 30 * DAY, endMs: NOW };

function extract(e: ResolvedExport, window: ExtractWindow): Promise<ExtractResult> {
  return extractWindow({
    client: clients.get(instance),
    instance,
    export: e,
    window,
    spoolDir: dir,
    hashKey: () => HASH_KEY,
  });
}

function spoolRows(result: ExtractResult): Record<string, unknown>[] {
  const text = gunzipSync(readFileSync(result.manifest!.file)).toString('utf8');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

function truthKeys(e: ResolvedExport, window: ExtractWindow): number[] {
  const { definition } = e;
  const filters: Record<string, string> = {};
  if (window.kind === 'range' && definition.mode.kind === 'incremental') {
    const fmt = (ms: number) => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
    filters[definition.mode.cursor] = `${fmt(window.startMs!)} to ${fmt(window.endMs)}`;
  }
  return looker
    .instance('main')
    .runQuery({
      model: definition.model,
      view: definition.explore,
      fields: [definition.key],
      filters,
      sorts: [definition.key],
      query_timezone: 'UTC',
    })
    .map((r) => Number(r[definition.key]));
}

describe('extract', () => {
  it.each([
    'content_usage',
    'history',
    'user',
    'dashboard',
    'look',
    'event',
    'event_attribute',
    'scheduled_job',
    'pdt_event_log',
    'field_usage',
  ])('extracts every row of %s exactly once, with the registry columns', async (name) => {
    const e = exportNamed(name);
    const window = everything(e);
    const result = await extract(e, window);
    const rows = spoolRows(result);
    const keyColumn = e.definition.fields.find((f) => f.field === e.definition.key)!.column;
    const keys = rows.map((r) => Number(r[keyColumn])).sort((a, b) => a - b);
    expect(keys).toEqual(truthKeys(e, window));
    expect(new Set(keys).size).toBe(keys.length);
    expect(Object.keys(rows[0]!)).toEqual([
      'looker_instance',
      ...e.definition.fields.map((f) => f.column),
      ...(e.definition.ownQueryUserField ? [OWN_QUERY_COLUMN] : []),
      '_extracted_at',
    ]);
    expect(result.manifest!.rows).toBe(rows.length);
    expect(rows.every((r) => r.looker_instance === 'main')).toBe(true);
  });

  it('extracts a window holding several times the row cap completely (split at the last complete second)', async () => {
    const e = exportNamed('history');
    const window = everything(e);
    const truth = truthKeys(e, window);
    expect(truth.length).toBeGreaterThan(3 * CAP);
    const result = await extract(e, window);
    expect(result.rows).toBe(truth.length);
    expect(result.queries).toBeGreaterThan(truth.length / CAP);
  });

  it('refuses a window that comes back shorter than Looker counts: an admin row cap below the configured one', async () => {
    // Config believes the cap is 2× the real one, so pages come back cut at the real cap, looking complete.
    const believed = { ...instance, rowCap: CAP * 2 };
    const history = exportNamed('history');
    const window = everything(history);
    const promise = extractWindow({
      client: clients.get(instance),
      instance: believed,
      export: { ...history, settings: { ...history.settings, pageSize: CAP * 2 } },
      window,
      spoolDir: dir,
      hashKey: () => HASH_KEY,
    });
    await expect(promise).rejects.toThrow(/Looker counted \d+ rows but returned 300 with pages of 600/);
    await expect(promise).rejects.not.toBeInstanceOf(NonRetryableError);
    expect(truthKeys(history, window).length).toBeGreaterThan(CAP);
    // with the check off, the same window would have loaded short: the check is what stops it
    const unchecked = await extractWindow({
      client: clients.get(instance),
      instance: { ...believed, rowCountCheck: false },
      export: { ...history, settings: { ...history.settings, pageSize: CAP * 2 } },
      window,
      spoolDir: dir,
      hashKey: () => HASH_KEY,
    });
    expect(unchecked.rows).toBe(CAP);
  });

  it('converts Looker values to BigQuery types: yesno to booleans, times kept as UTC datetimes', async () => {
    const rows = spoolRows(await extract(exportNamed('history'), everything(exportNamed('history'))));
    const row = rows.find((r) => r.is_single_query !== null)!;
    expect(typeof row.is_single_query).toBe('boolean');
    expect(row.created_time).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    expect(typeof row.id).toBe('number');
  });

  it('yields a valid empty result for a window with no rows, and leaves no file', async () => {
    const result = await extract(exportNamed('history'), {
      kind: 'range',
      startMs: NOW - 400 * DAY,
      endMs: NOW - 399 * DAY,
    });
    expect(result).toMatchObject({ rows: 0, manifest: null });
    const files = await readdir(join(dir, 'main', 'history')).catch(() => []);
    expect(files.filter((f) => f.includes('partial'))).toEqual([]);
  });

  it('masks personal data before anything is written: no raw email in the spool, stable hashes', async () => {
    const result = await extract(exportNamed('user'), { kind: 'snapshot', atMs: NOW + 1000 });
    const raw = gunzipSync(readFileSync(result.manifest!.file)).toString('utf8');
    expect(raw).not.toMatch(/@example\.com/);
    const truth = looker.instance('main').runQuery({
      model: 'system__activity',
      view: 'user',
      fields: ['user.id', 'user.email'],
      sorts: ['user.id'],
    });
    const rows = spoolRows(result);
    const first = rows.find((r) => r.id === truth[0]!['user.id'])!;
    expect(first.email).toBe(hashMask(HASH_KEY)(String(truth[0]!['user.email'])));
    expect(first.first_name).toBeNull();
  });
});

describe('extract faults', () => {
  const e = () => exportNamed('event');
  const window = (): ExtractWindow => ({ kind: 'range', startMs: NOW - 2 * DAY, endMs: NOW - DAY });

  it("a looker_error row fails with instance, export, window and Looker's message", async () => {
    looker.instance('main').faults.inject({ kind: 'lookerError', message: 'Database timed out' });
    await expect(extract(e(), window())).rejects.toThrow(
      /^main\/event \[.*Z, .*Z\): Looker reported a query error: Database timed out/,
    );
  });

  it('a 5xx is a retryable error naming the status and body', async () => {
    looker.instance('main').faults.inject({ kind: 'status', status: 503 });
    const error = await extract(e(), window()).catch((x: Error) => x);
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(NonRetryableError);
    expect((error as Error).message).toMatch(/main\/event .*Looker answered 503/);
  });

  it('a 429 carries Retry-After', async () => {
    looker.instance('main').faults.inject({ kind: 'status', status: 429, retryAfterSeconds: 7 });
    const error = await extract(e(), window()).catch((x: Error) => x);
    expect(error).toBeInstanceOf(RetryAfterError);
    expect((error as RetryAfterError).retryAfterMs).toBe(7000);
  });

  it('a revoked token logs in again once and the extract completes', async () => {
    await extract(e(), window());
    const before = looker.instance('main').stats().logins;
    looker.instance('main').revokeTokens();
    const result = await extract(e(), window());
    expect(result.rows).toBe(truthKeys(e(), window()).length);
    expect(looker.instance('main').stats().logins).toBe(before + 1);
  });

  it('a body cut off mid-stream is a retryable failure and leaves no spool file', async () => {
    looker.instance('main').faults.inject({ kind: 'truncate', afterRows: 3 });
    const error = await extract(e(), window()).catch((x: Error) => x);
    expect(error).not.toBeInstanceOf(NonRetryableError);
    expect((error as Error).message).toMatch(/main\/event .*(ended before|terminated|closed|socket)/i);
    const files = await readdir(join(dir, 'main', 'event'));
    expect(files.filter((f) => f.endsWith('.partial'))).toEqual([]);
  });

  it('invalid JSON in a complete body is bad data: not retryable, named', async () => {
    looker.instance('main').faults.inject({ kind: 'corruptRow', mode: 'invalid-json' });
    const error = await extract(e(), window()).catch((x: Error) => x);
    expect(error).toBeInstanceOf(NonRetryableError);
    expect((error as Error).message).toMatch(/main\/event .*row 1 is not valid JSON/);
  });

  it('a hung query is bounded by our own timeout', async () => {
    looker.instance('main').faults.inject({ kind: 'hang' });
    const started = Date.now();
    const error = await extract(e(), window()).catch((x: Error) => x);
    expect((error as Error).message).toMatch(/did not answer within 3s/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('bad credentials are not retryable and say what to check', async () => {
    process.env.EXTRACT_TEST_SECRET = 'wrong-secret';
    const fresh = new LookerClients();
    try {
      const error = await extractWindow({
        client: fresh.get(instance),
        instance,
        export: e(),
        window: window(),
        spoolDir: dir,
        hashKey: () => HASH_KEY,
      }).catch((x: Error) => x);
      expect(error).toBeInstanceOf(NonRetryableError);
      expect((error as Error).message).toMatch(/login failed.*clientId and clientSecret/);
      expect((error as Error).message).not.toContain('wrong-secret');
    } finally {
      process.env.EXTRACT_TEST_SECRET = 'main-secret-value';
    }
  });
});
