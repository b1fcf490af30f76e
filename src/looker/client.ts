import { type IWriteQuery, type Looker40SDK, Looker40SDKStream } from '@looker/sdk';
import { LookerNodeSDK, NodeTransport } from '@looker/sdk-node';
import { ApiSettings, type IApiSection, type IApiSettings, type ITransportSettings } from '@looker/sdk-rtl';
import type { InstanceConfig } from '../config/model.ts';
import { errorMessage, NonRetryableError, RetryAfterError } from '../errors.ts';

// One Looker SDK session per instance, built from config (no looker.ini). Two SDK trip-ups are handled here:
// its `timeout` setting is ignored (so every request carries our own AbortSignal deadline), and it neither
// checks the status of streamed responses nor logs in again after a 401 (so we do both).

/** Credentials are read from the environment at each login, never stored on the settings object. */
class InstanceSettings extends ApiSettings {
  constructor(
    base: Partial<IApiSettings>,
    private readonly credentials: () => IApiSection,
  ) {
    super(base);
  }

  override readConfig(): IApiSection {
    return this.credentials();
  }
}

/** Adds a deadline to every request: the SDK's own `timeout` never reaches fetch (sdk-rtl 21.6.5). */
class DeadlineTransport extends NodeTransport {
  constructor(
    settings: ITransportSettings,
    private readonly deadlineMs: number,
  ) {
    super(settings);
  }

  override async initRequest(...args: Parameters<NodeTransport['initRequest']>) {
    const [method, path, body, authenticator, options] = args;
    const signal = AbortSignal.timeout(this.deadlineMs);
    // Passing the signal in the options also keeps sdk-rtl from logging "AbortSignal.timeout is not defined"
    // on every request (it does when no caller signal is given); it then drops it, so we set it ourselves.
    const init = await super.initRequest(method, path, body, authenticator, { ...options, signal });
    init.signal = signal;
    return init;
  }
}

const RETRY_AFTER_DEFAULT_MS = 30_000;

/** Told of every query call Looker took (the API budget counts them), before its rows are read. */
export type QueryCallObserver = (instanceId: string) => void | Promise<void>;

export interface LookerClientOptions {
  onQueryCall?: QueryCallObserver;
}

export class LookerClient {
  readonly sdk: Looker40SDK;
  private readonly stream: Looker40SDKStream;
  private readonly onQueryCall: QueryCallObserver | undefined;

  constructor(
    readonly instance: InstanceConfig,
    options: LookerClientOptions = {},
  ) {
    this.onQueryCall = options.onQueryCall;
    const settings = new InstanceSettings(
      { base_url: instance.baseUrl, verify_ssl: true, timeout: Math.ceil(instance.queryTimeoutMs / 1000) },
      () => ({ client_id: instance.clientId.resolve(), client_secret: instance.clientSecret.resolve() }),
    );
    this.sdk = LookerNodeSDK.init40(settings, new DeadlineTransport(settings, instance.queryTimeoutMs));
    this.stream = new Looker40SDKStream(this.sdk.authSession);
  }

  private apiUser: Promise<number> | undefined;

  /**
   * The id of the Looker user the API credentials act as (`GET /user`, once per session). The pipeline's own
   * queries are History rows of this user: the extract flags them so reports can leave them out.
   */
  apiUserId(): Promise<number> {
    this.apiUser ??= this.sdk.ok(this.sdk.me('id')).then(
      (me) => {
        if (typeof me.id !== 'string' && typeof me.id !== 'number') {
          throw new Error(`Looker's GET /user answered without an id: ${JSON.stringify(me).slice(0, 200)}`);
        }
        return Number(me.id);
      },
      (error: unknown) => {
        this.apiUser = undefined;
        throw classifyTransportError(error, this.instance.queryTimeoutMs);
      },
    );
    return this.apiUser;
  }

