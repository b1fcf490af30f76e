import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startExtractTarget } from './extract.ts';
import { runChild } from './measure.ts';

// `node --import tsx bench/profile-extract.ts <rows> <variant> <profile dir>`: one extract variant with the V8 CPU
// profiler on (--cpu-prof), against an emulator serving from this process. For finding the hot path, not a figure.

const [rowsText = '200000', variant = 'ours', profileDir = join(tmpdir(), 'lsa-extract-profiles')] =
  process.argv.slice(2);
const { emulator, args, env } = await startExtractTarget(Number(rowsText));
try {
  const result = await runChild('bench/extract-child.ts', [variant, ...args], env, [
    '--cpu-prof',
    `--cpu-prof-dir=${profileDir}`,
  ]);
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  await emulator.close();
}
