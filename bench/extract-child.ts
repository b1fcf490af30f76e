import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { IWriteQuery } from '@looker/sdk';
import { parseConfigText } from '../src/config/load.ts';
import { LookerClients } from '../src/looker/client.ts';
import { extractWindow } from '../src/looker/extract.ts';
import { lookerDateTime } from '../src/looker/window.ts';
import { SPOOL_GZIP_LEVEL } from '../src/spool/writer.ts';
import { cpuSeconds, peakRssMb } from './measure.ts';

// One extract variant, alone in its process, so its peak RSS is its own. Prints one JSON line.
//   ours      the pipeline's streamed extract (SDK stream → incremental parse → convert + mask → gzip file)
//   buffered  the original design: sdk.ok(run_inline_query(json)) into one array, then write the lines
//   floor     no SDK, no HTTP, no masking: the same bytes already in memory, JSON.parse in ~16 MB slices,
//             JSON.stringify per row into gzip at the spool's level

const [variant, baseUrl, startText, endText] = process.argv.slice(2) as [string, string, string, string];
const startMs = Number(startText);
const endMs = Number(endText);
const dir = mkdtempSync(join(tmpdir(), 'lsa-bench-'));

const config = parseConfigText(
  `redis: { url: "redis://127.0.0.1:1" }
gcs: { bucket: bench-bucket }
bigquery: { projectId: bench, dataset: bench }
masking: { hashKey: "\${BENCH_HASH_KEY}" }
defaults: { pageSize: 1000000 }
instances:
  - id: bench
    baseUrl: ${baseUrl}
    clientId: "\${BENCH_CLIENT_ID}"
    clientSecret: "\${BENCH_CLIENT_SECRET}"
    exports: [history]
    queryTimeout: 30m
`,
  'bench',
);
const instance = config.instances[0]!;
const history = instance.exports[0]!;
const body: IWriteQuery = {
  model: 'system__activity',
  view: 'history',
  fields: history.definition.fields.map((f) => f.field),
  filters: { 'history.created_time': `${lookerDateTime(startMs)} to ${lookerDateTime(endMs)}` },
  sorts: ['history.created_time', 'history.id'],
  limit: '10000000',
  query_timezone: 'UTC',
};

async function ours() {
  const clients = new LookerClients();
  const result = await extractWindow({
    client: clients.get(instance),
    instance,
    export: history,
    window: { kind: 'range', startMs, endMs },
    spoolDir: dir,
    hashKey: () => process.env.BENCH_HASH_KEY!,
  });
  await clients.closeAll();
  return { rows: result.rows, fileBytes: result.manifest?.bytes ?? 0 };
}

async function buffered() {
  const clients = new LookerClients();
  const sdk = clients.get(instance).sdk;
  try {
    const rows = (await sdk.ok(
      sdk.run_inline_query({ result_format: 'json', body, cache: false }),
    )) as unknown as Record<string, unknown>[];
    const file = join(dir, 'buffered.ndjson.gz');
    await pipeline(
      Readable.from(
        (function* () {
          for (const row of rows) yield `${JSON.stringify(row)}\n`;
        })(),
      ),
      createGzip({ level: SPOOL_GZIP_LEVEL }),
      createWriteStream(file),
    );
    return { rows: rows.length, fileBytes: statSync(file).size };
  } catch (error) {
    return { rows: 0, error: String((error as Error).message ?? error).slice(0, 200) };
  }
}

async function fetchBytes(): Promise<Buffer> {
  const login = await fetch(`${baseUrl}/api/4.0/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      client_id: process.env.BENCH_CLIENT_ID!,
      client_secret: process.env.BENCH_CLIENT_SECRET!,
    }),
  });
  const { access_token } = (await login.json()) as { access_token: string };
  const response = await fetch(`${baseUrl}/api/4.0/queries/run/json?cache=false`, {
    method: 'POST',
    headers: { authorization: `Bearer ${access_token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return Buffer.from(await response.arrayBuffer());
}

/** Parses the held bytes in ~16 MB slices (cut between two rows) and writes each row as an NDJSON line. */
async function floorFrom(bytes: Buffer, level: number) {
  const SLICE = 16 * 1024 * 1024;
  const gzip = createGzip({ level });
  const file = join(dir, `floor-${level}.ndjson.gz`);
  const done = pipeline(gzip, createWriteStream(file));
  let rows = 0;
  let position = 1; // after '['
  const end = bytes.lastIndexOf(0x5d); // ']'
  while (position < end) {
    let cut = bytes.indexOf('},{', Math.min(position + SLICE, end));
    cut = cut < 0 || cut > end ? end : cut + 1;
    const parsed = JSON.parse(`[${bytes.toString('utf8', position, cut)}]`) as unknown[];
    let text = '';
    for (const row of parsed) text += `${JSON.stringify(row)}\n`;
    rows += parsed.length;
    if (!gzip.write(text)) await new Promise((r) => gzip.once('drain', r));
    position = cut + 1;
  }
  gzip.end();
  await done;
  return { rows, fileBytes: statSync(file).size };
}

async function main() {
  let held: Buffer | undefined;
  if (variant === 'floor' || variant.startsWith('gzip')) held = await fetchBytes();
  const rssBefore = peakRssMb();
  const cpuBefore = cpuSeconds();
  const started = performance.now();
  let outcome: Record<string, unknown>;
  if (variant === 'ours') outcome = await ours();
  else if (variant === 'buffered') outcome = await buffered();
  else if (variant === 'floor') outcome = await floorFrom(held!, SPOOL_GZIP_LEVEL);
  else if (variant.startsWith('gzip')) outcome = await floorFrom(held!, Number(variant.slice(4)));
  else throw new Error(`unknown variant ${variant}`);
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(
    `${JSON.stringify({
      variant,
      seconds,
      cpuSeconds: cpuSeconds() - cpuBefore,
      peakRssMb: peakRssMb(),
      rssBeforeMb: rssBefore,
      responseBytes: held?.length,
      ...outcome,
    })}\n`,
  );
  rmSync(dir, { recursive: true, force: true });
}

await main();
