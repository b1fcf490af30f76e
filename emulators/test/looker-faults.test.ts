import { Looker40SDKStream } from '@looker/sdk';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type EmulatedLookerInstance,
  type LookerEmulator,
  type LookerFault,
  startLookerEmulator,
  type WriteQueryLike,
} from '../src/looker/index.ts';
import { login, makeSdk, rawQuery, runJson, session, writeQuery } from './looker-helpers.ts';

// Fault injection of the Looker emulator, in process and over the HTTP control routes, observed through the
// real SDK (and raw HTTP where the SDK hides what happened).

const F = { id: 'f', clientId: 'f-client', clientSecret: 'f-secret' };
const MODEL = 'system__activity';
const QUERY: WriteQueryLike = {
  model: MODEL,
  view: 'history',
  fields: ['history.id', 'history.created_time', 'history.source', 'history.runtime', 'user.email'],
  sorts: ['history.id'],
  limit: '50',
  query_timezone: 'UTC',
};

let emulator: LookerEmulator;
let instance: EmulatedLookerInstance;
let base: string;

beforeAll(async () => {
  emulator = await startLookerEmulator({ instances: [{ ...F, seed: 5, historyRows: 5_000 }] });
  instance = emulator.instance(F.id);
  base = emulator.baseUrl(F.id);
});

afterAll(async () => {
  await emulator?.close();
});

beforeEach(() => {
  instance.faults.clear();
});

const sdk = () => makeSdk(base, F.clientId, F.clientSecret);

