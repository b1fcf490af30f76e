import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { SpoolWriter } from '../../src/spool/writer.ts';

// Lines given as bytes (writeLineBytes) go to gzip as views of their buffers: lines that follow each other in a
// buffer travel together, a gap or another buffer starts a new view, and text lines (writeLine) in between keep
// their place.

const dir = mkdtempSync(join(tmpdir(), 'lsa-spool-writer-bytes-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('SpoolWriter.writeLineBytes', () => {
  it('writes byte lines and text lines in order, across buffers, gaps and batch sizes', async () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const expected: string[] = [];
    const writer = await SpoolWriter.open(join(dir, 'mixed.ndjson.gz'));
    const pending: Promise<void>[] = [];
    let buffer = Buffer.alloc(64 * 1024);
    let used = 0;
    for (let i = 0; i < 30_000; i++) {
      const r = random();
      const line = `{"i":${i},"pad":"${'é'.repeat(Math.floor(random() * 40))}"}`;
      expected.push(line);
      let wait: Promise<void> | undefined;
      if (r < 0.05) {
        wait = writer.writeLine(line);
      } else {
        const bytes = Buffer.byteLength(line) + 1;
        if (used + bytes > buffer.length || r > 0.97) {
          buffer = Buffer.alloc(64 * 1024 + (r > 0.99 ? 600_000 : 0));
          used = 0;
        }
        // Now and then a gap: bytes of a line that was dropped, never handed to the writer.
        if (r > 0.9 && used + bytes + 10 <= buffer.length) used += buffer.write('dropped!\n', used);
        const start = used;
        used += buffer.write(`${line}\n`, used);
        wait = writer.writeLineBytes(buffer, start, used);
      }
      if (wait) pending.push(wait);
      if (i % 5000 === 0) await Promise.all(pending.splice(0));
    }
    await Promise.all(pending);
    const summary = await writer.finish();
    const text = gunzipSync(readFileSync(summary.file)).toString('utf8');
    expect(text).toBe(`${expected.join('\n')}\n`);
    expect(summary.rows).toBe(expected.length);
    expect(summary.uncompressedBytes).toBe(Buffer.byteLength(text));
  });
});
