import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { IWriteQuery } from '@looker/sdk';
import { parseConfigText } from '../src/config/load.ts';
import type { ResolvedExport } from '../src/config/model.ts';
import { LookerClients } from '../src/looker/client.ts';
import { lookerDateTime } from '../src/looker/datetime.ts';
import { extractWindow } from '../src/looker/extract.ts';
import { JsonArrayRowReader } from '../src/looker/json-rows.ts';
import { type RowLine, rowConverter } from '../src/looker/rows.ts';
import { SPOOL_GZIP_LEVEL, SpoolWriter } from '../src/spool/writer.ts';
import { cpuSeconds, median, peakRssMb } from './measure.ts';

// One extract variant, alone in its process, so its peak RSS is its own. Prints one JSON line.
//   ours      the pipeline's streamed extract (SDK stream → row scanner → parse, convert, mask → gzip spool file)
//   buffered  the original design: sdk.ok(run_inline_query(json)) into one array, then write the lines
//   floor     no SDK, no HTTP, no masking: the same bytes already in memory, JSON.parse in ~16 MB slices,
//             JSON.stringify per row into gzip at the spool's level
//   floor-http  the floor's work fed by HTTP as ours is: fetch the same query, JSON.parse each ~16 MB of the
//             body as it arrives, JSON.stringify per row into gzip (no SDK, no masking, no conversion)
//   http      the transport alone: log in, run the same query with fetch and discard the body (what the emulator
//             and HTTP cost, the ceiling any client could reach here)
//   stages    our per-row CPU, stage by stage, on the held bytes (no HTTP): scan, +line, +mask, +spool
//   gzip      the spool's own NDJSON (our converted, masked lines) compressed at levels 1, 3, 6

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
    rowCap: 1000000
    rowCountCheck: false
    queryTimeout: 30m