  /**
   * Runs an inline query in `json` format and hands each chunk of the body to `onChunk` as it arrives.
   * A 401 (token revoked or expired early) logs in again once.
   */
  async streamQuery(query: IWriteQuery, onChunk: (chunk: Buffer) => void | Promise<void>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.streamOnce(query, onChunk);
      if (outcome === 'done') return;
      if (attempt >= 2)
        throw new Error('Looker answered 401 Requires authentication again after a fresh login');
      this.sdk.authSession.reset();
    }
  }

  private async streamOnce(
    query: IWriteQuery,
    onChunk: (chunk: Buffer) => void | Promise<void>,
  ): Promise<'done' | 'unauthorized'> {
    let outcome: 'done' | 'unauthorized' = 'done';
    try {
      await this.stream.run_inline_query(
        async (response: Response) => {
          if (response.status === 401) {
            await response.body?.cancel();
            outcome = 'unauthorized';
            return outcome;
          }
          // The one place query calls are counted: Looker took the query (any answer but a 401, which only
          // sends us to log in again; the query is then sent once more and counted then).
          await this.onQueryCall?.(this.instance.id);
          if (!response.ok) throw await statusError(response);
          if (!response.body) throw new Error('Looker answered with no body');
          const reader = response.body.getReader();
          try {
            for (;;) {
              const { done, value } = await reader.read();
              if (done) break;
              await onChunk(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
            }
          } catch (error) {
            // Release the connection: a half-read body would otherwise hold its socket until the deadline.
            await reader.cancel().catch(() => undefined);
            throw error;
          }
          return outcome;
        },
        { result_format: 'json', body: query, cache: false },
      );
    } catch (error) {
      throw classifyTransportError(error, this.instance.queryTimeoutMs);
    }
    return outcome;
  }

  async logout(): Promise<void> {
    try {
      await this.sdk.authSession.logout();
    } catch {
      // Logging out is a courtesy; an expired session is already gone.
    }
  }
}

async function statusError(response: Response): Promise<Error> {
  const body = (await response.text().catch(() => '')).slice(0, 500);
  let message = body;
  try {
    const parsed = JSON.parse(body) as { message?: string };
    if (parsed.message) message = parsed.message;
  } catch {
    // not JSON: keep the text
  }
  const text = `Looker answered ${response.status}: ${message || response.statusText}`;
  if (response.status === 429) {
    const header = response.headers.get('retry-after');
    const seconds = header === null ? Number.NaN : Number(header);
    return new RetryAfterError(text, Number.isFinite(seconds) ? seconds * 1000 : RETRY_AFTER_DEFAULT_MS);
  }
  if (response.status >= 500 || response.status === 408) return new Error(text);
  return new NonRetryableError(text);
}

function classifyTransportError(error: unknown, deadlineMs: number): Error {
  if (error instanceof NonRetryableError || error instanceof RetryAfterError) return error;
  const name = (error as { name?: string })?.name;
  const message = errorMessage(error);
  if (name === 'TimeoutError' || name === 'AbortError' || /aborted|timeout/i.test(message)) {
    return new Error(`Looker did not answer within ${Math.round(deadlineMs / 1000)}s (query timeout)`);
  }
  // A failed login surfaces as LookerSDKError("Not found") from the stream call: bad credentials.
  if (name === 'LookerSDKError' && /not found/i.test(message)) {
    return new NonRetryableError(
      `Looker login failed (${message}): check the instance's clientId and clientSecret`,
    );
  }
  if (error instanceof Error) return error;
  return new Error(message);
}

/** One client per instance for the life of a worker process. */
export class LookerClients {
  private readonly clients = new Map<string, LookerClient>();

  constructor(private readonly options: LookerClientOptions = {}) {}

  get(instance: InstanceConfig): LookerClient {
    let client = this.clients.get(instance.id);
    if (!client) {
      client = new LookerClient(instance, this.options);
      this.clients.set(instance.id, client);
    }
    return client;
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.clients.values()].map((c) => c.logout()));
    this.clients.clear();
  }
}
