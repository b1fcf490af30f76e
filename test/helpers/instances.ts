import type { LookerInstanceSpec } from 'lsa-emulators/looker';

// One way to describe an emulated Looker instance in tests. Its credentials follow from its id (`<id>-id`,
// `<id>-secret-value`): distinct per instance and long enough that a test looking for a leaked secret in logs,
// Redis or job data cannot match something else by chance.

/** Size of the emulated System Activity: enough history for a few windows, kept small for the CPU's sake. */
const DEFAULT_SIZE = { historyRows: 60, historyDays: 2 } as const;

export function instanceSpec(
  id: string,
  seed: number,
  options: Partial<Omit<LookerInstanceSpec, 'id' | 'seed'>> = {},
): LookerInstanceSpec {
  return {
    id,
    clientId: `${id}-id`,
    clientSecret: `${id}-secret-value`,
    seed,
    ...DEFAULT_SIZE,
    ...options,
  };
}
