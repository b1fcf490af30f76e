import { sendEmpty, sendJson } from '../http.ts';
import type { GcsContext, StorageRequest } from './context.ts';
import { GcsError, invalidRequest } from './errors.ts';
import { objectResource } from './resources.ts';
import type { ResumableSession } from './sessions.ts';
import { commitUpload, googHashHeader, parseUploadMetadata, pendingUpload } from './uploads.ts';

// Resumable uploads: POST ?uploadType=resumable opens a session and answers with its absolute URL in Location;
// PUTs to that URL carry the bytes. The Storage client uses three Content-Range forms:
//   bytes 0-*/*         single request, length unknown: the end of the body is the end of the object
//   bytes S-E/* | S-E/T one chunk (createWriteStream({chunkSize})); T only on the last one
//   bytes */*           status query after an error (also bytes */T: "that was everything")
// Not final → 308 with Range: bytes=0-<last byte persisted> (no Range when nothing is); final → 200 + object.

export function handleResumableInit(context: GcsContext, request: StorageRequest) {
  const metadata = parseUploadMetadata(request.body.bytes);
  const contentType = headerValue(request, 'x-upload-content-type');
  const upload = pendingUpload(context, request, metadata, contentType);
  const id = context.sessions.open(upload);
  const bucket = encodeURIComponent(upload.bucket);
  const name = encodeURIComponent(upload.name);
  // Absolute, on the host the client connected to: the client PUTs to exactly this URL.
  const location = `${request.baseUrl}/upload/storage/v1/b/${bucket}/o?uploadType=resumable&name=${name}&upload_id=${id}`;
  sendEmpty(request.res, 200, { location, 'x-guploader-uploadid': id });
}

type ContentRange =
  | { kind: 'status'; total?: number }
  /** `end` undefined: the data runs to the end of this request's body (the `bytes S-*` forms). */
  | { kind: 'data'; start: number; end?: number; total?: number };

export function parseContentRange(header: string | undefined, bodyLength: number): ContentRange {
  // No Content-Range: the body is the whole object.
  if (header === undefined) return { kind: 'data', start: 0, total: bodyLength };
  const match = /^bytes (?:\*|(\d+)-(\d+|\*))\/(\d+|\*)$/.exec(header.trim());
  if (!match) throw invalidRequest(`Invalid Content-Range header: ${header}`);
  const [, start, end, total] = match;
  const totalBytes = total === '*' || total === undefined ? undefined : Number(total);
  const withTotal = totalBytes === undefined ? {} : { total: totalBytes };
  if (start === undefined) return { kind: 'status', ...withTotal };
  const startByte = Number(start);
  if (end === '*' || end === undefined) return { kind: 'data', start: startByte, ...withTotal };
  const endByte = Number(end);
  // The Node client finishes an upload whose last chunk was already acknowledged with an empty request
  // `bytes N-(N-1)/N` (seen after a resumed chunked upload): an empty range that only states the total.
  if (endByte === startByte - 1 && bodyLength === 0 && totalBytes === startByte)
    return { kind: 'status', total: totalBytes };
  if (endByte < startByte) throw invalidRequest(`Invalid Content-Range header: ${header}`);
  return { kind: 'data', start: startByte, end: endByte, ...withTotal };
}

export function handleResumablePut(context: GcsContext, request: StorageRequest, uploadId: string) {
  const session = context.sessions.get(uploadId);
  if (!session) {
    if (!request.body.complete) return;
    throw new GcsError(404, 'notFound', `No such upload session: ${uploadId}`);
  }
  if (session.result) {
    // Already committed (e.g. the client lost our 200 and asks again): the answer does not change.
    if (request.body.complete) sendJson(request.res, 200, objectResource(session.result, request.baseUrl));
    return;
  }
  const range = parseContentRange(headerValue(request, 'content-range'), request.body.bytes.length);
  const { bytes, complete } = request.body;
  if (
    complete &&
    range.kind === 'data' &&
    range.end !== undefined &&
    bytes.length !== range.end - range.start + 1
  ) {
    throw invalidRequest(
      `Content-Range ${headerValue(request, 'content-range')} does not match the ${bytes.length} bytes sent.`,
    );
  }
  if (range.kind === 'data') persistChunk(session, range.start, request.body.bytes, request.body.complete);
  // A reset fault dropped the connection: what arrived is persisted, but there is nobody to answer.
  if (!request.body.complete) return;
  const total =
    range.total ?? (range.kind === 'data' && range.end === undefined ? session.length : undefined);
  if (total !== undefined && session.length > total) {
    throw invalidRequest(
      `Invalid request. The final size is ${total} byte(s), but ${session.length} byte(s) were already uploaded.`,
    );
  }
  if (total === undefined || session.length < total) {
    // Not the end yet: report what is persisted, like GCS's 308 "Resume Incomplete".
    const persisted = session.length > 0 ? { range: `bytes=0-${session.length - 1}` } : undefined;
    sendEmpty(request.res, 308, persisted);
    return;
  }
  const stored = commitUpload(
    context,
    session.upload,
    Buffer.concat(session.chunks),
    'resumable',
    googHashHeader(request),
  );
  session.result = stored;
  session.chunks = [];
  sendJson(request.res, 200, objectResource(stored, request.baseUrl));
}

/**
 * Appends a chunk at `start`. A retry may resend bytes the session already has: the overlap is skipped. A chunk
 * that starts past the persisted length would leave a hole, and GCS refuses it (only for complete requests: a
 * connection cut mid-chunk has nobody to refuse to).
 */
function persistChunk(session: ResumableSession, start: number, bytes: Buffer, complete: boolean) {
  if (start > session.length) {
    if (!complete) return;
    throw invalidRequest(
      `Invalid request.  According to the Content-Range header, the upload offset is ${start} byte(s), which exceeds already uploaded size of ${session.length} byte(s).`,
    );
  }
  const overlap = session.length - start;
  if (overlap >= bytes.length) return;
  const fresh = bytes.subarray(overlap);
  session.chunks.push(fresh);
  session.length += fresh.length;
}

function headerValue(request: StorageRequest, name: string): string | undefined {
  const value = request.req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
