import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.ts';
import { silentLogger } from '../../src/logging.ts';
import { createNotifier } from '../../src/notify/webhook.ts';
import { createContext, type PipelineContext } from '../../src/pipeline/context.ts';
import { type RoleHandle, startSchedulerRole, startWorkerRole } from '../../src/pipeline/roles.ts';
import { runOnce } from '../../src/pipeline/run-once.ts';
import { notifyStaleExports } from '../../src/pipeline/stale-watch.ts';
import { freePort } from '../../src/state/private-redis.ts';
import { FAST_WORKERS, startTestPipeline, type TestPipeline } from '../helpers/pipeline.ts';
import { waitFor } from '../helpers/processes.ts';

// Notifications reach a local Slack-compatible receiver: a window failed for good, an export stale past its
// bound (once, not every check), a dead node. A webhook that fails never fails the pipeline. No secret is ever
// in a body.

interface Received {
  text: string;
  blocks?: unknown[];
}

let pipeline: TestPipeline;
let context: PipelineContext;
let roles: RoleHandle[] = [];
let receiver: Server;
let receiverUrl: string;
const bodies: string[] = [];
let answerStatus = 200;
const messages = () => bodies.map((b) => JSON.parse(b) as Received);

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    req.on('end', () => {
      bodies.push(body);
      res.writeHead(answerStatus).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', () => resolve()));
  const address = receiver.address();
  receiverUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/hooks/T000/B000`;
  pipeline = await startTestPipeline({
    instances: [
      { id: 'fresh', clientId: 'fresh-id', clientSecret: 'fresh-secret-value', seed: 8, historyRows: 30 },
    ],
    exports: ['user'],
    extraYaml: `${FAST_WORKERS}\nnotify: { webhook: "${receiverUrl}", staleAfter: 1s, checkInterval: 300ms }`,
    startWorker: false,
  });
  const deadPort = await freePort();
  const yaml = `${readFileSync(pipeline.configFile, 'utf8')}  - id: gone
    baseUrl: http://127.0.0.1:${deadPort}
    clientId: "\${NOTIFY_GONE_ID}"
    clientSecret: "\${NOTIFY_GONE_SECRET}"
    exports: [user]
`;
  process.env.NOTIFY_GONE_ID = 'notify-gone-id';
  process.env.NOTIFY_GONE_SECRET = 'notify-gone-secret-value';
  context = createContext(parseConfigText(yaml, join(pipeline.dir, 'notify.yaml')), {
    logger: silentLogger(),
  });
  roles = [await startWorkerRole(context), await startSchedulerRole(context)];
});

afterAll(async () => {
  for (const role of roles.reverse()) await role.close();
  await context?.close();
  await pipeline?.close();
  await new Promise<void>((resolve) => receiver?.close(() => resolve()));
});

describe('notifications', () => {
  it('reports a window failed for good, then the export gone stale, once', async () => {
    const report = await runOnce(context, { timeoutMs: 45_000 });
    expect(report.windows.find((w) => w.instanceId === 'gone')!.state).toBe('failed');
    await waitFor(
      () => messages().some((m) => m.text.includes('gone user: window')),
      10_000,
      'the failed-window message',
    );
    const failed = messages().find((m) => m.text.includes('gone user: window'))!;
    expect(failed.text).toMatch(
      /:red_circle: gone user: window snapshot-\S+ failed for good\nextract job extract-gone-user-/,
    );
    expect(failed.blocks).toHaveLength(2);

    // 'fresh' loaded; 1 s later it is stale, and the scheduler's check (every 300 ms) says so once.
    await waitFor(
      () => messages().some((m) => m.text.includes('fresh user: no load for')),
      10_000,
      'the stale-export message',
    );
    expect(await notifyStaleExports(context, createNotifier(context.config, silentLogger()))).toEqual([]);
    expect(messages().filter((m) => m.text.includes('fresh user: no load for'))).toHaveLength(1);
  });

  it('reports a dead node', async () => {
    await context.nodes.register('ghost-node', '/tmp/ghost');
    await context.redis.zadd(context.keys.nodes(), Date.now() - 60_000, 'ghost-node');
    await waitFor(
      () => messages().some((m) => m.text.includes('node ghost-node stopped heartbeating')),
      10_000,
      'the dead-node message',
    );
  });

  it('never fails the caller when the webhook refuses or is unreachable', async () => {
    answerStatus = 500;
    const notifier = createNotifier(context.config, silentLogger());
    expect(await notifier.send({ kind: 'node-dead', nodeId: 'x' })).toBe(false);
    answerStatus = 200;
    const unreachable = createNotifier(
      {
        ...context.config,
        notify: { ...context.config.notify!, webhook: `http://127.0.0.1:${await freePort()}/` },
      },
      silentLogger(),
    );
    expect(await unreachable.send({ kind: 'node-dead', nodeId: 'x' })).toBe(false);
  });

  it('never sends a secret', () => {
    expect(bodies.length).toBeGreaterThanOrEqual(3);
    const secrets = [
      'fresh-secret-value',
      'fresh-id',
      'notify-gone-secret-value',
      'notify-gone-id',
      pipeline.env.LSA_HASH_KEY!,
      '/hooks/T000/B000',
    ];
    for (const body of bodies) for (const secret of secrets) expect(body).not.toContain(secret);
  });
});
