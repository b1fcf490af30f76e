import { readFileSync } from 'node:fs';
import { startLookerEmulator } from 'lsa-emulators/looker';
import { SPOOL_GZIP_LEVEL } from '../src/spool/writer.ts';
import { type LookerReplay, startLookerReplay } from './looker-replay.ts';
import { type ChildResult, median, runChild, table, thousands } from './measure.ts';

// `npm run bench -- extract --rows N`: a Looker emulator instance with N history rows in one window (row cap
// raised so the window is one page), extracted by each variant in its own child process. Variants run
// interleaved, R times each; medians side by side.
//
// The Looker side is a replay of the emulator's responses (bench/looker-replay.ts): each query's bytes are
// recorded by an untimed warm-up run and served from memory to the timed runs. A real Looker runs elsewhere;
// the emulator generating rows on the same two cores while a variant reads them is not the extractor's work,
// and the in-memory floor never paid it. `--live` reads from the emulator itself, as before.

export interface ExtractBenchOptions {
  rows: number;
  repeat: number;
  variants: string[];
  /** Per-row CPU of our stages on held bytes (one child, medians of 3 inside). */
  breakdown: boolean;
  /** gzip levels 1, 3, 6 on our spool lines (one child, medians of 3 inside). */
  gzipLevels: boolean;
  /** Run `ours` with Node's defaults instead of the production worker's NODE_OPTIONS (for comparison). */
  nodeDefaults?: boolean;
  /** Read from the live emulator (generating rows while each variant reads) instead of its replayed bytes. */
  live?: boolean;
}

export interface ExtractSummary {
  rows: number;
  bytesPerRow: number;
  /** variant → medians */
  variants: Map<string, { rowsPerSecond: number; cpuSeconds: number; peakRssMb: number; error?: string }>;
  text: string;
}

export const ALL_VARIANTS = ['ours', 'floor', 'floor-http', 'buffered', 'http'];
const DAY = 86_400_000;

/**
 * The Node flags production workers start with: the runtime image's `ENV NODE_OPTIONS` in the Dockerfile, the one
 * place they are set. `ours` runs with them, so its figures are a worker's.
 */
export function workerNodeOptions(dockerfile = readFileSync('Dockerfile', 'utf8')): string {
  const runtime = dockerfile.slice(dockerfile.indexOf(' AS runtime'));
  const flags = /^ENV NODE_OPTIONS="([^"]*)"/m.exec(runtime)?.[1];
  if (flags === undefined) {
    throw new Error(
      'the Dockerfile\'s runtime stage sets no ENV NODE_OPTIONS="...": the worker flags are read there',
    );
  }
  return flags;
}

/** The variants that read Looker over HTTP (the others read held bytes, fetched before their clock starts). */
const HTTP_VARIANTS = new Set(['ours', 'floor-http', 'http', 'buffered']);

/**
 * A Looker emulator instance holding `rows` history rows, and what an extract child needs to read them all as one
 * window: its arguments (base URL, window start and end) and environment (client id and secret, hash key). Unless
 * `live`, the children's base URL is a replay in front of the emulator (see the top of this file): call
 * `warmUp` before timing anything.
 */
export async function startExtractTarget(rows: number, options: { live?: boolean } = {}) {
  const emulator = await startLookerEmulator({
    instances: [
      {
        id: 'bench',
        clientId: 'bench-client',
        clientSecret: 'bench-secret',
        seed: 7,
        historyRows: rows,
        historyDays: 5,
        maxRowLimit: 10_000_000,
      },
    ],
  });
  const env: Record<string, string> = {
    BENCH_CLIENT_ID: 'bench-client',
    BENCH_CLIENT_SECRET: 'bench-secret',
    BENCH_HASH_KEY: 'bench-hash-key-0123456789abcdef',
  };
  // One window holding every row (the emulator spreads them over the 5 days before it started). pageSize is at
  // most 1,000,000 (config schema): above that, ours reads the window in ⌈N / 1M⌉ + 1 keyset pages.
  const endMs = Math.floor(Date.now() / 1000) * 1000 + 1000;
  const live = emulator.baseUrl('bench');
  const replay: LookerReplay | undefined = options.live
    ? undefined
    : await startLookerReplay(new URL(live).origin);
  const baseUrl = replay ? replay.origin + new URL(live).pathname : live;
  const args = [baseUrl, String(endMs - 7 * DAY), String(endMs)];
  return {
    emulator,
    args,
    env,
    replay,
    /**
     * Records the responses `variants` read (untimed): one run of ours (its pages' queries are its own) and one
     * of the transport alone (the query every other variant sends). Then the replay is frozen: a query that
     * still reaches the emulator is counted, and the report says so.
     */
    async warmUp(variants: string[], childEnv: Record<string, string> = {}): Promise<void> {
      if (!replay) return;
      const runs = [
        ...(variants.includes('ours') ? ['ours'] : []),
        ...(variants.some((v) => v !== 'ours') ? ['http'] : []),
      ];
      for (const variant of runs) {
        const result = await runChild('bench/extract-child.ts', [variant, ...args], {
          ...env,
          ...(variant === 'ours' ? childEnv : {}),
        });
        if (result.crashed || result.error) {
          throw new Error(`the warm-up run of ${variant} failed: ${String(result.crashed ?? result.error)}`);
        }
      }
      replay.freeze();
      const { queries, bytes } = replay.recorded();
      process.stderr.write(
        `  replay: ${queries} Looker queries recorded (${(bytes / 1e6).toFixed(0)} MB), served from memory from now on\n`,
      );
    },
    async close(): Promise<void> {
      await replay?.close();
      await emulator.close();
    },
  };
}

