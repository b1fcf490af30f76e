// Deterministic randomness without state: every value is a pure function of (seed, stream, index, salt), so any
// row of any table can be generated on its own, in any order, and always comes out the same.

function mix32(value: number): number {
  let h = value | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A 32-bit hash of four integers (index may exceed 2^32; its high part is mixed in too). */
export function hash32(seed: number, stream: number, index: number, salt: number): number {
  let h = mix32(seed ^ Math.imul(stream + 1, 0x9e3779b1));
  h = mix32(h ^ (index >>> 0));
  h = mix32(h ^ Math.floor(index / 0x100000000) ^ Math.imul(salt + 1, 0x27d4eb2f));
  return h;
}

const HEX_BYTES = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Draws for one generated record: `next()` walks the salt so each draw is independent. */
export class Draw {
  private salt = 0;
  constructor(
    private readonly seed: number,
    private readonly stream: number,
    private readonly index: number,
  ) {}

  /** Uniform in [0, 1). */
  next(): number {
    return hash32(this.seed, this.stream, this.index, this.salt++) / 0x100000000;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Integer in [lo, hi]. */
  between(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }

  /** Picks from `[value, weight]` pairs. */
  weighted<T>(table: readonly (readonly [T, number])[]): T {
    let total = 0;
    for (const [, weight] of table) total += weight;
    let roll = this.next() * total;
    for (const [value, weight] of table) {
      roll -= weight;
      if (roll < 0) return value;
    }
    return (table[table.length - 1] as readonly [T, number])[0];
  }

  /** 1-based id in [1, n] skewed towards small ids (a few heavy users/dashboards, a long tail). */
  skewedId(n: number): number {
    const u = this.next();
    return 1 + Math.min(n - 1, Math.floor(n * u * u));
  }

  /** Lower-case hex string of `length` characters. */
  hex(length: number): string {
    let out = '';
    while (out.length < length) {
      const h = hash32(this.seed, this.stream, this.index, 1000 + this.salt++);
      out += `${HEX_BYTES[h >>> 24]}${HEX_BYTES[(h >>> 16) & 255]}${HEX_BYTES[(h >>> 8) & 255]}${HEX_BYTES[h & 255]}`;
    }
    return out.length === length ? out : out.slice(0, length);
  }
}

/** Stream numbers: one per generated table so tables never share draws. */
export const Stream = {
  users: 1,
  dashboards: 2,
  looks: 3,
  queries: 4,
  plans: 5,
  history: 10,
  historyTime: 11,
  events: 12,
  eventsTime: 13,
  attributes: 14,
  jobs: 15,
  jobsTime: 16,
  pdt: 17,
  pdtTime: 18,
  fieldUsage: 19,
  content: 20,
  entityTime: 21,
  tokens: 30,
  refresh: 31,
  deletions: 32,
  simulation: 33,
  layout: 34,
} as const;
