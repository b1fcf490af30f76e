import { createServer, type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { closeServer, listen, readBody, sendEmpty, sendJson } from '../http.ts';
import { tokenFromHeader } from './auth.ts';
import { EmulatorClock } from './clock.ts';
import { MODEL_NAME } from './engine.ts';
import { FaultValidationError, type RequestKind } from './faults.ts';
import {
  queryErrorBody,
  RESULT_FORMATS,
  type ResultFormat,
  type StreamOptions,
  streamQueryResult,
} from './formats.ts';
import { LookerInstance } from './instance.ts';
import { selectFields } from './metadata.ts';
import { SYSTEM_ACTIVITY_EXPLORES } from './refresh.ts';
import type {
  DeletableEntity,
  LookerEmulator,
  LookerEmulatorOptions,
  LookerFault,
  WriteQueryLike,
} from './types.ts';

// The HTTP face of the emulator: several instances on one server, each under `/instances/<id>/api/4.0/...`
// (the SDK's base_url is `<url>/instances/<id>`), plus control routes so a pipeline running in another process
// can be faulted and fed new activity:
//
//   POST /instances/<id>/api/4.0/login                      form (or query) client_id, client_secret
//   DELETE /instances/<id>/api/4.0/logout                   204
//   GET  /instances/<id>/api/4.0/lookml_models/system__activity/explores/<explore>[?fields=…]
//   POST /instances/<id>/api/4.0/queries/run/{json|json_bi|csv}[?limit=…]   WriteQuery JSON body
//   GET  /instances/<id>/api/4.0/user                       the API user (the SDK's me())
//
//   POST   /_emulator/instances/<id>/faults          one LookerFault as JSON → 201 {pending}
//   GET    /_emulator/instances/<id>/faults          {pending}
//   DELETE /_emulator/instances/<id>/faults          204
//   GET    /_emulator/instances/<id>/stats           LookerStats
//   POST   /_emulator/instances/<id>/activity        {"n": N} → simulateActivity(N)
//   POST   /_emulator/instances/<id>/revoke-tokens   204
//   POST   /_emulator/instances/<id>/delete-entity   {"kind": "dashboard", "id": 7} → 204 (deleteEntity)
//   GET    /_emulator/instances/<id>/refreshes       {<explore>: {last, next}} epoch ms
//   GET    /_emulator/clock                          {now} epoch ms
//   POST   /_emulator/clock                          {"advanceMs": N} → {now}; 409 when given a clock function
//
// Order of checks for an API call: route, token (401), then faults (so a fault is only consumed by a request
// that would otherwise have been served), then the request itself.

const DOCUMENTATION_URL = 'http://docs.looker.com/';

function lookerError(
  res: ServerResponse,
  status: number,
  message: string,
  headers: Record<string, string> = {},
) {
  sendJson(res, status, { message, documentation_url: DOCUMENTATION_URL }, headers);
}

const notFound = (res: ServerResponse) => lookerError(res, 404, 'Not found');
const unauthenticated = (res: ServerResponse) => lookerError(res, 401, 'Requires authentication.');

/** The client left or the server closed while we waited: nothing more may be written. */
function gone(res: ServerResponse): boolean {
  return res.destroyed || res.writableEnded || (res.socket?.destroyed ?? true);
}

function statusMessage(status: number): string {
  if (status === 404) return 'Not found';
  return STATUS_CODES[status] ?? 'Error';
}

export async function startLookerEmulator(options: LookerEmulatorOptions): Promise<LookerEmulator> {
  const clock = new EmulatorClock(options.clock);
  const startedSec = clock.nowSec();
  const instances = new Map<string, LookerInstance>();
  for (const spec of options.instances) {
    if (instances.has(spec.id)) throw new Error(`duplicate Looker instance id: ${spec.id}`);
    instances.set(spec.id, new LookerInstance(spec, startedSec, clock));
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) lookerError(res, 500, error instanceof Error ? error.message : String(error));
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://emulator');
    if (url.pathname === '/_emulator/clock') return handleClock(req, res);
    const control = /^\/_emulator\/instances\/([^/]+)\/([a-z-]+)$/.exec(url.pathname);
    if (control) {
      const instance = instances.get(decodeURIComponent(control[1] as string));
      if (!instance) return notFound(res);
      return handleControl(req, res, instance, control[2] as string);
    }
    const api = /^\/instances\/([^/]+)\/api\/4\.0(\/.*)$/.exec(url.pathname);
    const instance = api ? instances.get(decodeURIComponent(api[1] as string)) : undefined;
    if (!api || !instance) {
      await readBody(req);
      return notFound(res);
    }
    const route = api[2] as string;
    const method = req.method ?? 'GET';
    if (method === 'POST' && route === '/login') return handleLogin(req, res, url, instance);
    const explore = /^\/lookml_models\/([^/]+)\/explores\/([^/]+)$/.exec(route);
    const run = /^\/queries\/run\/([^/]+)$/.exec(route);
    const body = await readBody(req);
    const token = tokenFromHeader(req.headers.authorization);
    if (!token || !instance.tokens.isValid(token)) return unauthenticated(res);
    if (method === 'DELETE' && route === '/logout') {
      if (!(await applyFaults(res, instance, 'logout'))) return;
      instance.tokens.revoke(token);
      return sendEmpty(res, 204);
    }
    if (method === 'GET' && explore) {
      return handleExplore(
        res,
        url,
        instance,
        decodeURIComponent(explore[1] as string),
        decodeURIComponent(explore[2] as string),
      );
    }
    if (method === 'POST' && run)
      return handleQuery(res, url, instance, decodeURIComponent(run[1] as string), body);
    if (method === 'GET' && route === '/user') return sendJson(res, 200, instance.apiUser());
    return notFound(res);
  }

  async function handleClock(req: IncomingMessage, res: ServerResponse) {
    const raw = (await readBody(req)).toString('utf8');
    if (req.method === 'GET') return sendJson(res, 200, { now: clock.nowMs() });
    if (req.method !== 'POST') return notFound(res);
    if (!clock.owned)
      return lookerError(res, 409, 'The emulator was given a clock function: advance that clock.');
    let advanceMs: unknown;
    try {
      advanceMs = (JSON.parse(raw === '' ? '{}' : raw) as { advanceMs?: unknown }).advanceMs;
    } catch (error) {
      return lookerError(res, 400, error instanceof Error ? error.message : String(error));
    }
    if (typeof advanceMs !== 'number' || !Number.isFinite(advanceMs) || advanceMs < 0)
      return lookerError(
        res,
        400,
        `advanceMs must be a number of milliseconds >= 0, got ${JSON.stringify(advanceMs)}`,
      );
    clock.advance(advanceMs);
    return sendJson(res, 200, { now: clock.nowMs() });
  }

  /**
   * Applies the latency and terminal faults due for a request. Returns the fault the handler must apply itself
   * (truncate/corruptRow) or `true` to carry on; `false` when the request has been answered (or left hanging).
   */
  async function applyFaults(
    res: ServerResponse,
    instance: LookerInstance,
    kind: RequestKind,
  ): Promise<LookerFault | boolean> {
    const { latency, other } = instance.faults.take(kind);
    if (latency) {
      await sleep(latency.ms);
      if (gone(res)) return false;
    }
    if (!other) return true;
    switch (other.kind) {
      case 'status': {
        const headers: Record<string, string> = {};
        if (other.retryAfterSeconds !== undefined) headers['retry-after'] = String(other.retryAfterSeconds);
        lookerError(res, other.status, other.message ?? statusMessage(other.status), headers);
        return false;
      }
      case 'hang':
        // Hold the socket: the client gives up, or closeServer() destroys it.
        await new Promise<void>((resolve) => res.on('close', resolve));
        return false;
      case 'lookerError':
        sendJson(res, 200, [{ looker_error: other.message }]);
        return false;
      default:
        return other;
    }
  }

  async function handleLogin(req: IncomingMessage, res: ServerResponse, url: URL, instance: LookerInstance) {
    // The SDK posts a form body; older clients pass credentials as query parameters. Both are accepted.
    const form = new URLSearchParams((await readBody(req)).toString('utf8'));
    const clientId = form.get('client_id') ?? url.searchParams.get('client_id');
    const clientSecret = form.get('client_secret') ?? url.searchParams.get('client_secret');
    if (!(await applyFaults(res, instance, 'login'))) return;
    // Looker answers bad credentials with 404, not 401.
    if (clientId !== instance.spec.clientId || clientSecret !== instance.spec.clientSecret)
      return notFound(res);
    instance.countLogin();
    sendJson(res, 200, instance.tokens.issue());
  }

  async function handleExplore(
    res: ServerResponse,
    url: URL,
    instance: LookerInstance,
    model: string,
    exploreName: string,
  ) {
    if (!(await applyFaults(res, instance, 'explore'))) return;
    const metadata = model === MODEL_NAME ? instance.exploreMetadata(exploreName) : null;
    if (!metadata) return notFound(res);
    sendJson(res, 200, selectFields(metadata, url.searchParams.get('fields')));
  }

  async function handleQuery(
    res: ServerResponse,
    url: URL,
    instance: LookerInstance,
    format: string,
    rawBody: Buffer,
  ) {
    const endQuery = instance.beginQuery();
    res.once('close', endQuery);
    res.once('finish', endQuery);
    let body: WriteQueryLike;
    try {
      const parsed: unknown = JSON.parse(rawBody.toString('utf8'));
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
        throw new Error('not an object');
      body = parsed as WriteQueryLike;
    } catch {
      return lookerError(res, 400, 'Could not parse JSON body');
    }
    const fault = await applyFaults(res, instance, 'query');
    if (fault === false) return;
    if (!RESULT_FORMATS.includes(format as ResultFormat)) {
      return lookerError(
        res,
        400,
        `The Looker emulator does not support result_format "${format}" (json, json_bi, csv).`,
      );
    }
    const resultFormat = format as ResultFormat;
    const missing = (['model', 'view'] as const).filter((k) => typeof body[k] !== 'string' || body[k] === '');
    if (missing.length > 0) {
      return sendJson(res, 422, {
        message: 'Validation Failed',
        errors: missing.map((field) => ({
          field,
          code: 'missing_field',
          message: `'${field}' is required.`,
          documentation_url: DOCUMENTATION_URL,
        })),
        documentation_url: DOCUMENTATION_URL,
      });
    }
    // Real System Activity answers a query on an explore it does not have like any unknown route.
    if (instance.realistic && !instance.hasExplore(body)) return notFound(res);
    const sendQueryError = (message: string) => {
      const { contentType, body: text } = queryErrorBody(resultFormat, message);
      res.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    const limit = instance.effectiveLimit(url.searchParams.get('limit'), body.limit);
    if (limit === null)
      return sendQueryError(`Invalid limit "${url.searchParams.get('limit') ?? String(body.limit)}".`);
    // The API user's query shows in History (elite/standard), running until the response ends.
    const started = performance.now();
    const record = instance.recordApiQuery();
    const prepared = instance.prepare(body, limit);
    if (!prepared.ok) {
      record.finish((performance.now() - started) / 1000, prepared.error);
      return sendQueryError(prepared.error);
    }
    const finish = () => record.finish((performance.now() - started) / 1000, null);
    res.once('close', finish);
    const streamOptions: StreamOptions = {};
    if (typeof fault === 'object') {
      if (fault.kind === 'truncate') streamOptions.truncateAfterRows = fault.afterRows;
      if (fault.kind === 'corruptRow')
        streamOptions.corruptFirstRow = { mode: fault.mode, field: fault.field };
    }
    const filters = Object.fromEntries(
      Object.entries(body.filters ?? {}).filter(([, v]) => typeof v === 'string'),
    );
    await streamQueryResult(res, resultFormat, prepared.query, filters, streamOptions);
  }

  async function handleControl(
    req: IncomingMessage,
    res: ServerResponse,
    instance: LookerInstance,
    action: string,
  ) {
    const method = req.method ?? 'GET';
    const raw = (await readBody(req)).toString('utf8');
    const json = (): unknown => (raw.trim() === '' ? {} : JSON.parse(raw));
    try {
      if (action === 'faults' && method === 'POST') {
        instance.faults.inject(json() as LookerFault);
        return sendJson(res, 201, { pending: instance.faults.pending() });
      }
      if (action === 'faults' && method === 'DELETE') {
        instance.faults.clear();
        return sendEmpty(res, 204);
      }
      if (action === 'faults' && method === 'GET')
        return sendJson(res, 200, { pending: instance.faults.pending() });
      if (action === 'stats' && method === 'GET') return sendJson(res, 200, instance.stats());
      if (action === 'activity' && method === 'POST') {
        const n = (json() as { n?: unknown }).n;
        if (typeof n !== 'number' || !Number.isInteger(n) || n < 0)
          return lookerError(res, 400, 'n must be an integer >= 0');
        instance.simulateActivity(n);
        return sendJson(res, 200, { historyRows: instance.dataset.activity.history.count });
      }
      if (action === 'revoke-tokens' && method === 'POST') {
        instance.revokeTokens();
        return sendEmpty(res, 204);
      }
      if (action === 'delete-entity' && method === 'POST') {
        const { kind, id } = json() as { kind?: unknown; id?: unknown };
        try {
          instance.deleteEntity(kind as DeletableEntity, id as number);
        } catch (error) {
          return lookerError(res, 400, error instanceof Error ? error.message : String(error));
        }
        return sendEmpty(res, 204);
      }
      if (action === 'refreshes' && method === 'GET') {
        const refreshes = Object.fromEntries(
          SYSTEM_ACTIVITY_EXPLORES.map((e) => [
            e,
            { last: instance.lastRefresh(e), next: instance.nextRefresh(e) },
          ]),
        );
        return sendJson(res, 200, refreshes);
      }
    } catch (error) {
      if (error instanceof FaultValidationError || error instanceof SyntaxError)
        return lookerError(res, 400, error.message);
      throw error;
    }
    return notFound(res);
  }

  // Node closes idle keep-alive sockets after 5 s; when the event loop is busy that close can race a client that
  // is reusing the socket ("fetch failed"). Looker sits behind load balancers with long idle timeouts, so do too.
  server.keepAliveTimeout = 65_000;
  const url = await listen(server, options.port ?? 0, options.host ?? '127.0.0.1');
  return {
    url,
    baseUrl: (id) => {
      if (!instances.has(id)) throw new Error(`no Looker instance "${id}"`);
      return `${url}/instances/${encodeURIComponent(id)}`;
    },
    instance: (id) => {
      const instance = instances.get(id);
      if (!instance) throw new Error(`no Looker instance "${id}"`);
      return instance;
    },
    now: () => clock.nowMs(),
    advanceClock: (ms) => clock.advance(ms),
    close: () => closeServer(server),
  };
}
