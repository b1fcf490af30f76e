// BigQuery's error vocabulary. One class serves both ways an error reaches the client: as an HTTP error answer
// (`{error:{code,message,errors:[…]}}`, which @google-cloud/common turns into an ApiError with `code`) and as a
// finished job's `status.errorResult` (which the client's poller turns into an ApiError *without* `code`).

/** One entry of `errors[]` / `errorResult`, as BigQuery's ErrorProto. */
export interface ErrorProto {
  reason: string;
  message: string;
  location?: string;
  domain?: string;
}

export class BigQueryApiError extends Error {
  constructor(
    readonly httpStatus: number,
    readonly reason: string,
    message: string,
    readonly location?: string,
  ) {
    super(message);
    this.name = 'BigQueryApiError';
  }

  toErrorProto(): ErrorProto {
    return errorProto(this.reason, this.message, this.location);
  }
}

export function errorProto(reason: string, message: string, location?: string): ErrorProto {
  return location === undefined ? { reason, message } : { reason, location, message };
}

export const notFound = (message: string, location?: string) =>
  new BigQueryApiError(404, 'notFound', message, location);
export const duplicate = (message: string) => new BigQueryApiError(409, 'duplicate', message);
export const invalid = (message: string, location?: string) =>
  new BigQueryApiError(400, 'invalid', message, location);
export const invalidQuery = (message: string) => new BigQueryApiError(400, 'invalidQuery', message, 'query');
export const resourceInUse = (message: string) => new BigQueryApiError(400, 'resourceInUse', message);
export const backendError = (message = 'Backend error. Job aborted.') =>
  new BigQueryApiError(500, 'backendError', message);

/**
 * A job that finished with an error: `errorResult` is the headline, `errors` the full list (BigQuery repeats the
 * headline as the first entry of `errors`).
 */
export class JobFailedError extends Error {
  constructor(
    readonly errorResult: ErrorProto,
    readonly errors: ErrorProto[] = [errorResult],
  ) {
    super(errorResult.message);
    this.name = 'JobFailedError';
  }

  /**
   * The failure of a job from whatever its work threw. Anything that is not one of BigQuery's own errors is a job
   * the emulator cannot run: reported as `invalid` (HTTP 400 at getQueryResults / jobs.query), not
   * `internalError`, because a 5xx makes every client retry (the Node client for ~15 s, the pipeline as a
   * transient failure) what will fail again the same way.
   */
  static from(error: unknown): JobFailedError {
    if (error instanceof JobFailedError) return error;
    if (error instanceof BigQueryApiError) return new JobFailedError(error.toErrorProto());
    const message = error instanceof Error ? error.message : String(error);
    return new JobFailedError(errorProto('invalid', `The BigQuery emulator cannot run this job: ${message}`));
  }
}

const STATUS_BY_REASON: Record<string, number> = {
  invalid: 400,
  invalidQuery: 400,
  resourceInUse: 400,
  badRequest: 400,
  notFound: 404,
  duplicate: 409,
  rateLimitExceeded: 403,
  backendError: 500,
  internalError: 500,
};

/** The HTTP status BigQuery uses when it reports an error of this reason as an HTTP answer. */
export function httpStatusForReason(reason: string): number {
  return STATUS_BY_REASON[reason] ?? 400;
}

const STATUS_NAMES: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'ALREADY_EXISTS',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  501: 'UNIMPLEMENTED',
  502: 'UNAVAILABLE',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

/** The JSON body Google APIs send with an HTTP error; the client reads `code`, `message` and `errors[].reason`. */
export function errorResponseBody(httpStatus: number, errors: ErrorProto[]) {
  const first = errors[0] ?? { reason: 'internalError', message: 'Unknown error' };
  return {
    error: {
      code: httpStatus,
      message: first.message,
      errors: errors.map((e) => ({ ...e, domain: e.domain ?? 'global' })),
      status: STATUS_NAMES[httpStatus] ?? 'UNKNOWN',
    },
  };
}
