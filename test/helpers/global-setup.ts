import type { TestProject } from 'vitest/node';
import { startPrivateRedis } from '../../src/state/private-redis.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

// One redis-server for the whole run: REDIS_URL when the caller has one, otherwise a private server on a free
// port. Each test file isolates itself with its own key prefix (see test/helpers/redis.ts).
export default async function setup(project: TestProject) {
  if (process.env.REDIS_URL) {
    project.provide('redisUrl', process.env.REDIS_URL);
    return;
  }
  const redis = await startPrivateRedis({ persistence: false });
  project.provide('redisUrl', redis.url);
  return async () => {
    await redis.stop();
  };
}
