import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLookerEmulator } from 'lsa-emulators/looker';
import { runChild } from './measure.ts';

// `node --import tsx bench/profile-extract.ts <rows> <variant> <profile dir>`: one extract variant with the V8 CPU
// profiler on (--cpu-prof), against an emulator serving from this process. For finding the hot path, not a figure.

const [rowsText = '200000', variant = 'ours', profileDir = join(tmpdir(), 'lsa-extract-profiles')] =
  process.argv.slice(2);
const DAY = 86_400_000;
const emulator = await startLookerEmulator({
  instances: [
    {
      id: 'bench',
      clientId: 'bench-client',
      clientSecret: 'bench-secret',
      seed: 7,
      historyRows: Number(rowsText),
      historyDays: 5,
      maxRowLimit: 10_000_000,
    },
  ],
});
const endMs = Math.floor(Date.now() / 1000) * 1000 + 1000;
try {
  const result = await runChild(
    'bench/extract-child.ts',
    [variant, emulator.baseUrl('bench'), String(endMs - 7 * DAY), String(endMs)],
    {
      BENCH_CLIENT_ID: 'bench-client',
      BENCH_CLIENT_SECRET: 'bench-secret',
      BENCH_HASH_KEY: 'bench-hash-key-0123456789abcdef',
    },
    ['--cpu-prof', `--cpu-prof-dir=${profileDir}`],
  );
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  await emulator.close();
}
