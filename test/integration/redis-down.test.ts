import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, type PrivateRedis, startPrivateRedis } from '../../src/state/private-redis.ts';
import { type LsaProcess, spawnLsa, waitFor } from '../helpers/processes.ts';

// Redis goes away under a running `lsa start` (every role in one real process): the probes still answer at once,
// `lsa status` says so within seconds, the logs do not flood, and SIGTERM still ends the process in its grace.

const GRACE_MS = 3_000;
let redis: PrivateRedis;
let dir: string;
let configFile: string;
let dashboardPort: number;
let healthPort: number;
let lsa: LsaProcess;

beforeAll(async () => {
  redis = await startPrivateRedis();
  dir = mkdtempSync(join(tmpdir(), 'lsa-redis-down-'));
  dashboardPort = await freePort();
  healthPort = await freePort();
  const lookerPort = await freePort();
  configFile = join(dir, 'lsa.yaml');
  writeFileSync(
    configFile,
    `redis: { url: "${redis.url}" }
spool: { dir: ${join(dir, 'spool')} }
gcs: { bucket: lsa-down, apiEndpoint: "http://127.0.0.1:${lookerPort}" }
bigquery: { projectId: p, dataset: d, apiEndpoint: "http://127.0.0.1:${lookerPort}" }
masking: { hashKey: "\${DOWN_HASH_KEY}" }
workers: { shutdownGrace: 3s, heartbeat: 1s, healthPort: ${healthPort} }
dashboard: { host: 127.0.0.1, port: ${dashboardPort} }
instances:
  - id: down
    baseUrl: http://127.0.0.1:${lookerPort}
    clientId: "\${DOWN_ID}"
    clientSecret: "\${DOWN_SECRET}"
    exports: [user]
`,
  );
  lsa = spawnLsa(['start', '--config', configFile], {
    DOWN_HASH_KEY: 'k'.repeat(32),
    DOWN_ID: 'down-id',
    DOWN_SECRET: 'down-secret-value',
    NODE_ENV: 'production',
  });
  await waitFor(
    async () => (await fetch(`http://127.0.0.1:${dashboardPort}/readyz`).catch(() => null))?.status === 200,
    30_000,
    `the dashboard to be ready:\n${lsa.output()}`,
  );
});

afterAll(async () => {
  if (lsa?.child.exitCode === null) lsa.kill('SIGKILL');
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const redisWarnings = (output: string) =>
  output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { severity: string; message: string })
    .filter((entry) => entry.severity === 'WARNING' && /redis|worker error/i.test(entry.message));

describe('Redis unreachable', () => {
  it('probes answer within 2 s, status fails within 5 s, warnings are throttled, SIGTERM exits in the grace', async () => {
    expect(await (await fetch(`http://127.0.0.1:${healthPort}/healthz`)).text()).toBe('ok');
    await redis.stop();
    const stoppedAt = Date.now();

    const healthz = await fetch(`http://127.0.0.1:${dashboardPort}/healthz`, {
      signal: AbortSignal.timeout(2_000),
    });
    expect(healthz.status).toBe(200);
    const readyz = await fetch(`http://127.0.0.1:${dashboardPort}/readyz`, {
      signal: AbortSignal.timeout(2_000),
    });
    expect(readyz.status).toBe(503);
    expect(await readyz.text()).toMatch(/redis/i);
    const workerHealth = await fetch(`http://127.0.0.1:${healthPort}/healthz`, {
      signal: AbortSignal.timeout(2_000),
    });
    expect(workerHealth.status).toBe(200);

    const started = Date.now();
    const status = spawnLsa(['status', '--config', configFile], { DOWN_HASH_KEY: 'k'.repeat(32) });
    const code = await status.exited;
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(code).toBe(1);
    expect(status.output()).toMatch(/Redis at redis:\/\/127\.0\.0\.1:\d+\/? is unreachable \(.*ECONNREFUSED/);

    // Every connection of the process retries several times a second; the log says so once per 10 s.
    await waitFor(() => redisWarnings(lsa.output()).length > 0, 10_000, 'a Redis warning');
    const elapsed = Date.now() - stoppedAt;
    expect(redisWarnings(lsa.output()).length).toBeLessThanOrEqual(1 + Math.floor(elapsed / 10_000));

    const signalled = Date.now();
    lsa.kill('SIGTERM');
    expect(await lsa.exited).toBe(0);
    expect(Date.now() - signalled).toBeLessThan(GRACE_MS + 2_000);
    expect(lsa.output()).not.toContain('down-secret-value');
  });
});
