import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { SpoolWriter } from '../../src/spool/writer.ts';

// The spool writer encodes lines into fixed-size buffers for gzip: lines of any length and any characters come
// back in order, byte for byte, whether or not the caller waits between lines.

const dir = mkdtempSync(join(tmpdir(), 'lsa-spool-writer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('SpoolWriter', () => {
  it('writes every line in order, multi-byte and 1 MB lines included', async () => {
    const lines: string[] = [];
    for (let i = 0; i < 3000; i++) lines.push(JSON.stringify({ i, text: 'é😀\u2028'.repeat(i % 50) }));
    lines.splice(1000, 0, 'x'.repeat(1024 * 1024), '😀'.repeat(200_000), '');
    const writer = await SpoolWriter.open(join(dir, 'a', 'lines.ndjson.gz'));
    for (const line of lines) await writer.writeLine(line);
    const summary = await writer.finish();
    const text = gunzipSync(readFileSync(summary.file)).toString('utf8');
    expect(text).toBe(`${lines.join('\n')}\n`);
    expect(summary.rows).toBe(lines.length);
    expect(summary.uncompressedBytes).toBe(Buffer.byteLength(text));
  });

  it('keeps the order when the caller does not wait for each line', async () => {
    const lines = Array.from({ length: 20_000 }, (_, i) => `{"i":${i},"pad":"${'ü'.repeat(i % 300)}"}`);
    lines[7000] = 'y'.repeat(400_000);
    const writer = await SpoolWriter.open(join(dir, 'b.ndjson.gz'));
    const pending: Promise<void>[] = [];
    for (const line of lines) {
      const accepted = writer.writeLine(line);
      if (accepted) pending.push(accepted);
    }
    await Promise.all(pending);
    const summary = await writer.finish();
    expect(gunzipSync(readFileSync(summary.file)).toString('utf8')).toBe(`${lines.join('\n')}\n`);
  });
});
