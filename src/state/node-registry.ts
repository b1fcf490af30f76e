import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import type { StateKeys } from './keys.ts';

// Nodes announce themselves with a heartbeat. Upload jobs are pinned to the node whose disk holds the spool
// file, so the scheduler watches heartbeats: a node silent for longer than `deadAfterMs` is presumed gone and
// its pending uploads are re-extracted elsewhere.

export interface NodeInfo {
  nodeId: string;
  hostname: string;
  pid: number;
  spoolDir: string;
  startedAt: string;
  lastHeartbeatMs: number;
}

export class NodeRegistry {
  constructor(
    private readonly redis: Redis,
    private readonly keys: StateKeys,
  ) {}

  async register(nodeId: string, spoolDir: string): Promise<void> {
    await this.redis
      .multi()
      .hset(this.keys.node(nodeId), {
        hostname: hostname(),
        pid: String(process.pid),
        spoolDir,
        startedAt: new Date().toISOString(),
      })
      .zadd(this.keys.nodes(), Date.now(), nodeId)
      .exec();
  }

  async heartbeat(nodeId: string): Promise<void> {
    await this.redis.zadd(this.keys.nodes(), Date.now(), nodeId);
  }

  async deregister(nodeId: string): Promise<void> {
    await this.redis.multi().zrem(this.keys.nodes(), nodeId).del(this.keys.node(nodeId)).exec();
  }

  async list(): Promise<NodeInfo[]> {
    const entries = await this.redis.zrange(this.keys.nodes(), 0, -1, 'WITHSCORES');
    const nodes: NodeInfo[] = [];
    for (let i = 0; i < entries.length; i += 2) {
      const nodeId = entries[i]!;
      const info = await this.redis.hgetall(this.keys.node(nodeId));
      nodes.push({
        nodeId,
        hostname: info.hostname ?? '?',
        pid: Number(info.pid ?? 0),
        spoolDir: info.spoolDir ?? '?',
        startedAt: info.startedAt ?? '?',
        lastHeartbeatMs: Number(entries[i + 1]),
      });
    }
    return nodes;
  }

  async dead(deadAfterMs: number): Promise<string[]> {
    return this.redis.zrangebyscore(this.keys.nodes(), '-inf', Date.now() - deadAfterMs);
  }
}
