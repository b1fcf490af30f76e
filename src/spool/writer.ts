import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Transform, type TransformOptions } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip, type ZlibOptions } from 'node:zlib';

// Writes NDJSON lines to `<file>.partial` through gzip, hashing the compressed bytes on the way, and renames to
// `<file>` only when everything is flushed: a crash leaves a `.partial` file, never a short file that looks done.

/** gzip level chosen from the extract benchmark (docs/benchmarks.md): level 1 keeps compression off the critical
 * path while still shrinking System Activity JSON about 8x. */
export const SPOOL_GZIP_LEVEL = 1;

/** Bytes of NDJSON handed to gzip at once. */
const BATCH_BYTES = 256 * 1024;

/**
 * Bytes of NDJSON gzip may hold before the writer waits (its writable high-water mark). gzip compresses on the
 * libuv pool; with Node's default (16 KB) every batch was over the mark, so the extract waited for gzip to empty
 * after each one and the two took turns instead of running side by side. A few batches keep gzip busy while the
 * next lines are made.
 */
const GZIP_BUFFER_BYTES = 4 * BATCH_BYTES;

const GZIP_OUTPUT_BYTES = 64 * 1024;

/** zlib passes stream options on to its Transform; its own type only lists zlib's. */
const GZIP_OPTIONS: ZlibOptions & TransformOptions = {
  level: SPOOL_GZIP_LEVEL,
  writableHighWaterMark: GZIP_BUFFER_BYTES,
  // Compressed bytes per round trip between the libuv pool and the main thread. zlib fills one output buffer per
  // job and the main thread starts the next: with the default 16 KB (about 110 KB of NDJSON), gzip waited for
  // the extract's event loop every fraction of a millisecond.
  chunkSize: GZIP_OUTPUT_BYTES,
};

export interface SpoolFileSummary {
  file: string;
  bytes: number;
  sha256: string;
  rows: number;
  uncompressedBytes: number;
}

export class SpoolWriter {
  private readonly gzip = createGzip(GZIP_OPTIONS);
  private readonly hash = createHash('sha256');
  private readonly done: Promise<void>;
  /** Lines are encoded into this buffer as they come, so no line outlives its own write (a long-lived string of a
   * whole batch would survive V8's young-generation collections and make its heap grow). */
  private batch = Buffer.allocUnsafeSlow(BATCH_BYTES);
  private batchBytes = 0;
  private rows = 0;
  private uncompressed = 0;
  private failed: unknown;
  /** The wait for gzip's next drain, while one is pending. */
  private drain: Promise<void> | undefined;
  /** Lines given as bytes (`writeLineBytes`) and not yet sent: `run[runStart, runEnd)`, consecutive in one
   * buffer, sent to gzip as one view of it. */
  private run: Buffer | undefined;
  private runStart = 0;
  private runEnd = 0;

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
    if (this.failed) return Promise.reject(this.failed);
    this.rows++;
    // Lines given as bytes before this one go first.
    const sent = this.takeRun();
    if (sent) return this.writeText(line) ?? sent;
    return this.writeText(line);
  }

  /**
   * Appends one line given as its bytes `bytes[start, end)`, newline included (as RowConverter.fromBytes writes
   * it). The bytes must never be written again: lines that follow each other in one buffer go to gzip as one
   * view of it, uncopied, at least a batch at a time. A promise only when gzip asks to wait, as `writeLine`.
   */
  writeLineBytes(bytes: Buffer, start: number, end: number): Promise<void> | undefined {
    if (this.failed) return Promise.reject(this.failed);
    this.rows++;
    // Every send below shares one wait for gzip's drain (see send): any of them is the one to return.
    let drained = this.takeBatch();
    if (this.run !== undefined && (this.run !== bytes || this.runEnd !== start))
      drained = this.takeRun() ?? drained;
    if (this.run === undefined) {
      this.run = bytes;
      this.runStart = start;
    }
    this.runEnd = end;
    if (this.runEnd - this.runStart >= BATCH_BYTES) drained = this.takeRun() ?? drained;
    return drained;
  }

  /** Sends the lines given as bytes so far. */
  private takeRun(): Promise<void> | undefined {
    if (this.run === undefined) return undefined;
    const chunk = this.run.subarray(this.runStart, this.runEnd);
    this.run = undefined;
    return this.send(chunk);
  }

  private writeText(line: string): Promise<void> | undefined {
    // UTF-8 takes at most 3 bytes per UTF-16 unit. Everything below is synchronous up to gzip.write, so lines
    // keep their order even if a caller does not wait for the promise.
    const mostBytes = line.length * 3 + 1;
    if (mostBytes > this.batch.length) {
      // A line longer than a batch (a 1 MB string value): the batch so far, then the line as its own chunk.
      this.takeBatch();
      return this.send(Buffer.from(`${line}\n`, 'utf8'));
    }
    let drained: Promise<void> | undefined;
    if (this.batchBytes + mostBytes > this.batch.length) drained = this.takeBatch();
    this.batchBytes += this.batch.write(line, this.batchBytes, 'utf8');
    this.batch[this.batchBytes++] = 0x0a;
    return drained;
  }

  /** Hands the batch so far to gzip and starts a new one; a promise when gzip asks to wait (back-pressure). */
  private takeBatch(): Promise<void> | undefined {
    if (this.batchBytes === 0) return undefined;
    const chunk = this.batch.subarray(0, this.batchBytes);
    // gzip keeps the chunk until it has compressed it: the next lines go to a new buffer.
    this.batch = Buffer.allocUnsafeSlow(BATCH_BYTES);
    this.batchBytes = 0;
    return this.send(chunk);
  }

  private send(chunk: Buffer): Promise<void> | undefined {
    this.uncompressed += chunk.length;
    if (this.gzip.write(chunk)) return undefined;
    // Chunks written before the caller waits share one wait for the next drain (one pair of listeners, not one
    // per chunk).
    this.drain ??= new Promise<void>((resolve, reject) => {
      const onDrain = () => {
        this.gzip.off('error', onError);
        this.drain = undefined;
        resolve();
      };
      const onError = (error: Error) => {
        this.gzip.off('drain', onDrain);
        this.drain = undefined;
        reject(error);
      };
      this.gzip.once('drain', onDrain);
      this.gzip.once('error', onError);
    });
    return this.drain;
  }

  /** Flushes, closes and renames into place. */
  async finish(): Promise<SpoolFileSummary> {
    if (this.failed) throw this.failed;
    await this.takeRun();
    await this.takeBatch();
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
    this.batchBytes = 0;
    this.run = undefined;
    this.gzip.destroy();
    await this.done.catch(() => undefined);
    await rm(this.partial, { force: true });
  }
}
