// Fault injection. A test (in process, through `emulator.faults`) or a pipeline in another process (through
// POST /_emulator/faults) queues faults; each storage request takes the first pending fault that targets its kind.
// Faults never touch the /_emulator routes, so a test can always inspect and clear them.

/** What a storage request does, for fault targeting and statistics. */
export type RequestKind = 'upload' | 'download' | 'metadata';
export type FaultTarget = RequestKind | 'any';

export interface StatusFault {
  kind: 'status';
  /** HTTP status to answer with, with Google's error JSON for it (e.g. 503, 429, 500). */
  status: number;
  /** How many matching requests get the fault (default 1). */
  times?: number;
  /** Which requests (default 'any'). */
  on?: FaultTarget;
  /** Let this many matching requests through before the fault starts (default 0), e.g. to hit a later chunk. */
  skip?: number;
}

export interface ResetFault {
  kind: 'reset';
  times?: number;
  /** Which requests (default 'upload'). */
  on?: FaultTarget;
  /**
   * Request bytes to receive before destroying the connection (default 0). For a download: response bytes to
   * send before destroying it.
   */
  afterBytes?: number;
  skip?: number;
}

/** Holds the request this long before handling it normally (a slow network or a slow GCS). */
export interface LatencyFault {
  kind: 'latency';
  ms: number;
  times?: number;
  /** Which requests (default 'any'). */
  on?: FaultTarget;
  skip?: number;
}

export type GcsFault = StatusFault | ResetFault | LatencyFault;

/** The fault a single request must suffer. */
export type ArmedFault =
  | { kind: 'status'; status: number }
  | { kind: 'reset'; afterBytes: number }
  | { kind: 'latency'; ms: number };

export interface PendingFault {
  kind: GcsFault['kind'];
  on: FaultTarget;
  remaining: number;
  skip: number;
  status?: number;
  afterBytes?: number;
  ms?: number;
}

export interface FaultReport {
  pending: PendingFault[];
  /** Faults injected since the emulator started (or since the last clear), by kind. */
  injected: Record<GcsFault['kind'], number>;
}

export class FaultValidationError extends Error {}

export class GcsFaults {
  private queue: PendingFault[] = [];
  private injected: FaultReport['injected'] = { status: 0, reset: 0, latency: 0 };

  /** Queues a fault; throws FaultValidationError for a malformed one (the HTTP route answers 400). */
  add(fault: GcsFault) {
    this.queue.push(normalizeFault(fault));
  }

  /** Drops pending faults and zeroes the injected counts. */
  clear() {
    this.queue = [];
    this.injected = { status: 0, reset: 0, latency: 0 };
  }

  report(): FaultReport {
    return { pending: this.queue.map((fault) => ({ ...fault })), injected: { ...this.injected } };
  }

  /** Consumes the fault this request must suffer, if any, and counts it as injected. */
  take(kind: RequestKind): ArmedFault | undefined {
    for (const fault of this.queue) {
      if (fault.on !== 'any' && fault.on !== kind) continue;
      if (fault.skip > 0) {
        fault.skip -= 1;
        continue;
      }
      fault.remaining -= 1;
      if (fault.remaining <= 0) this.queue = this.queue.filter((queued) => queued !== fault);
      this.injected[fault.kind] += 1;
      if (fault.kind === 'status') return { kind: 'status', status: fault.status ?? 503 };
      if (fault.kind === 'latency') return { kind: 'latency', ms: fault.ms ?? 0 };
      return { kind: 'reset', afterBytes: fault.afterBytes ?? 0 };
    }
    return undefined;
  }
}

const TARGETS: readonly FaultTarget[] = ['upload', 'download', 'metadata', 'any'];

function normalizeFault(value: unknown): PendingFault {
  if (typeof value !== 'object' || value === null)
    throw new FaultValidationError('a fault must be a JSON object');
  const fault = value as Record<string, unknown>;
  const times = optionalCount(fault.times, 'times', 1);
  if (times < 1) throw new FaultValidationError('times must be at least 1');
  const skip = optionalCount(fault.skip, 'skip', 0);
  if (fault.kind === 'status') {
    const status = fault.status;
    // 4xx/5xx only: a 2xx or 3xx "fault" would be read by the client as a real answer.
    if (typeof status !== 'number' || !Number.isInteger(status) || status < 400 || status > 599) {
      throw new FaultValidationError('status must be an HTTP error status (400-599)');
    }
    return { kind: 'status', status, remaining: times, skip, on: target(fault.on, 'any') };
  }
  if (fault.kind === 'reset') {
    const afterBytes = optionalCount(fault.afterBytes, 'afterBytes', 0);
    return { kind: 'reset', afterBytes, remaining: times, skip, on: target(fault.on, 'upload') };
  }
  if (fault.kind === 'latency') {
    const ms = optionalCount(fault.ms, 'ms', 0);
    return { kind: 'latency', ms, remaining: times, skip, on: target(fault.on, 'any') };
  }
  throw new FaultValidationError("kind must be 'status', 'reset' or 'latency'");
}

function optionalCount(value: unknown, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new FaultValidationError(`${field} must be a non-negative integer`);
  }
  return value;
}

function target(value: unknown, fallback: FaultTarget): FaultTarget {
  if (value === undefined) return fallback;
  if (!TARGETS.includes(value as FaultTarget)) {
    throw new FaultValidationError(`on must be one of ${TARGETS.join(', ')}`);
  }
  return value as FaultTarget;
}
