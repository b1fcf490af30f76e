import { gunzipSync } from 'node:zlib';
import { resetConnection, sendEmpty, sendJson } from '../http.ts';
import type { GcsContext, StorageRequest } from './context.ts';
import { bucketNotFound, GcsError, invalidRequest, objectNotFound } from './errors.ts';
import { checkPreconditions, preconditionsFrom } from './preconditions.ts';
import { bucketResource, objectHashes, objectResource, storageLayoutResource } from './resources.ts';
import type { StoredObject } from './stored-object.ts';

// Buckets, object metadata, listing, deletion and media download.

// GCS bucket naming: 3-63 chars (222 with dots), lowercase letters, digits, '-', '_' and '.', starting and
// ending with a letter or digit.
const BUCKET_NAME = /^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/;

export function handleListBuckets(context: GcsContext, request: StorageRequest) {
  requireProject(request);
  const items = [...context.store.buckets.values()]
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .map((bucket) => bucketResource(bucket, request.baseUrl));
  sendJson(request.res, 200, { kind: 'storage#buckets', ...(items.length ? { items } : {}) });
}

export function handleCreateBucket(context: GcsContext, request: StorageRequest) {
  requireProject(request);
  let name: unknown;
  try {
    name = (JSON.parse(request.body.bytes.toString('utf8') || '{}') as { name?: unknown }).name;
  } catch {
    throw new GcsError(400, 'parseError', 'Parse Error');
  }
  if (typeof name !== 'string' || name === '') throw new GcsError(400, 'required', 'Required');
  if (!BUCKET_NAME.test(name) || (!name.includes('.') && name.length > 63)) {
    throw invalidRequest(`Invalid bucket name: '${name}'`);
  }
  if (!context.store.createBucket(name)) {
    throw new GcsError(
      409,
      'conflict',
      'Your previous request to create the named bucket succeeded and you already own it.',
    );
  }
  const bucket = context.store.getBucket(name);
  sendJson(request.res, 200, bucket ? bucketResource(bucket, request.baseUrl) : {});
}

function requireProject(request: StorageRequest) {
  if (!request.target.query.get('project'))
    throw new GcsError(400, 'required', 'Required parameter: project');
}

export function handleGetBucket(context: GcsContext, request: StorageRequest, bucketName: string) {
  const bucket = context.store.getBucket(bucketName);
  if (!bucket) throw bucketNotFound();
  sendJson(request.res, 200, bucketResource(bucket, request.baseUrl));
}

/** buckets.getStorageLayout: every emulated bucket is a flat namespace (no hierarchical namespace, no folders). */
export function handleGetStorageLayout(context: GcsContext, request: StorageRequest, bucketName: string) {
  const bucket = context.store.getBucket(bucketName);
  if (!bucket) throw bucketNotFound();
  sendJson(request.res, 200, storageLayoutResource(bucket));
}

/** managedFolders.list: the emulator has no managed folders (no IAM), so every bucket lists none. */
export function handleListManagedFolders(context: GcsContext, request: StorageRequest, bucketName: string) {
  if (!context.store.hasBucket(bucketName)) throw bucketNotFound();
  sendJson(request.res, 200, { kind: 'storage#managedFolders' });
}

export function handleDeleteBucket(context: GcsContext, request: StorageRequest, bucketName: string) {
  const outcome = context.store.deleteBucket(bucketName);
  if (outcome === 'missing') throw bucketNotFound();
  if (outcome === 'not-empty')
    throw new GcsError(409, 'conflict', 'The bucket you tried to delete is not empty.');
  sendEmpty(request.res, 204);
}

/** The object a request names, honouring `?generation=` (only the live generation is kept) and preconditions. */
function requestedObject(
  context: GcsContext,
  request: StorageRequest,
  bucket: string,
  name: string,
): StoredObject {
  if (!context.store.hasBucket(bucket)) throw bucketNotFound();
  const object = context.store.getObject(bucket, name);
  const generation = request.target.query.get('generation');
  if (!object || (generation !== null && generation !== object.generation))
    throw objectNotFound(bucket, name);
  checkPreconditions(object, preconditionsFrom(request.target.query));
  return object;
}

export function handleGetObject(context: GcsContext, request: StorageRequest, bucket: string, name: string) {
  const object = requestedObject(context, request, bucket, name);
  sendJson(request.res, 200, objectResource(object, request.baseUrl));
}

export function handleDeleteObject(
  context: GcsContext,
  request: StorageRequest,
  bucket: string,
  name: string,
) {
  requestedObject(context, request, bucket, name);
  context.store.deleteObject(bucket, name);
  sendEmpty(request.res, 204);
}

const MAX_RESULTS = 1000;

/**
 * objects.list: prefix, delimiter (+ prefixes), startOffset/endOffset, maxResults and pageToken. Objects and
 * prefixes form one name-ordered sequence that pages are cut from; the page token is the last name returned.
 */
