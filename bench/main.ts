import { parseArgs } from 'node:util';
import { extractBench } from './extract.ts';
import { fanoutBench } from './fanout.ts';

const HELP = `Benchmarks (never part of npm test). Figures and their commands: docs/benchmarks.md.

Usage:
  npm run bench                                   everything at default sizes (under 10 minutes on 2 cores)
  npm run bench -- extract --rows 1000000 [--repeat 3] [--variants ours,floor,buffered] [--gzip]
  npm run bench -- fanout --instances 200 --exports 5
`;

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      rows: { type: 'string' },
      repeat: { type: 'string' },
      variants: { type: 'string' },
      gzip: { type: 'boolean' },
      instances: { type: 'string' },
      exports: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const [which] = positionals;
  const started = Date.now();
  const variants = (values.variants ?? 'ours,floor,buffered').split(',');
  const repeat = Number(values.repeat ?? 3);
  const out: string[] = [`node ${process.version}, ${(await import('node:os')).cpus().length} cores`];
  if (which === 'extract') {
    out.push(
      await extractBench({
        rows: Number(values.rows ?? 100_000),
        repeat,
        variants,
        gzipLevels: Boolean(values.gzip),
      }),
    );
  } else if (which === 'fanout') {
    out.push(
      await fanoutBench({ instances: Number(values.instances ?? 200), exports: Number(values.exports ?? 5) }),
    );
  } else if (which === undefined) {
    out.push(await extractBench({ rows: 100_000, repeat: 3, variants, gzipLevels: true }));
    out.push(await extractBench({ rows: 1_000_000, repeat: 3, variants, gzipLevels: false }));
    out.push(await fanoutBench({ instances: 20, exports: 5 }));
    out.push(await fanoutBench({ instances: 200, exports: 5 }));
  } else {
    process.stderr.write(HELP);
    return 2;
  }
  out.push(`total ${Math.round((Date.now() - started) / 1000)} s`);
  process.stdout.write(`${out.join('\n\n')}\n`);
  return 0;
}