export async function extractBench(options: ExtractBenchOptions): Promise<ExtractSummary> {
  const target = await startExtractTarget(options.rows, { live: options.live });
  const { args, env } = target;
  const nodeOptions = options.nodeDefaults ? '' : workerNodeOptions();
  const results = new Map<string, ChildResult[]>();
  let breakdown: ChildResult | undefined;
  let gzip: ChildResult | undefined;
  const progress = (what: string, result: ChildResult) =>
    process.stderr.write(
      `  extract ${options.rows} rows, ${what}: ${JSON.stringify(result).slice(0, 400)}\n`,
    );
  try {
    await target.warmUp(
      options.breakdown || options.gzipLevels ? [...options.variants, 'floor'] : options.variants,
      { NODE_OPTIONS: nodeOptions },
    );
    for (let run = 0; run < options.repeat; run++) {
      for (const variant of options.variants) {
        const earlier = results.get(variant)?.[0];
        if (variant === 'buffered' && (earlier?.error || earlier?.crashed)) continue; // it cannot finish
        // Only ours is the worker; the others are yardsticks and keep Node's defaults.
        const result = await runChild(
          'bench/extract-child.ts',
          [variant, ...args],
          variant === 'ours' ? { ...env, NODE_OPTIONS: nodeOptions } : env,
        );
        results.set(variant, [...(results.get(variant) ?? []), result]);
        progress(`run ${run + 1}, ${variant}`, result);
      }
    }
    if (options.breakdown) {
      breakdown = await runChild('bench/extract-child.ts', ['stages', ...args], env);
      progress('stages', breakdown);
    }
    if (options.gzipLevels) {
      gzip = await runChild('bench/extract-child.ts', ['gzip', ...args], env);
      progress('gzip levels', gzip);
    }
  } finally {
    await target.close();
  }
  const liveFetches = target.replay?.liveSinceFreeze() ?? 0;

  const responseBytes = Number(
    [...results.values()].flat().find((r) => Number(r.responseBytes) > 0)?.responseBytes ??
      breakdown?.responseBytes ??
      0,
  );
  const bytesPerRow = responseBytes / options.rows;
  const summary: ExtractSummary['variants'] = new Map();
  const floorSeconds = median((results.get('floor') ?? []).map((r) => Number(r.seconds)));
  const floorHttpSeconds = median((results.get('floor-http') ?? []).map((r) => Number(r.seconds)));
  const ratio = (floor: number, seconds: number) => (floor ? (floor / seconds).toFixed(2) : '-');
  const rows = options.variants.map((variant) => {
    const runs = results.get(variant) ?? [];
    const failure = runs.find((r) => r.error || r.crashed);
    const seconds = median(runs.map((r) => Number(r.seconds)));
    const cpu = median(runs.map((r) => Number(r.cpuSeconds)));
    const rss = median(runs.map((r) => Number(r.peakRssMb)));
    if (failure) {
      const why = String(failure.error ?? failure.crashed);
      summary.set(variant, { rowsPerSecond: 0, cpuSeconds: cpu, peakRssMb: rss, error: why });
      return [
        variant,
        `stopped after ${Number(failure.seconds ?? 0).toFixed(1)} s: ${why.slice(0, 90)}`,
        '-',
        '-',
        Number.isFinite(cpu) ? cpu.toFixed(1) : '-',
        Number.isFinite(rss) ? thousands(rss) : '-',
        '-',
        '-',
        '-',
        runs.length,
      ];
    }
    const rowsPerSecond = options.rows / seconds;
    summary.set(variant, { rowsPerSecond, cpuSeconds: cpu, peakRssMb: rss });
    return [
      variant === 'http' ? 'http (transport only)' : variant,
      seconds.toFixed(2),
      variant === 'http' ? '-' : thousands(rowsPerSecond),
      (responseBytes / 1e6 / seconds).toFixed(1),
      cpu.toFixed(1),
      thousands(rss),
      runs[0]?.fileBytes ? (Number(runs[0].fileBytes) / 1e6).toFixed(1) : '-',
      ratio(floorSeconds, seconds),
      ratio(floorHttpSeconds, seconds),
      runs.length,
    ];
  });
  const httpVariants = options.variants.filter((v) => HTTP_VARIANTS.has(v));
  const looker = options.live
    ? 'Looker: the live emulator, generating rows in the bench process while each variant reads (--live)'
    : `Looker: a replay of the emulator's recorded response, from memory in 1 MB writes (a real Looker runs elsewhere; generating rows is not the extractor's work)${liveFetches > 0 ? `; WARNING: ${liveFetches} queries of timed runs were not recorded and reached the emulator` : ''}`;
  const text = [
    `extract, ${thousands(options.rows)} history rows in one window (${bytesPerRow.toFixed(0)} bytes of Looker JSON a row, ${(responseBytes / 1e6).toFixed(0)} MB response), spool gzip level ${SPOOL_GZIP_LEVEL}, medians of ${options.repeat}; ours with NODE_OPTIONS="${nodeOptions}"${options.nodeDefaults ? " (Node's defaults)" : " (the worker image's)"}`,
    ...(httpVariants.length > 0 ? [`${looker} (${httpVariants.join(', ')})`] : []),
    table(
      [
        'variant',
        'seconds',
        'rows/s',
        'MB/s (Looker JSON)',
        'CPU s',
        'peak RSS MB',
        'file MB',
        '× floor throughput',
        '× floor-http',
        'runs',
      ],
      rows,
    ),
  ];
  if (breakdown?.stageSeconds) {
    const stages = breakdown.stageSeconds as Record<string, number>;
    const n = Number(breakdown.rows);
    let previous = 0;
    const what: Record<string, string> = {
      scan: 'find each row in the byte chunks (JsonArrayRowReader.pushBytes, alone)',
      line: "+ the NDJSON line's bytes from the row's bytes (rowConverter.rowAt, else fromBytes), no masking",
      mask: '+ HMAC-SHA256 of user.email (masking.hashMask)',
      spool: '+ SpoolWriter.writeLineBytes: gzip, sha256, file',
    };
    const stageRows = Object.entries(stages).map(([stage, seconds]) => {
      const added = seconds - previous;
      previous = seconds;
      return [
        stage,
        what[stage] ?? '',
        seconds.toFixed(3),
        ((added * 1e6) / n).toFixed(2),
        `${((100 * added) / stages.spool!).toFixed(0)}%`,
      ];
    });
    text.push(
      '',
      `our row path, stage by stage on the held bytes (no HTTP; one process, medians of 3): ${thousands(n / stages.spool!)} rows/s`,
      table(['stage', 'adds', 'cumulative s', 'µs per row added', 'share'], stageRows),
    );
  }
  if (gzip?.levels) {
    const levels = gzip.levels as Record<string, { seconds: number; cpuSeconds: number; bytes: number }>;
    const ndjson = Number(gzip.ndjsonBytes);
    const n = Number(gzip.rows);
    text.push(
      '',
      `spool gzip level, on our own NDJSON (${(ndjson / 1e6).toFixed(1)} MB for ${thousands(n)} rows, masked), compression alone, medians of 3`,
      table(
        ['level', 'file MB', 'ratio', 'MB/s (NDJSON in)', 'CPU s per 1M rows', 'upload MB per 1M rows'],
        Object.entries(levels).map(([level, l]) => [
          level,
          (l.bytes / 1e6).toFixed(2),
          `${(ndjson / l.bytes).toFixed(1)}×`,
          (ndjson / 1e6 / l.seconds).toFixed(0),
          ((l.cpuSeconds * 1e6) / n).toFixed(1),
          ((l.bytes * 1e6) / n / 1e6).toFixed(0),
        ]),
      ),
    );
  }
  return { rows: options.rows, bytesPerRow, variants: summary, text: text.join('\n') };
}