async function control(path: string, method: string, body?: unknown): Promise<Response> {
  return fetch(`${emulator.url}/_emulator/instances/${F.id}/${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function injectOverHttp(fault: LookerFault) {
  const res = await control('faults', 'POST', fault);
  expect(res.status).toBe(201);
}

async function rawText(
  body: WriteQueryLike = QUERY,
): Promise<{ status: number; text: string; headers: Headers }> {
  const token = await login(base, F.clientId, F.clientSecret);
  const res = await rawQuery(base, token, body);
  return { status: res.status, text: await res.text(), headers: res.headers };
}

describe('status faults', () => {
  it('answers with Looker error JSON for the given status, then recovers', async () => {
    const client = sdk();
    await session(client).login();
    instance.faults.inject({ kind: 'status', status: 500, times: 2 });
    for (let i = 0; i < 2; i++) {
      const result = await client.run_inline_query({ result_format: 'json', body: writeQuery(QUERY) });
      expect(result.ok).toBe(false);
      expect(!result.ok && result.error).toMatchObject({
        message: 'Internal Server Error',
        documentation_url: 'http://docs.looker.com/',
      });
    }
    expect(await runJson(client, QUERY)).toHaveLength(50);
    expect(instance.stats().faultsInjected.status).toBeGreaterThanOrEqual(2);
  });

  it('429 carries Retry-After (injected over HTTP)', async () => {
    await injectOverHttp({ kind: 'status', status: 429, retryAfterSeconds: 2, times: 1 });
    const { status, text, headers } = await rawText();
    expect(status).toBe(429);
    expect(headers.get('retry-after')).toBe('2');
    expect(JSON.parse(text)).toEqual({
      message: 'Too Many Requests',
      documentation_url: 'http://docs.looker.com/',
    });
    expect((await rawText()).status).toBe(200);
  });

  it('a 503 on login fails the SDK call; queries are untouched by login faults', async () => {
    instance.faults.inject({ kind: 'status', status: 503, on: 'login' });
    const client = sdk();
    const failed = await client.run_inline_query({ result_format: 'json', body: writeQuery(QUERY) });
    expect(failed.ok).toBe(false);
    expect(!failed.ok && failed.error.message).toBe('Service Unavailable');
    expect(await runJson(client, QUERY)).toHaveLength(50);
  });

  it('`on` selects the requests a fault affects', async () => {
    const client = sdk();
    await session(client).login();
    instance.faults.inject({ kind: 'status', status: 500, on: 'explore' });
    expect(await runJson(client, QUERY)).toHaveLength(50); // a query does not consume an explore fault
    const explore = await client.lookml_model_explore({ lookml_model_name: MODEL, explore_name: 'history' });
    expect(explore.ok).toBe(false);
    instance.faults.inject({ kind: 'status', status: 502, on: 'any', times: 1 });
    const fresh = sdk();
    const viaLogin = await fresh.run_inline_query({ result_format: 'json', body: writeQuery(QUERY) });
    expect(!viaLogin.ok && viaLogin.error.message).toBe('Bad Gateway');
    expect(instance.faults.pending()).toEqual([]);
  });
});

describe('timing faults', () => {
  it('latency delays the answer', async () => {
    const client = sdk();
    await session(client).login();
    instance.faults.inject({ kind: 'latency', ms: 300 });
    const started = performance.now();
    expect(await runJson(client, QUERY)).toHaveLength(50);
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
  });

  it('hang never answers: the client gives up, the query stops counting as active', async () => {
    await injectOverHttp({ kind: 'hang', times: 1 });
    const token = await login(base, F.clientId, F.clientSecret);
    const request = fetch(`${base}/api/4.0/queries/run/json`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(QUERY),
      signal: AbortSignal.timeout(400),
    });
    await expect(request).rejects.toThrow();
    for (let i = 0; i < 50 && instance.stats().activeQueries > 0; i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(instance.stats().activeQueries).toBe(0);
    expect((await rawText()).status).toBe(200);
  });

  it('counts concurrent queries', async () => {
    const client = sdk();
    await session(client).login();
    instance.faults.inject({ kind: 'latency', ms: 200, times: 4 });
    await Promise.all([1, 2, 3, 4].map(() => runJson(client, QUERY)));
    const stats = instance.stats();
    expect(stats.maxConcurrentQueries).toBeGreaterThanOrEqual(4);
    expect(stats.activeQueries).toBe(0);
    expect(stats.queries).toBeGreaterThanOrEqual(4);
  });
});

describe('body faults', () => {
  it('truncate cuts the body after N rows (SDK error; a stream sees a partial body then a failure)', async () => {
    const client = sdk();
    await session(client).login();
    instance.faults.inject({ kind: 'truncate', afterRows: 10 });
    const result = await client.run_inline_query({ result_format: 'json', body: writeQuery(QUERY) });
    expect(result.ok).toBe(false);

    instance.faults.inject({ kind: 'truncate', afterRows: 10 });
    const stream = new Looker40SDKStream(client.authSession);
    let received = '';
    await expect(
      stream.run_inline_query(
        async (res: Response) => {
          expect(res.status).toBe(200);
          const decoder = new TextDecoder();
          for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>)
            received += decoder.decode(chunk);
          return received;
        },
        { result_format: 'json', body: writeQuery(QUERY) },
      ),
    ).rejects.toThrow();
    expect(received.startsWith('[{')).toBe(true);
    expect(received.match(/"history\.id":/g)).toHaveLength(10);
    expect(() => JSON.parse(received)).toThrow();
  });

  it('lookerError answers 200 with a looker_error row', async () => {
    await injectOverHttp({ kind: 'lookerError', message: 'Query timed out', times: 1 });
    expect(await runJson(sdk(), QUERY)).toEqual([{ looker_error: 'Query timed out' }]);
  });

  it('corruptRow alters only the first row of the next query, in each mode', async () => {
    const clean = JSON.parse((await rawText()).text) as Record<string, unknown>[];
    const first = clean[0] as Record<string, unknown>;
    const corrupted = async (fault: LookerFault) => {
      instance.faults.inject(fault);
      const { text } = await rawText();
      return text;
    };
    const parsed = async (fault: LookerFault) => {
      const rows = JSON.parse(await corrupted(fault)) as Record<string, unknown>[];
      expect(rows.slice(1)).toEqual(clean.slice(1));
      return rows[0] as Record<string, unknown>;
    };

    expect(() => JSON.parse(JSON.stringify(clean))).not.toThrow();
    const broken = await corrupted({ kind: 'corruptRow', mode: 'invalid-json' });
    expect(() => JSON.parse(broken)).toThrow();

    expect((await parsed({ kind: 'corruptRow', mode: 'string-in-number' }))['history.id']).toBe('abc');
    expect(
      (await parsed({ kind: 'corruptRow', mode: 'string-in-number', field: 'history.runtime' }))[
        'history.runtime'
      ],
    ).toBe('abc');
    const missing = await parsed({ kind: 'corruptRow', mode: 'missing-field', field: 'user.email' });
    expect(Object.keys(missing)).toEqual([
      'history.id',
      'history.created_time',
      'history.source',
      'history.runtime',
    ]);
    const extra = await parsed({ kind: 'corruptRow', mode: 'extra-field' });
    expect(extra).toEqual({ ...first, 'history.unexpected_field': 'surprise' });
    expect((await parsed({ kind: 'corruptRow', mode: 'null-key' }))['history.id']).toBeNull();
    const control = await parsed({ kind: 'corruptRow', mode: 'control-chars' });
    expect(control['history.source']).toContain('\u0001');
    expect(control['history.source']).toContain('\t');
    const nonBmp = await parsed({ kind: 'corruptRow', mode: 'non-bmp', field: 'user.email' });
    expect(nonBmp['user.email']).toContain('😀𝄞');
    const huge = await parsed({ kind: 'corruptRow', mode: 'huge-string' });
    expect((huge['history.source'] as string).length).toBeGreaterThanOrEqual(1024 * 1024);

    // Consumed: the next query is clean again.
    expect(JSON.parse((await rawText()).text)).toEqual(clean);
    expect(instance.stats().faultsInjected.corruptRow).toBeGreaterThanOrEqual(9);
  });
});

describe('tokens and control routes', () => {
  it('revokeTokens makes the session 401 until it logs in again', async () => {
    const client = sdk();
    expect(await runJson(client, QUERY)).toHaveLength(50);
    instance.revokeTokens();
    const refused = await client.run_inline_query({ result_format: 'json', body: writeQuery(QUERY) });
    expect(!refused.ok && refused.error.message).toBe('Requires authentication.');
    session(client).reset();
    expect(await runJson(client, QUERY)).toHaveLength(50);
    const res = await control('revoke-tokens', 'POST');
    expect(res.status).toBe(204);
    expect((await client.run_inline_query({ result_format: 'json', body: writeQuery(QUERY) })).ok).toBe(
      false,
    );
  });

  it('expired tokens are refused', async () => {
    const short = await startLookerEmulator({
      instances: [
        { id: 's', clientId: 'c', clientSecret: 's', seed: 1, historyRows: 100, tokenTtlSeconds: 1 },
      ],
    });
    try {
      const token = await login(short.baseUrl('s'), 'c', 's');
      expect((await rawQuery(short.baseUrl('s'), token, QUERY)).status).toBe(200);
      await new Promise((r) => setTimeout(r, 1100));
      expect((await rawQuery(short.baseUrl('s'), token, QUERY)).status).toBe(401);
    } finally {
      await short.close();
    }
  });

  it('manages faults and reads stats over HTTP', async () => {
    expect((await control('faults', 'POST', { kind: 'explode' })).status).toBe(400);
    expect((await control('faults', 'POST', { kind: 'status', status: 200 })).status).toBe(400);
    expect((await control('faults', 'POST', { kind: 'corruptRow', mode: 'nope' })).status).toBe(400);
    await injectOverHttp({ kind: 'latency', ms: 10, times: 3 });
    const listed = (await (await control('faults', 'GET')).json()) as { pending: LookerFault[] };
    expect(listed.pending).toEqual([{ kind: 'latency', ms: 10, times: 3, on: 'query' }]);
    expect((await control('faults', 'DELETE')).status).toBe(204);
    expect(instance.faults.pending()).toEqual([]);
    const stats = (await (await control('stats', 'GET')).json()) as Record<string, unknown>;
    expect(Object.keys(stats).sort()).toEqual([
      'activeQueries',
      'faultsInjected',
      'logins',
      'maxConcurrentQueries',
      'queries',
    ]);
    expect(stats.logins as number).toBeGreaterThan(0);
    expect((await fetch(`${emulator.url}/_emulator/instances/nope/stats`)).status).toBe(404);
  });
});