export function handleListObjects(context: GcsContext, request: StorageRequest, bucket: string) {
  if (!context.store.hasBucket(bucket)) throw bucketNotFound();
  const { query } = request.target;
  const prefix = query.get('prefix') ?? '';
  const delimiter = query.get('delimiter') ?? '';
  const startOffset = query.get('startOffset') ?? '';
  const endOffset = query.get('endOffset');
  const includeTrailingDelimiter = query.get('includeTrailingDelimiter') === 'true';
  const maxResults = Math.min(
    positiveInteger(query.get('maxResults'), 'maxResults') ?? MAX_RESULTS,
    MAX_RESULTS,
  );
  const after = decodePageToken(query.get('pageToken'));

  const entries: Array<{ key: string; object?: StoredObject }> = [];
  let lastPrefix: string | undefined;
  for (const object of context.store.listObjects(bucket, prefix)) {
    if (object.name < startOffset || (endOffset !== null && object.name >= endOffset)) continue;
    const cut = delimiter ? object.name.indexOf(delimiter, prefix.length) : -1;
    if (cut === -1) {
      entries.push({ key: object.name, object });
      continue;
    }
    const commonPrefix = object.name.slice(0, cut + delimiter.length);
    if (commonPrefix !== lastPrefix) entries.push({ key: commonPrefix });
    lastPrefix = commonPrefix;
    if (includeTrailingDelimiter && object.name === commonPrefix) entries.push({ key: object.name, object });
  }

  const remaining = after === undefined ? entries : entries.filter((entry) => entry.key > after);
  const page = remaining.slice(0, maxResults);
  const items = page.flatMap((entry) =>
    entry.object ? [objectResource(entry.object, request.baseUrl)] : [],
  );
  const prefixes = page.flatMap((entry) => (entry.object ? [] : [entry.key]));
  const last = page.at(-1);
  sendJson(request.res, 200, {
    kind: 'storage#objects',
    ...(remaining.length > page.length && last ? { nextPageToken: encodePageToken(last.key) } : {}),
    ...(prefixes.length ? { prefixes } : {}),
    ...(items.length ? { items } : {}),
  });
}

function positiveInteger(value: string | null, name: string): number | undefined {
  if (value === null) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1) throw invalidRequest(`Invalid value for ${name}: ${value}`);
  return Number(value);
}

function encodePageToken(lastKey: string) {
  return Buffer.from(lastKey, 'utf8').toString('base64url');
}

function decodePageToken(token: string | null): string | undefined {
  if (token === null || token === '') return undefined;
  return Buffer.from(token, 'base64url').toString('utf8');
}

/**
 * alt=media. Sends the stored bytes with the hash headers the client validates against. A gzip object is sent
 * as stored with Content-Encoding: gzip when the client accepts gzip (the Node client always does, then gunzips
 * and validates the stored bytes); otherwise it is decompressed on the way, like GCS's decompressive transcoding.
 */
export function handleDownload(context: GcsContext, request: StorageRequest, bucket: string, name: string) {
  const object = requestedObject(context, request, bucket, name);
  const { crc32c, md5 } = objectHashes(object);
  const storedEncoding = object.contentEncoding ?? 'identity';
  const acceptsGzip = /\bgzip\b/.test(String(request.req.headers['accept-encoding'] ?? ''));
  const transcode = storedEncoding === 'gzip' && !acceptsGzip;
  const served = transcode ? gunzipSync(object.bytes) : object.bytes;

  const headers: Record<string, string> = {
    'content-type': object.contentType,
    'x-goog-hash': `crc32c=${crc32c},md5=${md5}`,
    'x-goog-generation': object.generation,
    'x-goog-metageneration': '1',
    'x-goog-stored-content-encoding': storedEncoding,
    'x-goog-stored-content-length': String(object.bytes.length),
    'last-modified': object.updated.toUTCString(),
    'accept-ranges': 'bytes',
    ...(storedEncoding !== 'identity' && !transcode ? { 'content-encoding': storedEncoding } : {}),
  };
  const range = parseRange(request.req.headers.range, served.length);
  const body = range ? served.subarray(range.start, range.end + 1) : served;
  if (range) headers['content-range'] = `bytes ${range.start}-${range.end}/${served.length}`;

  const { res } = request;
  const resetAfter = request.resetDownloadAfterBytes;
  if (resetAfter === undefined) {
    res.writeHead(range ? 206 : 200, { ...headers, 'content-length': String(body.length) });
    res.end(body);
    return;
  }
  // Reset fault. With 0 bytes the connection drops before any answer (the client retries). With some bytes the
  // body is cut mid-way; it goes out chunked because the 7.22 client (node-fetch 2.7) only notices a cut body
  // on a chunked response: a response with Content-Length that stops short leaves download() pending forever.
  if (resetAfter === 0) {
    resetConnection(res);
    return;
  }
  res.writeHead(range ? 206 : 200, headers);
  res.write(body.subarray(0, resetAfter), () => resetConnection(res));
}

/** `bytes=S-E`, `bytes=S-` or `bytes=-N` (one range only); undefined = the whole object. */
function parseRange(header: string | undefined, size: number): { start: number; end: number } | undefined {
  if (!header) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return undefined; // GCS ignores a malformed Range
  const [, first = '', last = ''] = match;
  let start: number;
  let end: number;
  if (first === '') {
    start = Math.max(0, size - Number(last));
    end = size - 1;
  } else {
    start = Number(first);
    end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  }
  if (start >= size || start > end) {
    throw new GcsError(416, 'requestedRangeNotSatisfiable', 'The requested range cannot be satisfied.');
  }
  return { start, end };
}
