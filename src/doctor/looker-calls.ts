import type { ILookmlModelExplore } from '@looker/sdk';
import { errorMessage } from '../errors.ts';
import type { LookerClient } from '../looker/client.ts';

// The few Looker API calls the doctor makes, with their failures sorted into what an operator can act on. The
// SDK reports a non-2xx answer as the body's message only (Looker's 404 says "Not found"), and a network
// failure as fetch's message, so the sorting reads messages, as src/looker/client.ts does.

export type LookerFailureKind =
  /** Looker answered 404: on login, the client id/secret pair; on an explore, no such explore or no access. */
  | 'not-found'
  /** No answer: connection refused, DNS, TLS, or our deadline. */
  | 'unreachable'
  /** The config names a secret whose environment variable is not set. */
  | 'secret-missing'
  | 'other';

export interface LookerFailure {
  kind: LookerFailureKind;
  message: string;
}

export type LookerOutcome<T> = { ok: true; value: T } | { ok: false; failure: LookerFailure };

export function classifyLookerError(error: unknown): LookerFailure {
  const message = errorMessage(error);
  const name = (error as { name?: string } | null)?.name;
  if (/^not found$/i.test(message.trim()))
    return { kind: 'not-found', message: 'Looker answered 404 Not found' };
  if (/environment variable \S+ is not set/.test(message)) return { kind: 'secret-missing', message };
  if (
    name === 'TimeoutError' ||
    name === 'AbortError' ||
    /fetch failed|ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ECONNRESET|ETIMEDOUT|socket|aborted|timeout|certificate/i.test(
      message,
    )
  ) {
    return { kind: 'unreachable', message };
  }
  return { kind: 'other', message };
}

async function attempt<T>(call: () => Promise<T>): Promise<LookerOutcome<T>> {
  try {
    return { ok: true, value: await call() };
  } catch (error) {
    return { ok: false, failure: classifyLookerError(error) };
  }
}

/** Logs in unless the session already holds a valid token (a worker's shared session usually does). */
export function ensureLogin(client: LookerClient): Promise<LookerOutcome<void>> {
  return attempt(async () => {
    if (!client.sdk.authSession.isAuthenticated()) await client.sdk.authSession.login();
  });
}

/** Every field name an explore offers to a query: dimensions, measures, filter-only fields and parameters. */
export function fetchExploreFields(
  client: LookerClient,
  model: string,
  explore: string,
): Promise<LookerOutcome<Set<string>>> {
  return attempt(async () => {
    const metadata: ILookmlModelExplore = await client.sdk.ok(
      client.sdk.lookml_model_explore({ lookml_model_name: model, explore_name: explore, fields: 'fields' }),
    );
    const { dimensions, measures, filters, parameters } = metadata.fields ?? {};
    const names = [dimensions, measures, filters, parameters].flatMap((list) =>
      (list ?? []).map((f) => f.name),
    );
    return new Set(names.filter((n): n is string => typeof n === 'string'));
  });
}

/** Runs a query (json) and returns its rows; a `looker_error` row (Looker's in-band failure) is an error. */
export async function queryRows(
  client: LookerClient,
  query: { model: string; view: string; fields: string[]; filters?: Record<string, string>; limit: string },
): Promise<LookerOutcome<Record<string, unknown>[]>> {
  return attempt(async () => {
    const chunks: Buffer[] = [];
    await client.streamQuery({ ...query, query_timezone: 'UTC' }, (chunk) => {
      chunks.push(Buffer.from(chunk));
    });
    const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    if (!Array.isArray(parsed))
      throw new Error('Looker answered a query with something other than a JSON array');
    const rows = parsed as Record<string, unknown>[];
    const error = rows.find((r) => r && typeof r === 'object' && 'looker_error' in r);
    if (error) throw new Error(`Looker reported a query error: ${String(error.looker_error)}`);
    return rows;
  });
}

/** Looker's own default time zone (an Admin setting); most API users may not read it. */
export function fetchLookerTimezone(client: LookerClient): Promise<LookerOutcome<string | undefined>> {
  return attempt(async () => (await client.sdk.ok(client.sdk.get_setting('timezone'))).timezone);
}
