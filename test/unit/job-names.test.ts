import { describe, expect, it } from 'vitest';
import { jobName } from '../../src/pipeline/job-names.ts';

describe('jobName', () => {
  const base = { instanceId: 'prod-eu', exportName: 'history' };
  it.each([
    [
      {
        kind: 'range',
        startMs: Date.parse('2026-11-29T10:00:00Z'),
        endMs: Date.parse('2026-11-29T11:00:00Z'),
      },
      'prod-eu history 2026-11-29 10:00–11:00',
    ],
    [
      {
        kind: 'range',
        startMs: Date.parse('2026-11-28T22:00:00Z'),
        endMs: Date.parse('2026-11-29T04:00:30Z'),
      },
      'prod-eu history 2026-11-28 22:00 – 2026-11-29 04:00:30',
    ],
    [
      { kind: 'range', startMs: null, endMs: Date.parse('2026-11-29T00:00:00Z') },
      'prod-eu history until 2026-11-29 00:00',
    ],
    [
      { kind: 'snapshot', atMs: Date.parse('2026-11-29T10:05:00Z') },
      'prod-eu history snapshot 2026-11-29 10:05',
    ],
  ] as const)('%j → %s', (window, name) => {
    expect(jobName({ ...base, window: window as never })).toBe(name);
  });
});
