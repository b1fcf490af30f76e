import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startExtractTarget, workerNodeOptions } from './extract.ts';
import { runChild } from './measure.ts';

// `node --import tsx bench/profile-extract.ts <rows> <variant> <profile dir> [--live]`: one extract variant with the
// V8 CPU profiler on (--cpu-prof), reading the emulator's replayed response (recorded by an untimed warm-up run;
// `--live`: the emulator itself). Ours runs with the worker image's NODE_OPTIONS. For finding the hot path, not a
// figure.

const [rowsText = '200000', variant = 'ours', profileDir = join(tmpdir(), 'lsa-extract-profiles')] =
  process.argv.slice(2).filter((a) => a !== '--live');
const target = await startExtractTarget(Number(rowsText), { live: process.argv.includes('--live') });
const { args, env } = target;
const flags: Record<string, string> = variant === 'ours' ? { NODE_OPTIONS: workerNodeOptions() } : {};
try {
  await target.warmUp([variant], flags);
  const result = await runChild('bench/extract-child.ts', [variant, ...args], { ...env, ...flags }, [
    '--cpu-prof',
    `--cpu-prof-dir=${profileDir}`,
  ]);
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  await target.close();
}
