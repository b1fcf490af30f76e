// The emulator's "now". Tests share one clock function with the pipeline and move it forward, so days of
// System Activity (refreshes, queries finishing, content ageing) pass in seconds. Without a clock function the
// emulator owns one: real time plus an offset that only grows (`advance`, or POST /_emulator/clock).

export class EmulatorClock {
  private offsetMs = 0;

  constructor(private readonly external?: () => number) {}

  /** True when the clock is the emulator's own (it can be advanced). */
  get owned(): boolean {
    return this.external === undefined;
  }

  nowMs(): number {
    if (this.external) {
      const now = this.external();
      if (!Number.isFinite(now)) throw new Error(`clock() returned ${String(now)}, not epoch milliseconds`);
      return now;
    }
    return Date.now() + this.offsetMs;
  }

  nowSec(): number {
    return Math.floor(this.nowMs() / 1000);
  }

  advance(ms: number) {
    if (this.external) throw new Error('the emulator was given a clock function: advance that clock instead');
    if (!Number.isFinite(ms) || ms < 0) throw new Error(`advanceMs must be a number >= 0, got ${String(ms)}`);
    this.offsetMs += ms;
  }
}
