import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { inject } from 'vitest';

/** The URL of the run's Redis (private server or REDIS_URL), from the global setup. */
export function redisUrl(): string {
  return inject('redisUrl');
}

/** A key prefix no other test file uses, in hash-tag form like production's `{lsa}`. */
export function uniquePrefix(label = 't'): string {
  return `{${label}-${randomUUID().slice(0, 8)}}`;
}

export function connectRedis(): Redis {
  return new Redis(redisUrl(), { maxRetriesPerRequest: null, lazyConnect: false });
}
