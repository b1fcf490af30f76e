import { startExtractTarget, workerNodeOptions } from './extract.ts';
import { median, runChild } from './measure.ts';

// Before/after for a change to the extract: `ours` of another checkout of this repository (its own src and
// bench/extract-child.ts) and `ours` of this one, and the floor, interleaved against one emulator's replayed
// responses (recorded by this side's warm-up; `--live` as a 4th argument: the emulator itself), so both sides
// see the same machine load. Usage (another commit's tree, sharing this node_modules):
//   mkdir /tmp/before && git archive <commit> src bench package.json tsconfig.json | tar -x -C /tmp/before
//   ln -s "$PWD/node_modules" /tmp/before/node_modules
//   node --import tsx bench/compare-extract.ts 200000 /tmp/before 3

const [rowsText = '200000', otherCheckout, repeatText = '3', liveFlag] = process.argv.slice(2);
if (!otherCheckout)
  throw new Error('usage: compare-extract.ts <rows> <other checkout directory> [repeat] [--live]');
const rows = Number(rowsText);
const target = await startExtractTarget(rows, { live: liveFlag === '--live' });
const { args, env } = target;
const sides = [
  ['other', `${otherCheckout}/bench/extract-child.ts`, 'ours'],
  ['this', 'bench/extract-child.ts', 'ours'],
  ['floor', 'bench/extract-child.ts', 'floor'],
] as const;
const runs = new Map<string, { seconds: number; cpuSeconds: number; peakRssMb: number }[]>();
try {
  // The other side's queries are the same as this side's unless its paging changed: then its first run reads
  // the live emulator and is recorded for the next (the replay counts such queries; they show here as a slow run).
  await target.warmUp(['ours', 'floor'], { NODE_OPTIONS: workerNodeOptions() });
  for (let run = 0; run < Number(repeatText); run++) {
    for (const [name, file, variant] of sides) {
      // Both sides of ours run as a worker does (the runtime image's NODE_OPTIONS); the floor with Node's defaults.
      const flags: Record<string, string> = variant === 'ours' ? { NODE_OPTIONS: workerNodeOptions() } : {};
      const result = await runChild(file, [variant, ...args], { ...env, ...flags });
      if (result.crashed) throw new Error(`${name}: ${result.crashed}`);
      runs.set(name, [...(runs.get(name) ?? []), result as never]);
      process.stderr.write(`  ${name} run ${run + 1}: ${JSON.stringify(result).slice(0, 200)}\n`);
    }
  }
} finally {
  await target.close();
}
const live = target.replay?.liveSinceFreeze() ?? 0;
if (live > 0)
  process.stderr.write(`  ${live} queries of timed runs were not recorded and reached the emulator\n`);
const floorSeconds = median(runs.get('floor')!.map((r) => r.seconds));
for (const [name, results] of runs) {
  const seconds = median(results.map((r) => r.seconds));
  process.stdout.write(
    `${name}: ${seconds.toFixed(2)} s, CPU ${median(results.map((r) => r.cpuSeconds)).toFixed(2)} s, peak RSS ${median(results.map((r) => r.peakRssMb))} MB, ${(floorSeconds / seconds).toFixed(2)}× the floor\n`,
  );
}
