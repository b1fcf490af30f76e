import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { StateKeys } from './keys.ts';

// Looker limits concurrent System Activity queries, so no instance ever runs more than `maxConcurrentQueries`
// extracts at once, whatever the number of workers: a lease is a member of a per-instance sorted set scored by
// its expiry. Expired leases (a worker killed mid-extract) are purged by an acquire that finds every slot taken,
// so a slot is never lost for longer than the lease's time to live; running extracts renew theirs as they make
// progress. An acquire that finds a free slot does not purge: an expired lease there keeps no one waiting, and
// the set never holds more than the limit (one command less on every extract).

const ACQUIRE = `
local key, now, limit, expiry, token = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4]
local held = redis.call('ZCARD', key)
if held >= limit then
  held = held - redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  if held >= limit then return 0 end
end
redis.call('ZADD', key, expiry, token)
redis.call('PEXPIRE', key, tonumber(expiry) - now)
return 1
`;

export interface QueryLease {
  token: string;
  /** Extends the lease; false when it had already expired. */
  renew(): Promise<boolean>;
  release(): Promise<void>;
}

export class QueryLeases {
  constructor(
    private readonly redis: Redis,
    private readonly keys: StateKeys,
    readonly ttlMs: number,
  ) {
    this.redis.defineCommand('lsaAcquireLease', { numberOfKeys: 1, lua: ACQUIRE });
  }

  /** A lease on one of the instance's query slots, or null when all are taken. */
  async acquire(instanceId: string, limit: number): Promise<QueryLease | null> {
    const key = this.keys.lease(instanceId);
    const token = randomUUID();
    const now = Date.now();
    const acquired = await (
      this.redis as unknown as { lsaAcquireLease(...args: (string | number)[]): Promise<number> }
    ).lsaAcquireLease(key, now, limit, now + this.ttlMs, token);
    if (acquired !== 1) return null;
    return {
      token,
      renew: async () => {
        // XX: a lease that already expired is not taken back (the slot may have gone to someone else).
        const changed = await this.redis.zadd(key, 'XX', 'CH', Date.now() + this.ttlMs, token);
        if (changed === 1) await this.redis.pexpire(key, this.ttlMs);
        return changed === 1;
      },
      release: async () => {
        await this.redis.zrem(key, token);
      },
    };
  }

  async active(instanceId: string): Promise<number> {
    return this.redis.zcount(this.keys.lease(instanceId), Date.now(), '+inf');
  }
}
