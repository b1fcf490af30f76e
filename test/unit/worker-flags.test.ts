import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { workerNodeOptions } from '../../bench/extract.ts';

// The worker's V8 flags are set in one place, the runtime image's NODE_OPTIONS: that is what keeps an extract's
// peak RSS at 150 MB (docs/benchmarks.md), and what the extract benchmark runs `ours` with. Compose must not
// replace them.

describe('worker Node flags', () => {
  it('the runtime image caps the young generation, and the benchmark reads exactly that line', () => {
    const flags = workerNodeOptions();
    expect(flags).toMatch(/(^| )--max-semi-space-size=4( |$)/);
    const dockerfile = readFileSync('Dockerfile', 'utf8');
    const runtime = dockerfile.slice(dockerfile.indexOf(' AS runtime'));
    expect(runtime).toContain(`ENV NODE_OPTIONS="${flags}"`);
  });

  it('compose does not override them for any lsa service', () => {
    const compose = parse(readFileSync('docker-compose.yml', 'utf8'), { merge: true }) as {
      services: Record<string, { image?: string; environment?: Record<string, string> }>;
    };
    const lsa = Object.entries(compose.services).filter(
      ([, s]) => s.image === 'looker-activity-pipeline:latest',
    );
    expect(lsa.map(([name]) => name)).toContain('worker');
    for (const [name, service] of lsa) expect(service.environment?.NODE_OPTIONS, name).toBeUndefined();
  });

  it('a Dockerfile without them is refused, naming what is missing', () => {
    expect(() => workerNodeOptions('FROM node:20 AS runtime\nCMD ["start"]\n')).toThrow(
      /runtime stage sets no ENV NODE_OPTIONS/,
    );
  });
});
