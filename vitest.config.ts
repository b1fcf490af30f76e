import { defineConfig } from 'vitest/config';

// Three projects: fast unit tests; the emulators' own tests (the workspace package `emulators/`, each emulator
// driven by its real client); and integration tests that run the pipeline against real Redis and the emulators.
// All share one private redis-server started by the global setup (or REDIS_URL).
export default defineConfig({
  test: {
    globalSetup: ['test/helpers/global-setup.ts'],
    projects: [
      {
        extends: true,
        // Two workers, like the other projects (the default is one fewer than the cores: one on this machine).
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 10_000, maxWorkers: 2 },
      },
      {
        extends: true,
        test: {
          name: 'emulators',
          include: ['emulators/test/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          maxWorkers: 2,
          sequence: { groupOrder: 1 },
        },
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
