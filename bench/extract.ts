import { startLookerEmulator } from '../src/emulators/looker/index.ts';
import { median, runChild, table } from './measure.ts';

// `npm run bench -- extract --rows N [--repeat R] [--variants ours,floor,buffered] [--gzip]`
// A Looker emulator instance with N history rows in one window (row cap raised), extracted by each variant in a
// child process; the emulator serves from this process. Medians of R runs, side by side.

export interface ExtractBenchOptions {
  rows: number;
  repeat: number;
  variants: string[];
  gzipLevels: boolean;
}

const DAY = 86_400_000;

export async function extractBench(options: ExtractBenchOptions): Promise<string> {
  const emulator = await startLookerEmulator({
    instances: [
      {
        id: 'bench',
        clientId: 'bench-client',
        clientSecret: 'bench-secret',
        seed: 7,
        historyRows: options.rows,
        historyDays: 5,
        maxRowLimit: 10_000_000,
      },
    ],
  });
  const env = {
    BENCH_CLIENT_ID: 'bench-client',
    BENCH_CLIENT_SECRET: 'bench-secret',
    BENCH_HASH_KEY: 'bench-hash-key-0123456789abcdef',
  };
  const endMs = Math.floor(Date.now() / 1000) * 1000 + 1000;
  const startMs = endMs - 7 * DAY;
  const args = [emulator.baseUrl('bench'), String(startMs), String(endMs)];
  const results = new Map<string, Record<string, unknown>[]>();
  const variants = [...options.variants, ...(options.gzipLevels ? ['gzip1', 'gzip3', 'gzip6'] : [])];
  try {
    for (let run = 0; run < options.repeat; run++) {
      for (const variant of variants) {
        if (variant === 'buffered' && run > 0 && results.get('buffered')?.[0]?.error) continue; // it cannot finish
        const result = await runChild('bench/extract-child.ts', [variant, ...args], env);
        results.set(variant, [...(results.get(variant) ?? []), result]);
        process.stderr.write(
          `  extract ${options.rows} rows, run ${run + 1}, ${variant}: ${JSON.stringify(result)}\n`,
        );
      }
    }
  } finally {
    await emulator.close();
  }
  const responseBytes = Number(
    results.get('floor')?.[0]?.responseBytes ?? results.get('gzip1')?.[0]?.responseBytes ?? 0,
  );
  const floorSeconds = median((results.get('floor') ?? []).map((r) => Number(r.seconds)));
  const rows = variants.map((variant) => {
    const runs = results.get(variant) ?? [];
    const seconds = median(runs.map((r) => Number(r.seconds)));
    const count = Number(runs[0]?.rows ?? 0);
    const error = runs[0]?.error as string | undefined;
    return [
      variant,
      error ? `stopped: ${error.slice(0, 60)}` : count,
      error ? '-' : Math.round(count / seconds),
      responseBytes && !error ? (responseBytes / 1e6 / seconds).toFixed(1) : '-',
      median(runs.map((r) => Number(r.cpuSeconds))).toFixed(1),
      Math.max(...runs.map((r) => Number(r.peakRssMb))),
      runs[0]?.fileBytes ? (Number(runs[0].fileBytes) / 1e6).toFixed(1) : '-',
      floorSeconds && !error ? (floorSeconds / seconds).toFixed(2) : '-',
      runs.length,
    ];
  });
  return [
    `extract, ${options.rows} history rows (${responseBytes ? Math.round(responseBytes / options.rows) : '?'} bytes of JSON a row, ${(responseBytes / 1e6).toFixed(0)} MB response), medians of ${options.repeat}`,
    table(
      ['variant', 'rows', 'rows/s', 'MB/s', 'CPU s', 'peak RSS MB', 'file MB', '× floor speed', 'runs'],
      rows,
    ),
  ].join('\n');
}
