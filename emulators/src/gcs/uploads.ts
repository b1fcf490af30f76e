import { sendJson } from '../http.ts';
import type { GcsContext, StorageRequest } from './context.ts';
import { bucketNotFound, GcsError, invalidRequest } from './errors.ts';
import { parseMultipartUpload } from './multipart.ts';
import { checkPreconditions, preconditionsFrom } from './preconditions.ts';
import { hashBytes, objectResource } from './resources.ts';
import type { PendingUpload, UploadMetadata } from './sessions.ts';
import type { UploadType } from './stats.ts';
import type { StoredObject } from './stored-object.ts';

export type { PendingUpload, UploadMetadata };

// Single-request uploads (uploadType=multipart and uploadType=media) and the commit step every upload ends with,
// resumable ones included: bucket, preconditions and declared hashes are checked against the bytes received.

/** The subset of the object metadata an upload may declare (JSON body of multipart / resumable-init). */
export function parseUploadMetadata(json: Buffer): UploadMetadata {
  if (json.length === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(json.toString('utf8'));
  } catch {
    throw new GcsError(400, 'parseError', 'Parse Error');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw invalidRequest('Object metadata must be a JSON object.');
  }
  const raw = parsed as Record<string, unknown>;
  const metadata: UploadMetadata = {};
  for (const field of ['name', 'contentType', 'contentEncoding', 'crc32c', 'md5Hash'] as const) {
    const value = raw[field];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'string')
      throw invalidRequest(`Invalid value for ${field}: ${JSON.stringify(value)}`);
    metadata[field] = value;
  }
  if (raw.metadata !== undefined && raw.metadata !== null) metadata.metadata = customMetadata(raw.metadata);
  return metadata;
}

/** Custom metadata values are strings in GCS; the client may send numbers, and null means "no such key". */
function customMetadata(value: unknown): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidRequest('metadata must be a JSON object of strings.');
  }
  const result: Record<string, string> = {};
  for (const [key, entry] of Object.entries(value)) {
    if (entry === null || entry === undefined) continue;
    result[key] = typeof entry === 'string' ? entry : JSON.stringify(entry);
  }
  return result;
}

/**
 * Bucket, name and preconditions of an upload. Preconditions are only parsed here: GCS evaluates them when the
 * object is committed, not when a resumable session is opened (google-cloud-java#201, fake-gcs-server#1967).
 */
export function pendingUpload(
  context: GcsContext,
  request: StorageRequest,
  metadata: UploadMetadata,
  contentType: string | undefined,
): PendingUpload {
  const bucket = request.target.bucket ?? '';
  if (!context.store.hasBucket(bucket)) throw bucketNotFound();
  const name = request.target.query.get('name') ?? metadata.name;
  if (!name) throw new GcsError(400, 'required', 'Required');
  const preconditions = preconditionsFrom(request.target.query);
  return {
    bucket,
    name,
    contentType: metadata.contentType ?? contentType ?? 'application/octet-stream',
    metadata,
    preconditions,
  };
}

/**
 * Stores the object of a finished upload. `headerHashes` is the X-Goog-Hash header of the final request (the
 * resumable uploader sends one when it computed hashes itself).
 */
export function commitUpload(
  context: GcsContext,
  upload: PendingUpload,
  bytes: Buffer,
  type: UploadType,
  headerHashes?: string,
): StoredObject {
  if (!context.store.hasBucket(upload.bucket)) throw bucketNotFound();
  checkPreconditions(context.store.getObject(upload.bucket, upload.name), upload.preconditions);
  verifyDeclaredHashes(bytes, upload.metadata, headerHashes);
  const { contentEncoding, metadata } = upload.metadata;
  const stored = context.store.putObject({
    bucket: upload.bucket,
    name: upload.name,
    bytes,
    contentType: upload.contentType,
    ...(contentEncoding === undefined ? {} : { contentEncoding }),
    ...(metadata === undefined ? {} : { metadata }),
  });
  context.stats.countUpload(type, bytes.length);
  return stored;
}

function verifyDeclaredHashes(bytes: Buffer, metadata: UploadMetadata, headerHashes: string | undefined) {
  const fromHeader = parseGoogHash(headerHashes);
  const declaredCrc32c = metadata.crc32c ?? fromHeader.crc32c;
  const declaredMd5 = metadata.md5Hash ?? fromHeader.md5;
  if (declaredCrc32c === undefined && declaredMd5 === undefined) return;
  const actual = hashBytes(bytes);
  if (declaredCrc32c !== undefined && declaredCrc32c !== actual.crc32c) {
    throw invalidRequest(
      `Provided CRC32C "${declaredCrc32c}" doesn't match calculated CRC32C "${actual.crc32c}".`,
    );
  }
  if (declaredMd5 !== undefined && declaredMd5 !== actual.md5) {
    throw invalidRequest(
      `Provided MD5 hash "${declaredMd5}" doesn't match calculated MD5 hash "${actual.md5}".`,
    );
  }
}

/** `crc32c=AAAAAA==,md5=1B2M2Y8AsgTpgAmY7PhCfg==` → { crc32c, md5 }. */
export function parseGoogHash(header: string | undefined): { crc32c?: string; md5?: string } {
  const hashes: { crc32c?: string; md5?: string } = {};
  for (const pair of (header ?? '').split(',')) {
    const separator = pair.indexOf('=');
    if (separator === -1) continue;
    const key = pair.slice(0, separator).trim().toLowerCase();
    const value = pair.slice(separator + 1).trim();
    if (key === 'crc32c' || key === 'md5') hashes[key] = value;
  }
  return hashes;
}

export function handleMultipartUpload(context: GcsContext, request: StorageRequest) {
  const multipart = parseMultipartUpload(request.body.bytes, request.req.headers['content-type']);
  const metadata = parseUploadMetadata(multipart.metadata);
  const upload = pendingUpload(context, request, metadata, multipart.mediaContentType);
  const stored = commitUpload(context, upload, multipart.media, 'multipart', googHashHeader(request));
  sendJson(request.res, 200, objectResource(stored, request.baseUrl));
}

export function handleMediaUpload(context: GcsContext, request: StorageRequest) {
  const { query } = request.target;
  const contentEncoding = query.get('contentEncoding') ?? undefined;
  const metadata: UploadMetadata = contentEncoding === undefined ? {} : { contentEncoding };
  const upload = pendingUpload(context, request, metadata, request.req.headers['content-type']);
  const stored = commitUpload(context, upload, request.body.bytes, 'media', googHashHeader(request));
  sendJson(request.res, 200, objectResource(stored, request.baseUrl));
}

export function googHashHeader(request: StorageRequest): string | undefined {
  const header = request.req.headers['x-goog-hash'];
  return Array.isArray(header) ? header.join(',') : header;
}
