import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

// A replay of the Looker emulator's query responses, for the extract benchmark. A real Looker runs elsewhere: the
// extractor only reads its bytes. The emulator generates each row as it streams, in the benchmark's own process,
// on the cores the extract being timed needs. So every query response is recorded the first time a child asks
// for it (an untimed warm-up run) and replayed from memory afterwards, in 1 MB writes; login, `GET /user` and
// everything else go to the emulator as they are. A query is known by its path and its body (keys sorted), so each
// variant reads exactly the bytes the emulator gave for its query, and ours' later keyset pages have their own.

const REPLAY_WRITE_BYTES = 1024 * 1024;

interface Recording {
  status: number;
  headers: Record<string, string>;
  chunks: Buffer[];
  bytes: number;
}

export interface LookerReplay {
  /** `http://127.0.0.1:<port>`: put in place of the emulator's origin. */
  origin: string;
  /** Queries recorded so far and their bytes. */
  recorded(): { queries: number; bytes: number };
  /** Queries that reached the emulator since `freeze()`: a timed run that did is not measuring a replay. */
  liveSinceFreeze(): number;
  /** From now on every query should be a replay; the ones that are not are counted (see liveSinceFreeze). */
  freeze(): void;
  close(): Promise<void>;
}

/** JSON with object keys sorted, so two clients' serialisations of one query body are one key. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function queryKey(path: string, body: Buffer): string {
  let text = body.toString('utf8');
  try {
    text = canonicalJson(JSON.parse(text));
  } catch {
    // not JSON: the text as it came
  }
  return `${path}\n${text}`;
}

async function readAll(req: IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of req) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

/** Writes the recorded body in 1 MB writes, waiting for the socket to drain between them. */
async function replay(res: ServerResponse, recording: Recording): Promise<void> {
  res.writeHead(recording.status, { ...recording.headers, 'content-length': String(recording.bytes) });
  for (const chunk of recording.chunks) {
    if (res.destroyed) return;
    if (!res.write(chunk)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        res.on('drain', done);
        res.on('close', done);
      });
    }
  }
  res.end();
}

/** Response headers worth replaying (the body's framing is the replay's own). */
function replayedHeaders(upstream: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(upstream.headers)) {
    if (
      value === undefined ||
      ['content-length', 'transfer-encoding', 'connection', 'keep-alive'].includes(name)
    )
      continue;
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

/** Starts the replay in front of the emulator at `emulatorOrigin` (`http://127.0.0.1:<port>`). */
export async function startLookerReplay(emulatorOrigin: string): Promise<LookerReplay> {
  const upstream = new URL(emulatorOrigin);
  const recordings = new Map<string, Recording>();
  let frozen = false;
  let liveSinceFreeze = 0;

  const forward = (req: IncomingMessage, res: ServerResponse, body: Buffer, record?: string) => {
    const outgoing = httpRequest(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: upstream.host, 'content-length': String(body.length) },
      },
      (answer) => {
        const keep = record !== undefined && answer.statusCode === 200;
        const recording: Recording = {
          status: answer.statusCode ?? 500,
          headers: replayedHeaders(answer),
          chunks: [],
          bytes: 0,
        };
        // The emulator writes ~64 KB at a time; recorded as 1 MB pieces, the size the replay writes.
        let piece = Buffer.allocUnsafe(REPLAY_WRITE_BYTES);
        let pieceBytes = 0;
        answer.on('data', (chunk: Buffer) => {
          if (!keep) return;
          let at = 0;
          while (at < chunk.length) {
            const n = chunk.copy(piece, pieceBytes, at);
            at += n;
            pieceBytes += n;
            if (pieceBytes === piece.length) {
              recording.chunks.push(piece);
              piece = Buffer.allocUnsafe(REPLAY_WRITE_BYTES);
              pieceBytes = 0;
            }
          }
        });
        answer.on('end', () => {
          if (!keep || !answer.complete) return;
          if (pieceBytes > 0) recording.chunks.push(piece.subarray(0, pieceBytes));
          recording.bytes = recording.chunks.reduce((sum, c) => sum + c.length, 0);
          recordings.set(record, recording);
        });
        res.writeHead(answer.statusCode ?? 500, answer.headers);
        answer.pipe(res);
      },
    );
    outgoing.on('error', (error) => {
      res.destroy(error);
    });
    outgoing.end(body);
  };

  const server = createServer((req, res) => {
    void (async () => {
      const body = await readAll(req);
      const path = (req.url ?? '').split('?')[0]!;
      if (req.method !== 'POST' || !/\/api\/4\.0\/queries\/run\//.test(path)) {
        forward(req, res, body);
        return;
      }
      const key = queryKey(path, body);
      const recording = recordings.get(key);
      if (recording) {
        await replay(res, recording);
        return;
      }
      if (frozen) liveSinceFreeze++;
      forward(req, res, body, key);
    })().catch((error: unknown) => res.destroy(error as Error));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    recorded: () => ({
      queries: recordings.size,
      bytes: [...recordings.values()].reduce((sum, r) => sum + r.bytes, 0),
    }),
    liveSinceFreeze: () => liveSinceFreeze,
    freeze() {
      frozen = true;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
