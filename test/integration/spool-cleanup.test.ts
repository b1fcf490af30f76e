import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.ts';
import { silentLogger } from '../../src/logging.ts';
import { createContext, type PipelineContext } from '../../src/pipeline/context.ts';
import { freePort } from '../../src/state/private-redis.ts';
import { spawnLsa, waitFor } from '../helpers/processes.ts';
import { redisUrl, uniquePrefix } from '../helpers/redis.ts';

// Spool files a killed node left behind are swept when a worker starts on the same spool dir (a real
// `lsa start --role worker`): finished and partial files of windows no longer pending go, files of pending
// windows stay, and a live node's folder is not touched.

let dir: string;
let configFile: string;
let context: PipelineContext;
const env = { SWEEP_ID: 'sweep-id', SWEEP_SECRET: 'sweep-secret', SWEEP_HASH_KEY: 'h'.repeat(32) };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lsa-sweep-'));
  const dead = await freePort();
  configFile = join(dir, 'lsa.yaml');
  const yaml = `redis: { url: "${redisUrl()}", prefix: "${uniquePrefix('sweep')}" }
spool: { dir: ${join(dir, 'spool')} }
gcs: { bucket: lsa-sweep, apiEndpoint: "http://127.0.0.1:${dead}" }
bigquery: { projectId: p, dataset: d, apiEndpoint: "http://127.0.0.1:${dead}" }
masking: { hashKey: "\${SWEEP_HASH_KEY}" }
workers: { shutdownGrace: 2s, deadNodeAfter: 5s }
instances:
  - id: acme
    baseUrl: http://127.0.0.1:${dead}
    clientId: "\${SWEEP_ID}"
    clientSecret: "\${SWEEP_SECRET}"
    exports: [history]
`;
  writeFileSync(configFile, yaml);
  context = createContext(parseConfigText(yaml, configFile, { env }), { logger: silentLogger() });
});

afterAll(async () => {
  await context?.close();
  rmSync(dir, { recursive: true, force: true });
});

const file = (node: string, name: string) => join(dir, 'spool', node, 'acme', 'history', name);
function touch(path: string) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, 'x');
}

describe('spool sweep at worker start', () => {
  it('removes what no pending window needs, keeps the rest', async () => {
    const pendingWindow = '2026-11-01T000000Z--2026-11-02T000000Z';
    const committedWindow = '2026-10-31T000000Z--2026-11-01T000000Z';
    await context.redis.zadd(
      context.keys.pending('acme', 'history'),
      Date.parse('2026-11-01'),
      pendingWindow,
    );
    await context.nodes.register('live-node', join(dir, 'spool', 'live-node'));

    const keptFinished = file('killed-node', `${pendingWindow}.ndjson.gz`);
    const keptPartial = file('killed-node', `${pendingWindow}.ndjson.gz.partial`);
    const goneFinished = file('killed-node', `${committedWindow}.ndjson.gz`);
    const gonePartial = file('killed-node', `${committedWindow}.ndjson.gz.partial`);
    const liveNodes = file('live-node', `${committedWindow}.ndjson.gz.partial`);
    const notOurs = join(dir, 'spool', 'killed-node', 'README.txt');
    for (const path of [keptFinished, keptPartial, goneFinished, gonePartial, liveNodes, notOurs])
      touch(path);

    const worker = spawnLsa(
      ['start', '--role', 'worker', '--config', configFile, '--node-id', 'new-node'],
      env,
    );
    try {
      await waitFor(
        () => worker.output().includes('worker started'),
        30_000,
        `the worker:\n${worker.output()}`,
      );
    } finally {
      worker.kill('SIGTERM');
      await worker.exited;
    }
    expect(worker.output()).toContain('spool files left by stopped nodes swept');
    expect(existsSync(goneFinished)).toBe(false);
    expect(existsSync(gonePartial)).toBe(false);
    expect(existsSync(keptFinished)).toBe(true);
    expect(existsSync(keptPartial)).toBe(true);
    expect(existsSync(liveNodes)).toBe(true);
    expect(existsSync(notOurs)).toBe(true);
  });
});