`,
  'bench',
);
const instance = config.instances[0]!;
const history = instance.exports[0]!;
const hashKey = () => process.env.BENCH_HASH_KEY!;
/** The query ours sends for the window (same fields, filter, sorts), so every variant reads the same bytes. */
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
    hashKey,
  });
  await clients.closeAll();
  return {
    rows: result.rows,
    queries: result.queries,
    fileBytes: result.manifest?.bytes ?? 0,
    ndjsonBytes: result.manifest?.uncompressedBytes ?? 0,
  };
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

async function query(): Promise<Response> {
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
  if (!response.ok || !response.body) throw new Error(`the emulator answered ${response.status}`);
  return response;
}

async function fetchBytes(): Promise<Buffer> {
  return Buffer.from(await (await query()).arrayBuffer());
}

async function http() {
  const reader = (await query()).body!.getReader();
  let bytes = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bytes += value.byteLength;
  }
  return { rows: 0, responseBytes: bytes };
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

/** The floor's work on the HTTP body as it arrives: each ~16 MB (cut between two rows) parsed and written. */
async function floorHttp(level: number) {
  const SLICE = 16 * 1024 * 1024;
  const gzip = createGzip({ level });
  const file = join(dir, `floor-http-${level}.ndjson.gz`);
  const done = pipeline(gzip, createWriteStream(file));
  let rows = 0;
  let responseBytes = 0;
  const write = async (text: string) => {
    if (text.trim() === '') return;
    const parsed = JSON.parse(`[${text}]`) as unknown[];
    let out = '';
    for (const row of parsed) out += `${JSON.stringify(row)}\n`;
    rows += parsed.length;
    if (!gzip.write(out)) await new Promise((r) => gzip.once('drain', r));
  };
  const reader = (await query()).body!.getReader();
  let parts: Buffer[] = [];
  let size = 0;
  let started = false;
  for (;;) {
    const { done: end, value } = await reader.read();
    if (end) break;
    responseBytes += value.byteLength;
    parts.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
    size += value.byteLength;
    if (size < SLICE) continue;
    const held = Buffer.concat(parts, size);
    const from = started ? 0 : held.indexOf(0x5b) + 1; // after '['
    const cut = held.lastIndexOf('},{');
    if (cut < from) continue;
    started = true;
    await write(held.toString('utf8', from, cut + 1));
    parts = [held.subarray(cut + 2)];
    size = parts[0]!.length;
  }
  const held = Buffer.concat(parts, size);
  const from = started ? 0 : held.indexOf(0x5b) + 1;
  await write(held.toString('utf8', from, held.lastIndexOf(0x5d)));
  gzip.end();
  await done;
  return { rows, responseBytes, fileBytes: statSync(file).size };
}

/** Chunks as the HTTP body arrives (the emulator writes ~64 KB at a time). */
function chunksOf(bytes: Buffer, size = 64 * 1024): Buffer[] {
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
  return chunks;
}

const STAGES = ['scan', 'line', 'mask', 'spool'] as const;
type Stage = (typeof STAGES)[number];

/** Runs our row path up to `stage` over the held bytes; returns the seconds it took. */
async function runStage(chunks: Buffer[], stage: Stage, run: number): Promise<number> {
  const unmasked: ResolvedExport = { ...history, masking: {} };
  const context = { instanceId: 'bench', extractedAt: new Date(), hashKey, timezone: 'UTC', apiUserId: 0 };
  const converter = rowConverter(stage === 'line' ? unmasked : history, context);
  const writer = stage === 'spool' ? await SpoolWriter.open(join(dir, `stage-${run}.ndjson.gz`)) : undefined;
  const reader = new JsonArrayRowReader();
  const started = performance.now();
  let sink = 0;
  for (const chunk of chunks) {
    // As the extract does: each line written as it is made, gzip's back-pressure awaited once per chunk.
    let wait: Promise<void> | undefined;
    const take = (line: RowLine) => {
      if (writer) wait = writer.writeLineBytes(line.bytes, line.start, line.end) ?? wait;
      else sink += line.end - line.start;
    };
    reader.pushBytes(
      chunk,
      (bytes, start, end) => {
        if (stage === 'scan') sink += end - start;
        else take(converter.fromBytes(bytes, start, end, reader.rows - 1));
      },
      stage === 'scan'
        ? undefined
        : (bytes, start, limit) => {
            const found = converter.rowAt(bytes, start, limit);
            if (!found) return -1;
            take(found.line);
            return found.end;
          },
    );
    if (wait) await wait;
  }
  if (writer) await writer.finish();
  reader.finish();
  if (sink < 0) throw new Error('unreachable');
  return (performance.now() - started) / 1000;
}

async function stages(bytes: Buffer) {
  const chunks = chunksOf(bytes);
  const rows = (() => {
    let n = 0;
    new JsonArrayRowReader().push(bytes, () => {
      n++;
    });
    return n;
  })();
  const seconds: Record<string, number> = {};
  for (const stage of STAGES) {
    const runs: number[] = [];
    for (let run = 0; run < 3; run++) runs.push(await runStage(chunks, stage, run));
    seconds[stage] = median(runs);
  }
  return { rows, stageSeconds: seconds };
}

/** Our spool lines for the held bytes, as one buffer (for the gzip comparison). */
function ourNdjson(bytes: Buffer): { text: Buffer; rows: number } {
  const converter = rowConverter(history, {
    instanceId: 'bench',
    extractedAt: new Date(),
    hashKey,
    timezone: 'UTC',
    apiUserId: 0,
  });
  const parts: string[] = [];
  const reader = new JsonArrayRowReader();
  reader.push(bytes, (json) => {
    parts.push(`${converter.fromJson(json, reader.rows - 1).line}\n`);
  });
  return { text: Buffer.from(parts.join('')), rows: reader.rows };
}

async function gzipLevels(bytes: Buffer) {
  const { text, rows } = ourNdjson(bytes);
  const levels: Record<string, { seconds: number; cpuSeconds: number; bytes: number }> = {};
  const BATCH = 256 * 1024; // the spool writer's batch size
  for (const level of [1, 3, 6]) {
    const runs: { seconds: number; cpuSeconds: number; bytes: number }[] = [];
    for (let run = 0; run < 3; run++) {
      const gzip = createGzip({ level });
      let out = 0;
      gzip.on('data', (chunk: Buffer) => {
        out += chunk.length;
      });
      const finished = new Promise<void>((resolve, reject) => {
        gzip.once('end', resolve);
        gzip.once('error', reject);
      });
      const cpu = cpuSeconds();
      const started = performance.now();
      for (let i = 0; i < text.length; i += BATCH) {
        if (!gzip.write(text.subarray(i, i + BATCH))) await new Promise((r) => gzip.once('drain', r));
      }
      gzip.end();
      await finished;
      runs.push({
        seconds: (performance.now() - started) / 1000,
        cpuSeconds: cpuSeconds() - cpu,
        bytes: out,
      });
    }
    levels[String(level)] = {
      seconds: median(runs.map((r) => r.seconds)),
      cpuSeconds: median(runs.map((r) => r.cpuSeconds)),
      bytes: runs[0]!.bytes,
    };
  }
  return { rows, ndjsonBytes: text.length, levels };
}

async function main() {
  let held: Buffer | undefined;
  if (variant === 'floor' || variant === 'stages' || variant === 'gzip') held = await fetchBytes();
  const rssBefore = peakRssMb();
  const cpuBefore = cpuSeconds();
  const started = performance.now();
  let outcome: Record<string, unknown>;
  if (variant === 'ours') outcome = await ours();
  else if (variant === 'buffered') outcome = await buffered();
  else if (variant === 'floor') outcome = await floorFrom(held!, SPOOL_GZIP_LEVEL);
  else if (variant === 'floor-http') outcome = await floorHttp(SPOOL_GZIP_LEVEL);
  else if (variant === 'http') outcome = await http();
  else if (variant === 'stages') outcome = await stages(held!);
  else if (variant === 'gzip') outcome = await gzipLevels(held!);
  else throw new Error(`unknown variant ${variant}`);
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(
    `${JSON.stringify({
      variant,
      seconds,
      cpuSeconds: cpuSeconds() - cpuBefore,
      peakRssMb: peakRssMb(),
      rssBeforeMb: rssBefore,
      ...(held ? { responseBytes: held.length } : {}),
      ...outcome,
    })}\n`,
  );
  rmSync(dir, { recursive: true, force: true });
}

await main();
