import { createHash, randomBytes } from 'node:crypto';
import type { GcsObjectReader } from '../gcs/store.ts';
import type { Catalog } from './catalog.ts';
import type { DuckDbEngine } from './duckdb-engine.ts';
import { duplicate, type ErrorProto, errorProto, invalid, JobFailedError, notFound } from './errors.ts';
import type { FaultBook } from './faults.ts';
import { checkLoadConfiguration, type LoadConfiguration, type LoadResult, runLoadJob } from './load-job.ts';
import { checkJobId } from './names.ts';
import {
  checkQueryConfiguration,
  type QueryConfiguration,
  type QueryResult,
  runQueryJob,
  ScriptFailure,
  type StatementOutcome,
} from './query-job.ts';

// The job registry and lifecycle. Rules that change the client's behaviour (research note §4.2):
// - jobs.insert answers RUNNING with no `status.errors`: the client's createJob rejects on any `status.errors`,
//   which real BigQuery never sends at insert time for load or query failures.
// - The work starts right after the insert is answered; jobs.get / getQueryResults wait for it (up to a bound)
//   before answering, so the client's first poll already sees DONE and polling costs no 500 ms sleeps.
// - A reused job id is 409 `duplicate` "Already Exists: Job p:US.id", failed or not — job ids are never reusable.

export type JobKind = 'load' | 'query';

export interface JobRecord {
  projectId: string;
  jobId: string;
  location: string;
  kind: JobKind;
  /** `configuration` as submitted, plus `jobType`. */
  configuration: Record<string, unknown>;
  state: 'RUNNING' | 'DONE';
  creationTime: number;
  startTime: number;
  endTime?: number;
  errorResult?: ErrorProto;
  errors?: ErrorProto[];
  load?: LoadResult['statistics'];
  query?: QueryResult;
  /** A statement of a script: the script's job id (statistics.parentJobId), and its place in the script. */
  parent?: { jobId: string; index: number };
  /** Settles (never rejects) when the job is DONE. */
  completion: Promise<void>;
}

export interface JobContext {
  engine: DuckDbEngine;
  catalog: Catalog;
  gcs: GcsObjectReader;
  faults: FaultBook;
}

type Plan = { kind: 'load'; config: LoadConfiguration } | { kind: 'query'; config: QueryConfiguration };

/** How long a jobs.get / getQueryResults waits for a running job before answering RUNNING / jobComplete:false. */
const MAX_WAIT_MS = 10_000;

export function generateJobId(): string {
  return `job_${randomBytes(16).toString('base64url').replaceAll('-', '_')}`;
}

export class JobService {
  private readonly jobs = new Map<string, JobRecord>();
  /** jobs.query requestId → job, so the client's retry of a jobs.query does not run the query twice. */
  private readonly queryRequests = new Map<string, JobRecord>();

  constructor(private readonly context: JobContext) {}

  /** jobs.insert. Throws 400 for an invalid job id or configuration, 409 for a reused job id. */
  insert(projectId: string, body: Record<string, unknown>): JobRecord {
    const reference = (body.jobReference ?? {}) as { jobId?: unknown; location?: unknown };
    const jobId = reference.jobId === undefined ? generateJobId() : checkJobId(reference.jobId);
    const location = typeof reference.location === 'string' ? reference.location : 'US';
    const existing = this.jobs.get(jobKey(projectId, jobId));
    if (existing) throw duplicate(`Already Exists: Job ${projectId}:${existing.location}.${jobId}`);
    const configuration = (body.configuration ?? {}) as Record<string, unknown>;
    const plan = this.plan(projectId, configuration);
    return this.start(projectId, jobId, location, configuration, plan);
  }

  /** jobs.query: a query job with a generated id; answers are built once it is done (see `waitFor`). */
  insertQueryRequest(projectId: string, body: Record<string, unknown>): JobRecord {
    const requestId = typeof body.requestId === 'string' ? `${projectId}\u0000${body.requestId}` : undefined;
    const seen = requestId === undefined ? undefined : this.queryRequests.get(requestId);
    // A retried request gets the first attempt's job — unless that attempt failed transiently, which is exactly
    // what the client's retry (on the 500 it got) is meant to get past.
    if (seen && seen.errorResult?.reason !== 'backendError') return seen;
    const config = checkQueryConfiguration(projectId, body);
    const location = typeof body.location === 'string' ? body.location : 'US';
    const configuration: Record<string, unknown> = { query: pickQueryFields(body) };
    const job = this.start(projectId, generateJobId(), location, configuration, { kind: 'query', config });
    if (requestId !== undefined) this.queryRequests.set(requestId, job);
    return job;
  }

  get(projectId: string, jobId: string): JobRecord {
    const job = this.jobs.get(jobKey(projectId, jobId));
    if (!job) throw notFound(`Not found: Job ${projectId}:${jobId}`);
    return job;
  }

