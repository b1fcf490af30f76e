import { defineConfig } from 'vitest/config';

// Two projects: fast unit tests, and integration tests that run the real clients against real Redis and the
// local emulators. Both share one private redis-server started by the global setup (or REDIS_URL).
export default defineConfig({
  test: {
    globalSetup: ['test/helpers/global-setup.ts'],
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 10_000 },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          maxWorkers: 2,
          // after the unit tests (projects with different maxWorkers need their own group)
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
