import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { StateKeys } from './keys.ts';

// Looker limits concurrent System Activity queries, so no instance ever runs more than `maxConcurrentQueries`
// extracts at once, whatever the number of workers: a lease is a member of a per-instance sorted set scored by
// its expiry. Expired leases (a worker killed mid-extract) are purged by an acquire that finds every slot taken,
// so a slot is never lost for longer than the lease's time to live; running extracts renew theirs as they make
// progress. An acquire that finds a free slot does not purge: an expired lease there keeps no one waiting, and
// the set never holds more than the limit (one command less on every extract). The set has no time to live of
// its own: it is one key per instance with at most `limit` members (and the cool-down's), and an expiry set on
// every acquire and renewal was one more command on every extract.
//
// A Looker 429 cools the whole instance down: no query starts before its Retry-After, from any worker. The
// cool-down takes every slot of the instance until then — `limit` members of the same set scored by its end — so
// the acquire that every extract runs anyway is what says "not yet", with no look of its own at a cool-down. A
// cool-down only ever extends (two workers hit by 429s keep the later end), and ends by itself: its members expire
// like leases.

const COOL_DOWN_MEMBER = '~cool-down:';

// KEYS: the instance's set. ARGV: now, limit, the new lease's expiry, its token. Returns {1} with a slot, else
// {0, the end of the instance's cool-down, or 0 when none holds its slots}.
const ACQUIRE = `
local key, now, limit, expiry, token = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4]
local held = redis.call('ZCARD', key)
if held >= limit then
  held = held - redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  if held >= limit then return {0, redis.call('ZSCORE', key, '${COOL_DOWN_MEMBER}1') or 0} end
end
redis.call('ZADD', key, expiry, token)
return {1}
`;

export interface QueryLease {
  token: string;
  /** Extends the lease; false when it had already expired. */
  renew(): Promise<boolean>;
  release(): Promise<void>;
}

/** A slot, or none: then, when the instance is cooling down after a 429, until when (epoch ms). */
export type Acquired = { lease: QueryLease } | { lease: null; coolDownUntilMs: number | null };

export class QueryLeases {
  constructor(
    private readonly redis: Redis,
    private readonly keys: StateKeys,
    readonly ttlMs: number,
  ) {
    this.redis.defineCommand('lsaAcquireLease', { numberOfKeys: 1, lua: ACQUIRE });
  }

  /** A lease on one of the instance's query slots, unless all are taken (by queries or a cool-down). */
  async acquire(instanceId: string, limit: number): Promise<Acquired> {
    const key = this.keys.lease(instanceId);
    const token = randomUUID();
    const now = Date.now();
    const [acquired, coolDownEnd] = await (
      this.redis as unknown as { lsaAcquireLease(...args: (string | number)[]): Promise<[number, string?]> }
    ).lsaAcquireLease(key, now, limit, now + this.ttlMs, token);
    if (acquired !== 1) return { lease: null, coolDownUntilMs: Number(coolDownEnd) || null };
    return {
      lease: {
        token,
        renew: async () => {
          // XX: a lease that already expired is not taken back (the slot may have gone to someone else).
          return (await this.redis.zadd(key, 'XX', 'CH', Date.now() + this.ttlMs, token)) === 1;
        },
        release: async () => {
          await this.redis.zrem(key, token);
        },
      },
    };
  }

  /** Takes all `limit` slots of the instance until `untilMs` (a Looker 429's Retry-After), or later if so already. */
  async coolDown(instanceId: string, untilMs: number, limit: number): Promise<void> {
    const members = Array.from({ length: limit }, (_, i) => [untilMs, `${COOL_DOWN_MEMBER}${i + 1}`]);
    await this.redis.zadd(this.keys.lease(instanceId), 'GT', ...members.flat());
  }

  /** When the instance's cool-down ends (epoch ms), or null when it is not cooling down. */
  async coolDownUntil(instanceId: string): Promise<number | null> {
    const end = Number(await this.redis.zscore(this.keys.lease(instanceId), `${COOL_DOWN_MEMBER}1`));
    return end > Date.now() ? end : null;
  }
}
