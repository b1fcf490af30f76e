import { readFileSync } from 'node:fs';
import { notFound } from './errors.ts';

// The BigQuery v2 discovery document, which Google's Python-based tools (the `bq` CLI, google-api-python-client)
// fetch before their first call and build their client from. `bq --api http://host:port` asks for
// `/$discovery/rest?version=v2`; google-api-python-client's default is `/discovery/v1/apis/bigquery/v2/rest`.
//
// discovery-v2.json is Google's published document (revision 20250528, as shipped with Cloud SDK 528's bq),
// narrowed to what the emulator serves: the resources datasets, tables, jobs, tabledata and projects with all their
// methods, the schemas those methods reach, and no regional `endpoints`; schema descriptions are left out (clients
// read names, types and $refs only). Methods the emulator does not implement stay in, so the CLI sends them and
// gets the emulator's own error instead of failing inside its client. rootUrl/baseUrl are rewritten per request to
// where the client connected.

const DOCUMENT_FILE = new URL('./discovery-v2.json', import.meta.url);
const DISCOVERY_PATHS = new Set(['/$discovery/rest', '/discovery/v1/apis/bigquery/v2/rest']);

let template: Record<string, unknown> | undefined;

/** True for the paths a discovery client asks (percent-decoded `$` included). */
export function isDiscoveryPath(pathname: string): boolean {
  return DISCOVERY_PATHS.has(pathname.replace(/^\/%24/i, '/$'));
}

/**
 * The document with every URL pointing at `origin` (e.g. `http://127.0.0.1:9050`). `version` is the `?version=`
 * of a `/$discovery/rest` request; only v2 exists, as at Google.
 */
export function discoveryDocument(origin: string, version: string | null): Record<string, unknown> {
  if (version !== null && version !== 'v2') {
    throw notFound(`Requested entity was not found: the BigQuery API has no version ${version}`);
  }
  template ??= JSON.parse(readFileSync(DOCUMENT_FILE, 'utf8')) as Record<string, unknown>;
  const rootUrl = `${origin.replace(/\/+$/, '')}/`;
  return {
    ...template,
    rootUrl,
    mtlsRootUrl: rootUrl,
    baseUrl: `${rootUrl}${String(template.servicePath ?? 'bigquery/v2/')}`,
  };
}
