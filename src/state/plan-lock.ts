import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { StateKeys } from './keys.ts';

// Two fan-outs (a tick and an `lsa run`, or two schedulers) must not plan the same export at once. One lock per
// instance covers its exports: a fan-out plans an instance's exports in a few milliseconds, and one lock per
// instance instead of one per export is 4 Redis commands per instance instead of per window. The lock is a key
// with a token and a time to live; releasing it compares the token and deletes in one script, so a fan-out
// whose lock expired (it stalled) can never release the lock another fan-out holds by then.

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

export interface HeldLock {
  release(): Promise<void>;
}

export class PlanLocks {
  constructor(
    private readonly redis: Redis,
    private readonly keys: StateKeys,
    private readonly ttlMs = 30_000,
  ) {
    this.redis.defineCommand('lsaReleaseLock', { numberOfKeys: 1, lua: RELEASE });
  }

  /** The plan lock of one instance's exports, or null while another fan-out holds it. */
  async acquire(instanceId: string): Promise<HeldLock | null> {
    const key = this.keys.planLock(instanceId);
    const token = randomUUID();
    if ((await this.redis.set(key, token, 'PX', this.ttlMs, 'NX')) !== 'OK') return null;
    return {
      release: async () => {
        await (
          this.redis as unknown as { lsaReleaseLock(key: string, token: string): Promise<number> }
        ).lsaReleaseLock(key, token);
      },
    };
  }
}