  /** Newest first: the top-level jobs, or with `parentJobId` that script's statements (as jobs.list does). */
  list(projectId: string, parentJobId?: string): JobRecord[] {
    return [...this.jobs.values()]
      .filter((j) => j.projectId === projectId && j.parent?.jobId === parentJobId)
      .sort((a, b) => b.creationTime - a.creationTime || (b.parent?.index ?? 0) - (a.parent?.index ?? 0));
  }

  /** Resolves when the job is DONE or `timeoutMs` passed; true when DONE. */
  async waitFor(job: JobRecord, timeoutMs = MAX_WAIT_MS): Promise<boolean> {
    if (job.state === 'DONE') return true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    await Promise.race([job.completion, timeout]);
    clearTimeout(timer);
    return isDone(job); // re-read: the job may have finished while we waited
  }

  private plan(projectId: string, configuration: Record<string, unknown>): Plan {
    if (configuration.load) {
      return {
        kind: 'load',
        config: checkLoadConfiguration(projectId, configuration.load as Record<string, unknown>),
      };
    }
    if (configuration.query) {
      return {
        kind: 'query',
        config: checkQueryConfiguration(projectId, configuration.query as Record<string, unknown>),
      };
    }
    throw invalid(
      'The BigQuery emulator runs only load and query jobs (configuration.load or configuration.query)',
    );
  }

  private start(
    projectId: string,
    jobId: string,
    location: string,
    configuration: Record<string, unknown>,
    plan: Plan,
  ): JobRecord {
    const now = Date.now();
    const job: JobRecord = {
      projectId,
      jobId,
      location,
      kind: plan.kind,
      configuration: { ...configuration, jobType: plan.kind === 'load' ? 'LOAD' : 'QUERY' },
      state: 'RUNNING',
      creationTime: now,
      startTime: now,
      completion: Promise.resolve(),
    };
    // Decided at insert so faults apply to jobs in the order they were submitted.
    const injectBackendError = this.context.faults.takeJobFault(plan.kind);
    // Deferred a tick: the insert answer must still show RUNNING.
    job.completion = new Promise<void>((resolve) => setImmediate(resolve)).then(() =>
      this.execute(job, plan, injectBackendError),
    );
    this.jobs.set(jobKey(projectId, jobId), job);
    return job;
  }

  private async execute(job: JobRecord, plan: Plan, injectBackendError: boolean): Promise<void> {
    try {
      if (injectBackendError)
        throw new JobFailedError(errorProto('backendError', 'Backend error. Job aborted.'));
      if (plan.kind === 'load') {
        const result = await runLoadJob(this.context, plan.config);
        job.load = result.statistics;
        // Skipped bad rows (within maxBadRecords) are listed in `errors` of a successful job.
        if (result.warnings.length > 0) job.errors = result.warnings;
      } else {
        job.query = await runQueryJob(this.context, job.projectId, plan.config);
        this.recordStatements(job, job.query.children ?? []);
      }
    } catch (error) {
      const failure = JobFailedError.from(error instanceof ScriptFailure ? error.cause : error);
      job.errorResult = failure.errorResult;
      job.errors = failure.errors;
      if (error instanceof ScriptFailure) this.recordStatements(job, error.statements, failure);
    } finally {
      job.state = 'DONE';
      job.endTime = Date.now();
    }
  }

  /**
   * Each statement of a script that ran becomes a child job, done, with its own statistics (BigQuery's
   * script_job_…); with `failure`, the last one is the statement that failed, and carries the error.
   */
  private recordStatements(script: JobRecord, children: StatementOutcome[], failure?: JobFailedError): void {
    const stem = createHash('sha256').update(script.jobId).digest('hex').slice(0, 32);
    const now = Date.now();
    for (const [index, statement] of children.entries()) {
      const { query, ...result } = statement;
      const child: JobRecord = {
        projectId: script.projectId,
        jobId: `script_job_${stem}_${index}`,
        location: script.location,
        kind: 'query',
        configuration: { query: { query, useLegacySql: false }, jobType: 'QUERY' },
        state: 'DONE',
        creationTime: script.creationTime,
        startTime: script.startTime,
        endTime: now,
        query: result,
        parent: { jobId: script.jobId, index },
        completion: Promise.resolve(),
      };
      if (failure && index === children.length - 1) {
        child.errorResult = failure.errorResult;
        child.errors = failure.errors;
      }
      this.jobs.set(jobKey(child.projectId, child.jobId), child);
    }
  }
}

function isDone(job: JobRecord): boolean {
  return job.state === 'DONE';
}

function jobKey(projectId: string, jobId: string): string {
  return `${projectId}\u0000${jobId}`;
}

const QUERY_REQUEST_FIELDS = [
  'query',
  'useLegacySql',
  'defaultDataset',
  'queryParameters',
  'parameterMode',
  'labels',
];

function pickQueryFields(body: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    QUERY_REQUEST_FIELDS.filter((f) => body[f] !== undefined).map((f) => [f, body[f]]),
  );
}
