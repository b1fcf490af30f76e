import {
  CORRUPT_ROW_MODES,
  type CorruptRowMode,
  type FaultTarget,
  type LookerFault,
  type LookerFaults,
} from './types.ts';

// Injected failures of one instance. A request takes at most one `latency` fault (a delay before anything else)
// and at most one other fault, each the oldest queued one that matches the request kind. `truncate` and
// `corruptRow` only make sense for queries, so they only match queries whatever their `on`.

export type RequestKind = 'login' | 'logout' | 'query' | 'explore';

interface QueuedFault {
  fault: LookerFault;
  remaining: number;
}

export class FaultQueue implements LookerFaults {
  private queue: QueuedFault[] = [];
  readonly injected: Record<string, number> = {};

  inject(fault: LookerFault) {
    const checked = validateFault(fault);
    this.queue.push({ fault: checked, remaining: checked.times ?? 1 });
  }

  clear() {
    this.queue = [];
  }

  pending(): LookerFault[] {
    return this.queue.map((q) => ({ ...q.fault, times: q.remaining }));
  }

  /** Consumes and returns the faults that apply to a request of `kind`: [latency?, other?]. */
  take(kind: RequestKind): {
    latency: Extract<LookerFault, { kind: 'latency' }> | null;
    other: LookerFault | null;
  } {
    const latency = this.takeFirst(kind, (f) => f.kind === 'latency') as Extract<
      LookerFault,
      { kind: 'latency' }
    > | null;
    const other = this.takeFirst(kind, (f) => f.kind !== 'latency');
    return { latency, other };
  }

  private takeFirst(kind: RequestKind, wanted: (fault: LookerFault) => boolean): LookerFault | null {
    const index = this.queue.findIndex((q) => wanted(q.fault) && matches(q.fault, kind));
    if (index < 0) return null;
    const queued = this.queue[index] as QueuedFault;
    queued.remaining--;
    if (queued.remaining <= 0) this.queue.splice(index, 1);
    this.injected[queued.fault.kind] = (this.injected[queued.fault.kind] ?? 0) + 1;
    return queued.fault;
  }
}

function matches(fault: LookerFault, kind: RequestKind): boolean {
  if (fault.kind === 'truncate' || fault.kind === 'corruptRow') return kind === 'query';
  const on: FaultTarget = fault.on ?? 'query';
  return on === 'any' || on === kind;
}

const TARGETS: readonly FaultTarget[] = ['login', 'query', 'explore', 'any'];

export class FaultValidationError extends Error {}

/** Checks a fault (it may come from JSON over HTTP) and returns it typed. */
export function validateFault(input: unknown): LookerFault {
  if (typeof input !== 'object' || input === null)
    throw new FaultValidationError('a fault must be a JSON object');
  const f = input as Record<string, unknown>;
  const fail = (message: string): never => {
    throw new FaultValidationError(message);
  };
  const times = f.times ?? 1;
  if (typeof times !== 'number' || !Number.isInteger(times) || times < 1)
    fail('times must be a positive integer');
  const on = f.on ?? 'query';
  if (!TARGETS.includes(on as FaultTarget)) fail(`on must be one of ${TARGETS.join(', ')}`);
  const common = { times: times as number, on: on as FaultTarget };
  const nonNegative = (name: string) => {
    const value = f[name];
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
      fail(`${name} must be a number >= 0`);
    return value as number;
  };
  switch (f.kind) {
    case 'status': {
      const status = f.status;
      if (typeof status !== 'number' || !Number.isInteger(status) || status < 400 || status > 599)
        fail('status must be 400..599');
      const retryAfterSeconds =
        f.retryAfterSeconds === undefined ? undefined : nonNegative('retryAfterSeconds');
      const message = typeof f.message === 'string' ? f.message : undefined;
      return { kind: 'status', status: status as number, retryAfterSeconds, message, ...common };
    }
    case 'latency':
      return { kind: 'latency', ms: nonNegative('ms'), ...common };
    case 'hang':
      return { kind: 'hang', ...common };
    case 'truncate':
      return { kind: 'truncate', afterRows: Math.floor(nonNegative('afterRows')), ...common };
    case 'lookerError':
      if (typeof f.message !== 'string') fail('lookerError needs a message');
      return { kind: 'lookerError', message: f.message as string, ...common };
    case 'corruptRow':
      if (!CORRUPT_ROW_MODES.includes(f.mode as CorruptRowMode))
        fail(`mode must be one of ${CORRUPT_ROW_MODES.join(', ')}`);
      if (f.field !== undefined && typeof f.field !== 'string') fail('field must be a string');
      return {
        kind: 'corruptRow',
        mode: f.mode as CorruptRowMode,
        field: f.field as string | undefined,
        ...common,
      };
    default:
      return fail('kind must be one of status, latency, hang, truncate, lookerError, corruptRow');
  }
}
