import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { ALL_VARIANTS, type ExtractSummary, extractBench } from './extract.ts';
import { type FanoutReport, fanoutBench } from './fanout.ts';
import { table, thousands } from './measure.ts';
import { mergeBench, mergeReport } from './merge.ts';

// `npm run bench [-- <benchmark> [options]]`. Never part of `npm test`. Figures and the commands that produced
// them: docs/benchmarks.md. Progress goes to stderr, the report to stdout.

const HELP = `Benchmarks (never part of npm test). Figures and their commands: docs/benchmarks.md.

Usage:
  npm run bench                      everything at default sizes (about 8 minutes on 2 cores):
                                     extract 100k rows (5 runs, stage breakdown, gzip levels), extract 1M rows
                                     (3 runs), fanout 20 instances (with MONITOR attribution), fanout 200 instances
  npm run bench -- extract [options] extract throughput and memory: ours vs the floors, buffered, http
  npm run bench -- fanout [options]  the whole pipeline on many instances vs a bare BullMQ baseline
  npm run bench -- merge [options]   bytes one hourly batch's MERGE reads as the target grows (--days 1,10,30)
  npm run bench -- <benchmark> --help
`;

const EXTRACT_HELP = `npm run bench -- extract [--rows N] [--repeat R] [--variants list] [--breakdown] [--gzip]
                       [--node-defaults] [--live]

A Looker emulator instance with N history rows in one window (row cap raised: one page). Each variant runs in
its own child process (its peak RSS is its own). The Looker side is a replay: an untimed warm-up run records
the emulator's responses, which the parent then serves from memory to every HTTP variant (a real Looker runs
elsewhere; the emulator generating rows on the same cores is not the extractor's work). Variants interleaved,
R runs each, medians.

  --rows N          history rows (default 100000); 3000000 takes about 3 minutes with --variants ours
  --repeat R        runs of each variant (default 3)
  --variants list   comma-separated, from ${ALL_VARIANTS.join(',')} (default all)
                      ours      extractWindow → NDJSON.gz spool file (with the worker image's NODE_OPTIONS)
                      floor     held bytes, JSON.parse in 16 MB slices, JSON.stringify per row into gzip
                      floor-http  the same work on the HTTP body as it arrives (fetch, 16 MB slices)
                      buffered  sdk.ok(run_inline_query(json)) into one array (stops at V8's string limit)
                      http      fetch the same query and discard the body (the transport's ceiling)
  --breakdown       also our per-row CPU stage by stage (scan, line, mask, spool)
  --gzip            also gzip levels 1, 3, 6 on our own spool lines (size, speed)
  --node-defaults   run ours with Node's defaults, not the worker image's NODE_OPTIONS (Dockerfile)
  --live            read from the live emulator (rows generated in the parent while each variant reads), not
                    its replayed responses: the figures before 2026-12-01
`;

const MERGE_HELP = `npm run bench -- merge [--days 1,10,30] [--instances 5] [--rows 240]

The BigQuery emulator and the pipeline's own batch load: a target table holding D days of rows (--rows per
instance per day), then one hourly batch of every instance merged into it; prints the MERGE's bytes processed
(as BigQuery reports them, from the partitions it reads) for history (cursor never moves: pruned to the batch's
partitions) and content_usage (cursor moves: reads all its instances' partitions).
`;

const FANOUT_HELP = `npm run bench -- fanout [--instances N] [--exports E] [--attribute] [--concurrency C]

The whole pipeline on tiny data: Looker, GCS and BigQuery emulators in this process, a private redis-server,
2 worker processes (lsa start --role worker); trigger = the fan-out that lsa run / runOnce call. Then a bare
BullMQ baseline with as many three-job flows on the same Redis and 2 processes.

  --instances N     Looker instances (default 200)
  --exports E       exports per instance, 1-10 (default 5): history, user, event, content_usage, dashboard, ...
  --attribute       repeat both runs under Redis MONITOR and say which code sends which command
  --concurrency C   jobs of each kind per worker process (default 8)
`;

