import type { IWriteQuery, Looker40SDK } from '@looker/sdk';
import { LookerNodeSDK, type NodeSession } from '@looker/sdk-node';
import { ApiSettings, type IApiSection, type IApiSettings } from '@looker/sdk-rtl';
import type { WriteQueryLike } from '../src/looker/index.ts';

// Shared by the Looker emulator tests: the real SDK wired exactly as production wires it (one settings object per
// instance, credentials read lazily), plus raw HTTP helpers for what the SDK hides (status codes, headers).

// The SDK logs a misleading "AbortSignal.timeout is not defined" on every request (reference §3.4).
const originalDebug = console.debug;
console.debug = (...args: unknown[]) => {
  if (typeof args[0] === 'string' && args[0].startsWith('AbortSignal.timeout')) return;
  originalDebug(...args);
};

class InstanceSettings extends ApiSettings {
  constructor(
    base: Partial<IApiSettings>,
    private readonly creds: () => IApiSection,
  ) {
    super(base);
  }
  override readConfig(): IApiSection {
    return this.creds();
  }
}

export function makeSdk(baseUrl: string, clientId: string, clientSecret: string): Looker40SDK {
  return LookerNodeSDK.init40(
    new InstanceSettings({ base_url: baseUrl, verify_ssl: true, timeout: 120 }, () => ({
      client_id: clientId,
      client_secret: clientSecret,
    })),
  );
}

export function session(sdk: Looker40SDK): NodeSession {
  return sdk.authSession as NodeSession;
}

/** The SDK types WriteQuery.limit as a string; the emulator takes both. */
export function writeQuery(query: WriteQueryLike): IWriteQuery {
  return query as unknown as IWriteQuery;
}

/** `run_inline_query` json: the SDK parses application/json, so the string-typed value is really an array. */
export async function runJson(
  sdk: Looker40SDK,
  body: WriteQueryLike,
  limit?: number,
): Promise<Record<string, unknown>[]> {
  const result = await sdk.ok(
    sdk.run_inline_query({ result_format: 'json', body: writeQuery(body), limit, cache: false }),
  );
  return result as unknown as Record<string, unknown>[];
}

export async function login(baseUrl: string, clientId: string, clientSecret: string): Promise<string> {
  const res = await fetch(`${baseUrl}/api/4.0/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: clientId, client_secret: clientSecret }).toString(),
  });
  if (res.status !== 200) throw new Error(`login failed: ${res.status}`);
  return ((await res.json()) as { access_token: string }).access_token;
}

export async function rawQuery(
  baseUrl: string,
  token: string,
  body: WriteQueryLike,
  format = 'json',
  query = '',
): Promise<Response> {
  return fetch(`${baseUrl}/api/4.0/queries/run/${format}${query}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/** RFC 4180 parser for the csv format checks. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(cell);
      cell = '';
    } else if (ch === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else if (ch !== '\r') cell += ch;
  }
  if (cell !== '' || row.length > 0) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}

export function utcText(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString().slice(0, 19).replace('T', ' ');
}

export function epochOf(text: string): number {
  return Date.parse(`${text.replace(' ', 'T')}Z`) / 1000;
}
