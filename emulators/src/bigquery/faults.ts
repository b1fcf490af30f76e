import { invalid } from './errors.ts';

// Injected failures, for testing how a pipeline copes with BigQuery's transient errors. Usable in process
// (`emulator.faults.add(…)`) and over HTTP (`POST/GET/DELETE /_emulator/faults`) so a pipeline running in another
// process can be faulted too.
//
// - backendError: the next `times` jobs of the kind (`on: 'load' | 'query' | 'any'`) finish DONE with
//   errorResult {reason:'backendError', message:'Backend error. Job aborted.'} and change nothing. Transient, as in
//   BigQuery: retrying with a NEW job id succeeds (a job id is never reusable, failed or not).
// - status: the next `times` matching requests (`on: 'insert'` = jobs.insert and jobs.query, `'get'` = jobs.get and
//   getQueryResults, `'any'` = every API request) are answered with that HTTP status before anything is done. The
//   client retries 408/429/500/502/503/504 by itself (up to 3 retries, backing off ~1 s, 2 s, 4 s).

export type JobFaultTarget = 'load' | 'query' | 'any';
export type RequestFaultTarget = 'insert' | 'get' | 'any';

export type FaultSpec =
  | { kind: 'backendError'; on?: JobFaultTarget; times?: number }
  | { kind: 'status'; status: number; on?: RequestFaultTarget; times?: number; message?: string };

export type PendingFault = FaultSpec & { remaining: number };

export interface FaultSnapshot {
  pending: PendingFault[];
  injected: { backendError: number; status: number };
}

export interface BigQueryFaults {
  /** Queues a fault; `times` defaults to 1. */
  add(spec: FaultSpec): void;
  /** Drops every pending fault (the injected counters stay). */
  clear(): void;
  snapshot(): FaultSnapshot;
}

export interface StatusFault {
  status: number;
  reason: string;
  message: string;
}

const REASON_BY_STATUS: Record<number, string> = {
  400: 'invalid',
  403: 'rateLimitExceeded',
  404: 'notFound',
  408: 'backendError',
  429: 'rateLimitExceeded',
  500: 'backendError',
  502: 'backendError',
  503: 'backendError',
  504: 'backendError',
};

export class FaultBook implements BigQueryFaults {
  private pending: PendingFault[] = [];
  private readonly injected = { backendError: 0, status: 0 };

  add(spec: FaultSpec): void {
    this.pending.push({ ...parseFaultSpec(spec), remaining: spec.times ?? 1 });
  }

  clear(): void {
    this.pending = [];
  }

  snapshot(): FaultSnapshot {
    return { pending: this.pending.map((f) => ({ ...f })), injected: { ...this.injected } };
  }

  /** Consumes a backendError fault for a job of this kind, if one is pending. */
  takeJobFault(kind: 'load' | 'query'): boolean {
    const fault = this.take(
      (f) => f.kind === 'backendError' && (f.on ?? 'any') !== (kind === 'load' ? 'query' : 'load'),
    );
    if (fault) this.injected.backendError++;
    return fault !== undefined;
  }

  /** Consumes a status fault for a request of this kind, if one is pending. */
  takeRequestFault(request: 'insert' | 'get' | 'other'): StatusFault | undefined {
    const fault = this.take((f) => f.kind === 'status' && ((f.on ?? 'any') === 'any' || f.on === request));
    if (fault?.kind !== 'status') return undefined;
    this.injected.status++;
    return {
      status: fault.status,
      reason: REASON_BY_STATUS[fault.status] ?? 'backendError',
      message: fault.message ?? `Injected fault: HTTP ${fault.status} from the BigQuery emulator`,
    };
  }

  private take(matches: (fault: PendingFault) => boolean): PendingFault | undefined {
    const fault = this.pending.find(matches);
    if (!fault) return undefined;
    fault.remaining--;
    if (fault.remaining <= 0) this.pending = this.pending.filter((f) => f !== fault);
    return fault;
  }
}

/** Validates a fault spec from JSON (HTTP) or code. */
export function parseFaultSpec(raw: unknown): FaultSpec {
  const spec = raw as Record<string, unknown> | null;
  const times = spec?.times ?? 1;
  if (typeof times !== 'number' || !Number.isInteger(times) || times < 1) {
    throw invalid('Fault "times" must be a positive integer');
  }
  if (spec?.kind === 'backendError') {
    const on = spec.on ?? 'any';
    if (on !== 'load' && on !== 'query' && on !== 'any')
      throw invalid('backendError fault "on" must be load, query or any');
    return { kind: 'backendError', on, times };
  }
  if (spec?.kind === 'status') {
    const on = spec.on ?? 'any';
    if (on !== 'insert' && on !== 'get' && on !== 'any')
      throw invalid('status fault "on" must be insert, get or any');
    const status = spec.status;
    if (typeof status !== 'number' || !Number.isInteger(status) || status < 400 || status > 599) {
      throw invalid('status fault needs an HTTP "status" between 400 and 599');
    }
    const fault: FaultSpec = { kind: 'status', status, on, times };
    if (typeof spec.message === 'string') fault.message = spec.message;
    return fault;
  }
  throw invalid('Fault "kind" must be "backendError" or "status"');
}
