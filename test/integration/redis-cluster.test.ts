import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureRedisReachable } from '../../src/cli/command.ts';
import { ConfigError } from '../../src/config/errors.ts';
import { parseConfigText } from '../../src/config/load.ts';
import { runOnce } from '../../src/pipeline/run-once.ts';
import { instanceSpec } from '../helpers/instances.ts';
import { expectedKeys, loadedKeys, startTestPipeline, type TestPipeline } from '../helpers/pipeline.ts';
import {
  type ClusterNode,
  type PrivateRedisCluster,
  redisClusterUnavailable,
  startRedisCluster,
} from '../helpers/redis-cluster.ts';

// The pipeline on a real Redis Cluster of three masters: every connection is a cluster client, every key of the
// pipeline (BullMQ's and its own state) shares the `{lsa}` hash tag, hence one slot on one node, so the Lua
// scripts that touch several keys run there. The config names a node that does NOT serve that slot: a plain
// client would be answered MOVED on the first command, only a cluster client follows to the right node.

const PREFIX = '{lsa}';
const EXPORTS = ['history', 'content_usage', 'user', 'event'];
const unavailable = redisClusterUnavailable();

let cluster: PrivateRedisCluster;
let owner: ClusterNode;
let pipeline: TestPipeline;

beforeAll(async () => {
  if (unavailable) return;
  cluster = await startRedisCluster();
  owner = await cluster.nodeOf(PREFIX);
  const seed = cluster.nodes.find((n) => n !== owner)!;
  pipeline = await startTestPipeline({
    redisUrl: `redis+cluster://127.0.0.1:${seed.port}`,
    prefix: PREFIX,
    instances: [
      instanceSpec('alpha', 1, { historyRows: 300, historyDays: 10 }),
      instanceSpec('beta', 2, { historyRows: 600, historyDays: 20, maxRowLimit: 500 }),
    ],
    exports: EXPORTS,
    defaults: { window: '30d', pageSize: '500' },
  });
});

afterAll(async () => {
  await pipeline?.close();
  await cluster?.stop();
});

describe.skipIf(unavailable)(
  `the pipeline on a 3-master Redis Cluster${unavailable ? ` (skipped: ${unavailable})` : ''}`,
  () => {
    it('connects with cluster clients, through a node that does not serve the {lsa} slot', () => {
      expect(pipeline.context.redis).toBeInstanceOf(Cluster);
      expect(pipeline.config.redis.url).not.toContain(`:${owner.port}`);
    });

    it('passes the CLI reachability probe, which asks the node the URL names', async () => {
      await expect(ensureRedisReachable(pipeline.config)).resolves.toBeUndefined();
    });

    it('loads every export of both instances, and every table equals the emulator', async () => {
      const { context } = pipeline;
      const report = await runOnce(context, { timeoutMs: 45_000 });
      expect(report.windows.filter((w) => w.state !== 'committed')).toEqual([]);
      expect(new Set(report.windows.map((w) => `${w.instanceId}/${w.exportName}`)).size).toBe(
        2 * EXPORTS.length,
      );
      for (const instance of pipeline.config.instances) {
        for (const resolved of instance.exports) {
          const name = `${instance.id}/${resolved.definition.name}`;
          const expected = expectedKeys(pipeline.stack, instance.id, resolved, Date.now());
          expect(expected.length, `${name} has rows in the emulator`).toBeGreaterThan(0);
          expect.soft(await loadedKeys(context, resolved, instance.id), name).toEqual(expected);
          expect(
            (await context.exportState.get(instance.id, resolved.definition.name)).initialLoad,
            name,
          ).toBe(false);
        }
      }
    });

    it('keeps every key it created in the slot of {lsa}, on one node', async () => {
      const slot = Number(await cluster.admin[0]!.call('CLUSTER', 'KEYSLOT', PREFIX));
      const keysByPort = new Map<number, string[]>();
      for (const [i, admin] of cluster.admin.entries()) {
        // The cluster is this file's alone: every key on every node is the pipeline's.
        keysByPort.set(cluster.nodes[i]!.port, await admin.keys('*'));
      }
      expect([...keysByPort].filter(([, keys]) => keys.length > 0).map(([port]) => port)).toEqual([
        owner.port,
      ]);
      const keys = keysByPort.get(owner.port)!;
      // BullMQ's queues and the pipeline's own state are both there.
      expect(keys).toEqual(expect.arrayContaining([`${PREFIX}:extract:meta`, `${PREFIX}:instance:alpha`]));
      expect(keys.filter((k) => k.startsWith(`${PREFIX}:load`)).length).toBeGreaterThan(0);
      const admin = cluster.admin[cluster.nodes.indexOf(owner)]!;
      for (const key of keys) {
        expect(key.startsWith(PREFIX), key).toBe(true);
        expect(Number(await admin.call('CLUSTER', 'KEYSLOT', key)), key).toBe(slot);
      }
    });

    it("the pipeline's main and worker connections reached the slot's node through the cluster", async () => {
      const admin = cluster.admin[cluster.nodes.indexOf(owner)]!;
      const clients = String(await admin.call('CLIENT', 'LIST'));
      expect(clients).toMatch(/ name=lsa-main-/);
      expect(clients).toMatch(/ name=lsa-worker-/);
    });
  },
);

describe('a Redis Cluster in config', () => {
  const ENV = { LOOKER_ID: 'id', LOOKER_SECRET: 'secret', HASH_KEY: 'key' };
  const configWith = (redis: string) => `
redis: ${redis}
gcs: { bucket: my-bucket }
bigquery: { projectId: my-project, dataset: looker_activity }
masking: { hashKey: "\${HASH_KEY}" }
instances:
  - id: prod-eu
    baseUrl: https://prod-eu.looker.com/
    clientId: "\${LOOKER_ID}"
    clientSecret: "\${LOOKER_SECRET}"
`;
  const problemsOf = (redis: string): string => {
    try {
      parseConfigText(configWith(redis), 'lsa.yaml', { env: ENV });
      return '';
    } catch (error) {
      if (error instanceof ConfigError) return error.message;
      throw error;
    }
  };

  it('is a redis+cluster:// or rediss+cluster:// URL, with the default {lsa} prefix', () => {
    const config = parseConfigText(
      configWith('{ url: "rediss+cluster://:pw@redis.example:6379" }'),
      'lsa.yaml',
      {
        env: ENV,
      },
    );
    expect(config.redis).toEqual({ url: 'rediss+cluster://:pw@redis.example:6379', prefix: '{lsa}' });
    expect(problemsOf('{ url: "redis+cluster://10.0.0.1:7000/0" }')).toBe('');
  });

  it('refuses a prefix that is not a hash tag, and a database other than 0', () => {
    expect(problemsOf('{ url: "redis+cluster://10.0.0.1:7000", prefix: "lsa" }')).toContain(
      'redis.prefix: "lsa" is not a hash tag like "{lsa}"',
    );
    expect(problemsOf('{ url: "redis+cluster://10.0.0.1:7000/3" }')).toContain(
      'redis.url: selects a database other than 0',
    );
    // A single Redis does not care where keys hash.
    expect(problemsOf('{ url: "redis://10.0.0.1:6379/3", prefix: "lsa" }')).toBe('');
  });
});
