import type { InstanceConfig } from '../config/model.ts';
import type { Logger } from '../logging.ts';
import type { LookerClients } from '../looker/client.ts';
import { mapWithConcurrency } from './concurrency.ts';
import { checkExportFields, describeFieldProblems, type ExportFieldsResult } from './export-fields.ts';

// At worker start: refuse to start when an export names a field (or explore) Looker does not have, so a typo in
// a custom export is one clear error now rather than failed extracts after every retry. A Looker that cannot be
// asked (down, slow, credentials or permissions wrong) is only a warning: the worker serves every other
// instance, and that instance's jobs report their own errors. The check uses the worker's shared sessions, so
// its login is the one the extracts reuse.

export class ExportFieldsError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `worker not started: ${problems.length} export field problem(s): ${problems.join('; ')}. ` +
        'Correct the export in the config (`lsa doctor` runs every check).',
    );
    this.name = 'ExportFieldsError';
  }
}

export interface WorkerStartCheckOptions {
  /** How long one instance may take to answer before it is skipped with a warning. */
  timeoutMs?: number;
  /** Instances checked at once. */
  concurrency?: number;
}

const DEFAULT_TIMEOUT_MS = 15_000;
const DEFAULT_CONCURRENCY = 8;

type Outcome =
  | { kind: 'done'; result: ExportFieldsResult }
  | { kind: 'timeout' }
  | { kind: 'error'; message: string };

async function checkWithin(
  instance: InstanceConfig,
  clients: LookerClients,
  timeoutMs: number,
): Promise<Outcome> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Outcome>((resolve) => {
    timer = setTimeout(() => resolve({ kind: 'timeout' }), timeoutMs);
  });
  const check = checkExportFields(clients.get(instance), instance).then(
    (result): Outcome => ({ kind: 'done', result }),
    (error: unknown): Outcome => ({ kind: 'error', message: String((error as Error)?.message ?? error) }),
  );
  try {
    return await Promise.race([check, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export async function verifyExportFieldsAtWorkerStart(
  instances: readonly InstanceConfig[],
  clients: LookerClients,
  logger: Logger,
  options: WorkerStartCheckOptions = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const outcomes = await mapWithConcurrency(
    instances,
    options.concurrency ?? DEFAULT_CONCURRENCY,
    (instance) => checkWithin(instance, clients, timeoutMs),
  );
  const problems: string[] = [];
  outcomes.forEach((outcome, i) => {
    const instance = instances[i]!.id;
    if (outcome.kind === 'timeout') {
      logger.warn(
        { instance, timeoutMs },
        'export fields not checked at worker start: Looker did not answer in time',
      );
      return;
    }
    if (outcome.kind === 'error') {
      logger.warn({ instance, err: outcome.message }, 'export fields not checked at worker start');
      return;
    }
    const { result } = outcome;
    if (result.unavailable) {
      logger.warn(
        { instance, step: result.unavailable.step, err: result.unavailable.message },
        'export fields not checked at worker start: Looker unavailable (run lsa doctor)',
      );
      return;
    }
    for (const { explore, failure } of result.unchecked) {
      logger.warn({ instance, explore, err: failure.message }, 'explore not checked at worker start');
    }
    problems.push(...describeFieldProblems(result));
  });
  if (problems.length > 0) throw new ExportFieldsError(problems);
}
