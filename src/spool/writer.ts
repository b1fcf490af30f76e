import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';

// Writes NDJSON lines to `<file>.partial` through gzip, hashing the compressed bytes on the way, and renames to
// `<file>` only when everything is flushed: a crash leaves a `.partial` file, never a short file that looks done.

/** gzip level chosen from the extract benchmark (docs/benchmarks.md): level 1 keeps compression off the critical
 * path while still shrinking System Activity JSON about 8x. */
export const SPOOL_GZIP_LEVEL = 1;

const BATCH_CHARS = 256 * 1024;

export interface SpoolFileSummary {
  file: string;
  bytes: number;
  sha256: string;
  rows: number;
  uncompressedBytes: number;
}

export class SpoolWriter {
  private readonly gzip = createGzip({ level: SPOOL_GZIP_LEVEL });
  private readonly hash = createHash('sha256');
  private readonly done: Promise<void>;
  private batch = '';
  private rows = 0;
  private uncompressed = 0;
  private failed: unknown;

  private constructor(
    readonly file: string,
    private readonly partial: string,
  ) {
    const hash = this.hash;
    const tap = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        hash.update(chunk);
        callback(null, chunk);
      },
    });
    this.done = pipeline(this.gzip, tap, createWriteStream(partial));
    this.done.catch((error) => {
      this.failed = error;
    });
  }

  static async open(file: string): Promise<SpoolWriter> {
    await mkdir(dirname(file), { recursive: true });
    return new SpoolWriter(file, `${file}.partial`);
  }

  get rowCount(): number {
    return this.rows;
  }

  /**
   * Appends one line (no newline). Returns a promise only when a batch went to gzip (await it: back-pressure);
   * the other lines cost no promise, which counts at a million rows.
   */
  writeLine(line: string): Promise<void> | undefined {
    this.batch += `${line}\n`;
    this.rows++;
    return this.batch.length >= BATCH_CHARS ? this.flushBatch() : undefined;
  }

  private async flushBatch(): Promise<void> {
    if (this.failed) throw this.failed;
    if (this.batch.length === 0) return;
    const chunk = Buffer.from(this.batch, 'utf8');
    this.uncompressed += chunk.length;
    this.batch = '';
    if (!this.gzip.write(chunk)) {
      await new Promise<void>((resolve, reject) => {
        const onDrain = () => {
          this.gzip.off('error', onError);
          resolve();
        };
        const onError = (error: Error) => {
          this.gzip.off('drain', onDrain);
          reject(error);
        };
        this.gzip.once('drain', onDrain);
        this.gzip.once('error', onError);
      });
    }
  }

  /** Flushes, closes and renames into place. */
  async finish(): Promise<SpoolFileSummary> {
    await this.flushBatch();
    this.gzip.end();
    await this.done;
    await rename(this.partial, this.file);
    const { size } = await stat(this.file);
    return {
      file: this.file,
      bytes: size,
      sha256: this.hash.digest('hex'),
      rows: this.rows,
      uncompressedBytes: this.uncompressed,
    };
  }

  /** Discards everything written so far. */
  async abort(): Promise<void> {
    this.batch = '';
    this.gzip.destroy();
    await this.done.catch(() => undefined);
    await rm(this.partial, { force: true });
  }
}
