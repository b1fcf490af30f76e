import type { Redis } from 'ioredis';
import type { StateKeys } from './keys.ts';

// A Looker 429 cools the whole instance down: no query starts before its Retry-After, from any worker. One hash
// of instance → epoch ms; a cool-down only ever extends (two workers hit by 429s keep the later of the two).

const EXTEND = `
local current = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if tonumber(ARGV[2]) > current then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return 1
`;

export class CoolDowns {
  constructor(
    private readonly redis: Redis,
    private readonly keys: StateKeys,
  ) {
    this.redis.defineCommand('lsaExtendCoolDown', { numberOfKeys: 1, lua: EXTEND });
  }

  /** Epoch ms before which no query may start on the instance (0: none). */
  async until(instanceId: string): Promise<number> {
    return Number((await this.redis.hget(this.keys.coolDowns(), instanceId)) ?? 0);
  }

  async coolDown(instanceId: string, untilMs: number): Promise<void> {
    await (
      this.redis as unknown as { lsaExtendCoolDown(key: string, id: string, until: string): Promise<number> }
    ).lsaExtendCoolDown(this.keys.coolDowns(), instanceId, String(untilMs));
  }
}
