import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort, redisServerInstalled } from '../../src/state/private-redis.ts';

// A private Redis Cluster of three masters and no replicas, on loopback, for the tests that prove the pipeline
// runs on one. Each node is a plain redis-server with cluster mode on, in a folder of its own (its nodes.conf);
// `redis-cli --cluster create` splits the 16,384 slots between them.

export interface ClusterNode {
  port: number;
  /** A plain connection URL to this node alone. */
  url: string;
}

export interface PrivateRedisCluster {
  nodes: ClusterNode[];
  /** A connection to each node, for assertions (KEYS, CLUSTER KEYSLOT, CLIENT LIST); closed by stop(). */
  admin: Redis[];
  /** The node serving the slot of `key`. */
  nodeOf(key: string): Promise<ClusterNode>;
  stop(): Promise<void>;
}

/** Why a cluster cannot be started here, or undefined when it can. */
export function redisClusterUnavailable(): string | undefined {
  if (!redisServerInstalled()) return 'redis-server is not on PATH';
  if (spawnSync('redis-cli', ['--version'], { stdio: 'ignore' }).status !== 0) {
    return 'redis-cli is not on PATH (Debian/Ubuntu: sudo apt-get install -y redis-tools)';
  }
  return undefined;
}

const run = promisify(execFile);

export async function startRedisCluster(masters = 3, timeoutMs = 20_000): Promise<PrivateRedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'lsa-redis-cluster-'));
  const children: ChildProcess[] = [];
  const admin: Redis[] = [];
  const nodes: ClusterNode[] = [];
  const stop = async () => {
    for (const connection of admin) connection.disconnect();
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < masters; i++) {
      const port = await freePort();
      // The cluster bus defaults to port + 10000, which may be taken or above 65535: it gets a free port too.
      const busPort = await freePort();
      const nodeDir = mkdtempSync(join(dir, `node-${port}-`));
      const args = [
        '--port',
        String(port),
        '--cluster-port',
        String(busPort),
        '--bind',
        '127.0.0.1',
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        `nodes-${port}.conf`,
        '--dir',
        nodeDir,
        '--appendonly',
        'no',
        '--save',
        '',
      ];
      const child = spawn('redis-server', args, { stdio: 'ignore' });
      children.push(child);
      nodes.push({ port, url: `redis://127.0.0.1:${port}` });
    }
    for (const node of nodes) {
      // Connecting retries until the server listens; no failed command is ever retried blindly.
      const connection = new Redis(node.url, { maxRetriesPerRequest: null, retryStrategy: () => 50 });
      // Refused connections while the server starts are expected: the retry strategy covers them.
      connection.on('error', () => undefined);
      admin.push(connection);
      await withDeadline(connection.ping(), timeoutMs, `redis-server on port ${node.port} did not answer`);
    }
    await run(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...nodes.map((n) => `127.0.0.1:${n.port}`),
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      ],
      { timeout: timeoutMs },
    );
    const deadline = Date.now() + timeoutMs;
    for (const [i, connection] of admin.entries()) {
      for (;;) {
        const info = String(await connection.call('CLUSTER', 'INFO'));
        if (/cluster_state:ok/.test(info)) break;
        if (Date.now() > deadline) {
          throw new Error(
            `node on port ${nodes[i]!.port} has no cluster_state:ok after ${timeoutMs} ms:\n${info}`,
          );
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    nodes,
    admin,
    async nodeOf(key: string) {
      const slot = Number(await admin[0]!.call('CLUSTER', 'KEYSLOT', key));
      const ranges = (await admin[0]!.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
      const owner = ranges.find(([from, to]) => slot >= from && slot <= to);
      const node = nodes.find((n) => n.port === Number(owner?.[2][1]));
      if (!node) throw new Error(`no node of the cluster serves slot ${slot} (key ${key})`);
      return node;
    },
    stop,
  };
}

async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
