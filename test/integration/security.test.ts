import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DashboardHandle, startDashboard } from '../../src/dashboard/server.ts';
import { createLogger } from '../../src/logging.ts';
import { hashMask } from '../../src/looker/masking.ts';
import { createContext } from '../../src/pipeline/context.ts';
import { startWorkerRole } from '../../src/pipeline/roles.ts';
import { runOnce } from '../../src/pipeline/run-once.ts';
import { startTestPipeline, type TestPipeline } from '../helpers/pipeline.ts';

// No secret anywhere it could leak (Redis, job data, progress, logs, return values, error messages), and masked
// personal data everywhere it lands (spool files, GCS objects, BigQuery rows).

const DASHBOARD_PASSWORD = 'dashboard-password-never-stored';
let pipeline: TestPipeline;
let logs = '';
let dashboard: DashboardHandle;

beforeAll(async () => {
  pipeline = await startTestPipeline({
    instances: [
      {
        id: 'sec-a',
        clientId: 'client-id-sec-a-visible',
        clientSecret: 'client-secret-sec-a-3f9d',
        seed: 61,
        historyRows: 80,
        historyDays: 2,
      },
      {
        id: 'sec-b',
        clientId: 'client-id-sec-b-visible',
        clientSecret: 'client-secret-sec-b-77ab',
        seed: 62,
        historyRows: 80,
        historyDays: 2,
      },
    ],
    exports: ['history', 'user'],
    defaults: { window: '30d' },
    startWorker: false,
  });
  // A worker whose logs we keep, at debug level, to search them.
  const sink = new Writable({
    write(chunk, _encoding, callback) {
      logs += chunk.toString();
      callback();
    },
  });
  const context = createContext(pipeline.config, {
    logger: createLogger({ level: 'debug', pretty: false, destination: sink }),
  });
  const worker = await startWorkerRole(context);
  process.env.LSA_DASHBOARD_PASSWORD = DASHBOARD_PASSWORD;
  process.env.LSA_DASHBOARD_USER = 'operator';
  dashboard = await startDashboard(context, { host: '127.0.0.1', port: 0 });
  // a failing window too, so error messages are part of what is searched
  pipeline.stack.looker.instance('sec-b').faults.inject({ kind: 'status', status: 500, times: 2 });
  const report = await runOnce(context, { timeoutMs: 60_000 });
  expect(report.ok).toBe(true);
  await worker.close();
  await dashboard.close();
  await context.close();
});

afterAll(async () => {
  await pipeline?.close();
});

function secrets(): string[] {
  return [
    'client-secret-sec-a-3f9d',
    'client-secret-sec-b-77ab',
    pipeline.env.LSA_HASH_KEY!,
    DASHBOARD_PASSWORD,
  ];
}

async function everythingInRedis(): Promise<string> {
  const redis = pipeline.context.redis;
  const prefix = pipeline.config.redis.prefix;
  let cursor = '0';
  const parts: string[] = [];
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    cursor = next;
    for (const key of keys) {
      parts.push(key);
      const type = await redis.type(key);
      if (type === 'string') parts.push(String(await redis.get(key)));
      else if (type === 'hash') parts.push(JSON.stringify(await redis.hgetall(key)));
      else if (type === 'list') parts.push(JSON.stringify(await redis.lrange(key, 0, -1)));
      else if (type === 'set') parts.push(JSON.stringify(await redis.smembers(key)));
      else if (type === 'zset') parts.push(JSON.stringify(await redis.zrange(key, 0, -1, 'WITHSCORES')));
      else if (type === 'stream') parts.push(JSON.stringify(await redis.xrange(key, '-', '+')));
    }
  } while (cursor !== '0');
  return parts.join('\n');
}

describe('secrets', () => {
  it('appear in no Redis key or value (job data, progress, logs, return values, errors, state)', async () => {
    const dump = await everythingInRedis();
    expect(dump.length).toBeGreaterThan(10_000); // the run really left jobs, logs and state behind
    for (const secret of secrets()) expect(dump).not.toContain(secret);
  });

  it('appear in no log line', () => {
    expect(logs).toContain('worker started');
    for (const secret of secrets()) expect(logs).not.toContain(secret);
  });
});

describe('masking', () => {
  it('leaves no raw email in spool files, GCS objects or BigQuery rows, and hashes are stable across runs', async () => {
    const emails = pipeline.stack.looker
      .instance('sec-a')
      .runQuery({ model: 'system__activity', view: 'user', fields: ['user.email'] })
      .map((r) => String(r['user.email']));
    expect(emails.length).toBeGreaterThan(0);

    // GCS objects
    for (const object of pipeline.stack.gcs.store.listObjects(pipeline.config.gcs.bucket, '')) {
      const text = gunzipSync(object.bytes).toString('utf8');
      for (const email of emails) expect(text).not.toContain(email);
      expect(text).not.toMatch(/@example\.com/);
    }
    // spool files still on disk (normally none: they are deleted after upload)
    const walk = (dir: string): string[] =>
      readdirSync(dir).flatMap((name) => {
        const path = join(dir, name);
        return statSync(path).isDirectory() ? walk(path) : [path];
      });
    for (const file of walk(pipeline.dir)) {
      if (file.endsWith('.gz'))
        expect(gunzipSync(readFileSync(file)).toString()).not.toMatch(/@example\.com/);
    }
    // BigQuery rows
    const { projectId, dataset } = pipeline.config.bigquery;
    const [users] = await pipeline.context.bigquery.query(
      `SELECT id, email, first_name, last_name FROM \`${projectId}.${dataset}.user\` WHERE looker_instance = 'sec-a' ORDER BY id`,
    );
    const [history] = await pipeline.context.bigquery.query(
      `SELECT id, user_email FROM \`${projectId}.${dataset}.history\` WHERE looker_instance = 'sec-a' ORDER BY id`,
    );
    expect(JSON.stringify([users, history])).not.toMatch(/@example\.com/);
    const hash = hashMask(pipeline.env.LSA_HASH_KEY!);
    const truth = pipeline.stack.looker.instance('sec-a').runQuery({
      model: 'system__activity',
      view: 'user',
      fields: ['user.id', 'user.email'],
      sorts: ['user.id'],
    });
    expect((users as { email: string }[]).map((u) => u.email)).toEqual(
      truth.map((t) => hash(String(t['user.email']))),
    );
    expect((users as { first_name: unknown }[]).every((u) => u.first_name === null)).toBe(true);
    // history.user_email is hashed with the same key, so history joins to user on the hash
    const historyTruth = pipeline.stack.looker.instance('sec-a').runQuery({
      model: 'system__activity',
      view: 'history',
      fields: ['history.id', 'user.email'],
      sorts: ['history.id'],
    });
    expect((history as { user_email: string | null }[]).map((h) => h.user_email)).toEqual(
      historyTruth.map((t) => (t['user.email'] === null ? null : hash(String(t['user.email'])))),
    );
  });
});
