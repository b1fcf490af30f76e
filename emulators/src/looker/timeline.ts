import { hash32 } from './random.ts';

// The creation times of one append-only table. Generated rows are spread over [startSec, endSec) by a monotonic
// function of their index (with a daily rhythm and jitter), so a time filter maps to an index range by binary
// search and nothing is stored; rows appended later ("now") are kept in a small array.

export interface TimelineOptions {
  seed: number;
  stream: number;
  generated: number;
  startSec: number;
  endSec: number;
  /** 0..0.9: how much busier some hours of the day are than others. */
  dailyWave?: number;
}

export class Timeline {
  private readonly appended: number[] = [];
  /** When each appended row was written (a simulation may back-date rows; they show from the write on). */
  private readonly inserted: number[] = [];
  private readonly span: number;
  private readonly days: number;
  private readonly wave: number;

  constructor(private readonly options: TimelineOptions) {
    this.span = Math.max(1, options.endSec - options.startSec);
    this.days = Math.max(1, Math.round(this.span / 86_400));
    this.wave = Math.min(0.9, Math.max(0, options.dailyWave ?? 0));
  }

  get generated(): number {
    return this.options.generated;
  }

  get count(): number {
    return this.options.generated + this.appended.length;
  }

  /** Creation second of row `index` (non-decreasing in index). */
  createdSec(index: number): number {
    const n = this.options.generated;
    if (index >= n) return this.appended[index - n] as number;
    // x strictly increases with the index (jitter < 1 slot); warp(x) = x + a·sin(2πDx)/(2πD) is increasing
    // for a < 1, bunching rows into one part of each day.
    const jitter = hash32(this.options.seed, this.options.stream, index, 0) / 0x100000000;
    const x = (index + jitter) / n;
    const k = 2 * Math.PI * this.days;
    const warped = x + (this.wave * Math.sin(k * x)) / k;
    const offset = Math.min(this.span - 1, Math.max(0, Math.floor(warped * this.span)));
    return this.options.startSec + offset;
  }

  /** First index whose creation second is >= `sec` (count when none). */
  lowerBound(sec: number): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.createdSec(mid) < sec) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * Appends a row created at `sec` (never before the last row), written at `insertedSec` (default: then; never
   * before the last row's write), and returns its index.
   */
  append(sec: number, insertedSec = sec): number {
    const last = this.count > 0 ? this.createdSec(this.count - 1) : Number.NEGATIVE_INFINITY;
    const created = Math.max(sec, last);
    const lastInserted = this.inserted[this.inserted.length - 1] ?? Number.NEGATIVE_INFINITY;
    this.appended.push(created);
    this.inserted.push(Math.max(created, insertedSec, lastInserted));
    return this.count - 1;
  }

  /**
   * How many rows a copy of the table taken at `asOfSec` holds: rows created and written by then. Both grow with
   * the index, so that copy is a prefix of the rows.
   */
  visibleCount(asOfSec: number): number {
    if (asOfSec === Number.POSITIVE_INFINITY) return this.count;
    const created = this.lowerBound(Math.floor(asOfSec) + 1);
    const n = this.options.generated;
    if (created <= n) return created;
    let lo = 0;
    let hi = created - n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.inserted[mid] as number) <= asOfSec) lo = mid + 1;
      else hi = mid;
    }
    return n + lo;
  }
}