function positiveInteger(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, not ${value}`);
  return n;
}

function rssSummary(extracts: ExtractSummary[]): string {
  const rows = extracts.map((e) => {
    const ours = e.variants.get('ours');
    const floor = e.variants.get('floor');
    const floorHttp = e.variants.get('floor-http');
    const ratio = (base: typeof floor) =>
      ours && base?.rowsPerSecond ? (ours.rowsPerSecond / base.rowsPerSecond).toFixed(2) : '-';
    return [
      thousands(e.rows),
      ours ? thousands(ours.rowsPerSecond) : '-',
      ratio(floor),
      ratio(floorHttp),
      ours ? thousands(ours.peakRssMb) : '-',
      floor ? thousands(floor.peakRssMb) : '-',
      e.variants.get('buffered')?.error
        ? 'cannot finish'
        : thousands(e.variants.get('buffered')?.peakRssMb ?? 0),
    ];
  });
  return [
    'targets: ours ≥ 1.0× floor throughput at 1M rows; ours peak RSS ≤ 150 MB, flat as rows grow',
    table(
      [
        'rows',
        'ours rows/s',
        'ours ÷ floor',
        'ours ÷ floor-http',
        'ours RSS MB',
        'floor RSS MB',
        'buffered RSS MB',
      ],
      rows,
    ),
  ].join('\n');
}

function fanoutSummary(reports: { instances: number; report: FanoutReport }[]): string {
  return [
    'connections per worker process must not grow with instances',
    table(
      [
        'instances',
        'flows',
        'pipeline s',
        'bare s',
        'cmds/flow ours',
        'cmds/flow bare',
        'connections ours',
        'bare',
      ],
      reports.map(({ instances, report: { ours, bare } }) => [
        instances,
        ours.windows,
        ours.seconds.toFixed(1),
        bare.seconds.toFixed(1),
        Math.round(ours.commands / ours.windows),
        Math.round(bare.commands / bare.windows),
        ours.connections.map((c) => c.total).join(' + '),
        bare.connections.map((c) => c.total).join(' + '),
      ]),
    ),
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  const parse = (args: string[]) =>
    parseArgs({
      args,
      allowPositionals: true,
      options: {
        rows: { type: 'string' },
        repeat: { type: 'string' },
        variants: { type: 'string' },
        breakdown: { type: 'boolean' },
        'node-defaults': { type: 'boolean' },
        live: { type: 'boolean' },
        gzip: { type: 'boolean' },
        instances: { type: 'string' },
        exports: { type: 'string' },
        attribute: { type: 'boolean' },
        concurrency: { type: 'string' },
        days: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  try {
    parsed = parse(argv);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [which, ...extra] = positionals;
  if (extra.length > 0 || (which !== undefined && !['extract', 'fanout', 'merge'].includes(which))) {
    process.stderr.write(HELP);
    return 2;
  }
  if (values.help) {
    process.stdout.write(
      which === 'extract'
        ? EXTRACT_HELP
        : which === 'fanout'
          ? FANOUT_HELP
          : which === 'merge'
            ? MERGE_HELP
            : HELP,
    );
    return 0;
  }
  const started = Date.now();
  const out: string[] = [
    `node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}), ${new Date().toISOString().slice(0, 10)}`,
  ];
  try {
    const variants = (values.variants ?? ALL_VARIANTS.join(',')).split(',').filter((v) => v !== '');
    const unknown = variants.filter((v) => !ALL_VARIANTS.includes(v));
    if (unknown.length > 0) throw new Error(`unknown variant(s) ${unknown.join(', ')}`);
    if (which === 'extract') {
      const summary = await extractBench({
        rows: positiveInteger(values.rows, 100_000, 'rows'),
        repeat: positiveInteger(values.repeat, 3, 'repeat'),
        variants,
        breakdown: Boolean(values.breakdown),
        gzipLevels: Boolean(values.gzip),
        nodeDefaults: Boolean(values['node-defaults']),
        live: Boolean(values.live),
      });
      out.push(summary.text);
    } else if (which === 'merge') {
      const days = (values.days ?? '1,10,30').split(',').map((d) => positiveInteger(d, 1, 'days'));
      const figures = await mergeBench({
        days,
        instances: positiveInteger(values.instances, 5, 'instances'),
        rowsPerInstanceDay: positiveInteger(values.rows, 240, 'rows'),
      });
      out.push(
        `merge: one hourly batch of every instance merged into a target holding D days (BigQuery emulator's bytes processed)`,
        mergeReport(figures),
      );
    } else if (which === 'fanout') {
      const exports = positiveInteger(values.exports, 5, 'exports');
      if (exports > 10) throw new Error('--exports is at most 10 (every built-in export)');
      const report = await fanoutBench({
        instances: positiveInteger(values.instances, 200, 'instances'),
        exports,
        attribute: Boolean(values.attribute),
        concurrency: positiveInteger(values.concurrency, 8, 'concurrency'),
      });
      out.push(report.text);
    } else {
      const small = await extractBench({
        rows: 100_000,
        repeat: 5,
        variants,
        breakdown: true,
        gzipLevels: true,
      });
      out.push(small.text);
      const large = await extractBench({
        rows: 1_000_000,
        repeat: 3,
        variants,
        breakdown: false,
        gzipLevels: false,
      });
      out.push(large.text, rssSummary([small, large]));
      const fanouts: { instances: number; report: FanoutReport }[] = [];
      for (const [instances, attribute] of [
        [20, true],
        [200, false],
      ] as const) {
        const report = await fanoutBench({ instances, exports: 5, attribute, concurrency: 8 });
        out.push(report.text);
        fanouts.push({ instances, report });
      }
      out.push(fanoutSummary(fanouts));
    }
  } catch (error) {
    process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
    return 1;
  }
  out.push(`total ${Math.round((Date.now() - started) / 1000)} s`);
  process.stdout.write(`${out.join('\n\n')}\n`);
  return 0;
}
