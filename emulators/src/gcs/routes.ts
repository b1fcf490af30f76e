import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody, sendJson } from '../http.ts';
import type { GcsContext, StorageRequest } from './context.ts';
import { GcsError, googleErrorBody, reasonForStatus, sendGcsError } from './errors.ts';
import { FaultValidationError, type GcsFault, type RequestKind } from './faults.ts';
import {
  handleCreateBucket,
  handleDeleteBucket,
  handleDeleteObject,
  handleDownload,
  handleGetBucket,
  handleGetObject,
  handleGetStorageLayout,
  handleListBuckets,
  handleListManagedFolders,
  handleListObjects,
} from './objects.ts';
import { parseRequestTarget, type RequestTarget, receiveBody } from './request.ts';
import { handleResumableInit, handleResumablePut } from './resumable.ts';
import { handleMediaUpload, handleMultipartUpload } from './uploads.ts';

// Request dispatch: emulator control routes first (never faulted), then storage routes. A storage request is
// classified (upload / download / metadata), counted, offered to the fault queue, and only then handled.

export async function handleRequest(context: GcsContext, req: IncomingMessage, res: ServerResponse) {
  try {
    const rawUrl = req.url ?? '/';
    if (rawUrl.startsWith('/_emulator/')) {
      await handleControl(context, req, res, rawUrl.split('?')[0] ?? '');
      return;
    }
    const target = parseRequestTarget(rawUrl);
    if (!target) {
      await readBody(req);
      throw new GcsError(404, 'notFound', `Not Found: ${req.method} ${rawUrl}`);
    }
    await handleStorageRequest(context, req, res, target);
  } catch (error) {
    if (res.headersSent || res.destroyed) return;
    if (error instanceof GcsError) {
      sendGcsError(res, error);
      return;
    }
    // A bug in the emulator, not a refusal the real service would make.
    console.error('[gcs-emulator]', error);
    sendGcsError(res, new GcsError(500, 'backendError', `Emulator error: ${(error as Error).message}`));
  }
}

function classify(req: IncomingMessage, target: RequestTarget): RequestKind {
  if (target.surface === 'upload' || target.query.has('uploadType') || target.query.has('upload_id'))
    return 'upload';
  if (target.surface === 'download' || (req.method === 'GET' && target.query.get('alt') === 'media')) {
    return 'download';
  }
  return 'metadata';
}

async function handleStorageRequest(
  context: GcsContext,
  req: IncomingMessage,
  res: ServerResponse,
  target: RequestTarget,
) {
  const kind = classify(req, target);
  context.stats.countRequest(kind);
  const taken = context.faults.take(kind);
  if (taken?.kind === 'latency') await new Promise((resolve) => setTimeout(resolve, taken.ms));
  const fault = taken?.kind === 'latency' ? undefined : taken;
  if (fault?.kind === 'status') {
    // The request fails as a whole: its body is read and dropped, nothing of it is kept.
    await readBody(req);
    const message = `Injected fault: HTTP ${fault.status}`;
    sendJson(res, fault.status, googleErrorBody(fault.status, reasonForStatus(fault.status), message));
    return;
  }
  const resetRequestAfter = fault?.kind === 'reset' && kind !== 'download' ? fault.afterBytes : undefined;
  const body = await receiveBody(req, res, resetRequestAfter);
  const isResumablePut = req.method === 'PUT' && target.query.has('upload_id');
  // Only a resumable session keeps the bytes of an interrupted request; any other request is simply lost.
  if (!body.complete && !isResumablePut) return;

  const host = req.headers.host ?? `${req.socket.localAddress}:${req.socket.localPort}`;
  const request: StorageRequest = {
    req,
    res,
    target,
    body,
    baseUrl: `http://${host}`,
    ...(fault?.kind === 'reset' && kind === 'download' ? { resetDownloadAfterBytes: fault.afterBytes } : {}),
  };
  route(context, request);
}

function route(context: GcsContext, request: StorageRequest) {
  const { target } = request;
  const method = request.req.method ?? 'GET';
  const { bucket, object } = target;

  if (bucket === undefined) {
    if (method === 'GET') return handleListBuckets(context, request);
    if (method === 'POST') return handleCreateBucket(context, request);
    return notImplemented(method, target);
  }
  if (target.bucketAspect === 'storageLayout') {
    if (method === 'GET') return handleGetStorageLayout(context, request, bucket);
    return notImplemented(method, target);
  }
  if (target.bucketAspect === 'managedFolders') {
    if (method === 'GET') return handleListManagedFolders(context, request, bucket);
    return notImplemented(method, target);
  }
  if (!target.objects) {
    if (method === 'GET') return handleGetBucket(context, request, bucket);
    if (method === 'DELETE') return handleDeleteBucket(context, request, bucket);
    return notImplemented(method, target);
  }
  if (object === undefined) {
    const uploadId = target.query.get('upload_id');
    if (method === 'PUT' && uploadId) return handleResumablePut(context, request, uploadId);
    if (method === 'GET') return handleListObjects(context, request, bucket);
    if (method === 'POST') return handleUpload(context, request);
    return notImplemented(method, target);
  }
  if (method === 'GET') {
    if (target.surface === 'download' || target.query.get('alt') === 'media') {
      return handleDownload(context, request, bucket, object);
    }
    return handleGetObject(context, request, bucket, object);
  }
  if (method === 'DELETE') return handleDeleteObject(context, request, bucket, object);
  return notImplemented(method, target);
}

function handleUpload(context: GcsContext, request: StorageRequest) {
  const uploadType = request.target.query.get('uploadType');
  if (uploadType === 'multipart') return handleMultipartUpload(context, request);
  if (uploadType === 'media') return handleMediaUpload(context, request);
  if (uploadType === 'resumable') return handleResumableInit(context, request);
  throw new GcsError(
    400,
    'invalid',
    uploadType
      ? `Invalid upload type: ${uploadType}`
      : 'Upload requests must include an uploadType URL parameter and a URL path beginning with /upload/',
  );
}

function notImplemented(method: string, target: RequestTarget): never {
  // 4xx on purpose: a 5xx would make the client retry something that can never succeed.
  const what =
    target.bucketAspect ??
    (target.object !== undefined ? 'object' : target.objects ? 'objects' : target.bucket ? 'bucket' : 'b');
  throw new GcsError(400, 'invalid', `The GCS emulator does not implement ${method} on a ${what} path.`);
}

/**
 * GET|POST|DELETE /_emulator/faults and GET|DELETE /_emulator/stats: how a pipeline running in another process
 * (which has no handle on `emulator.faults`) is faulted and observed.
 */
async function handleControl(context: GcsContext, req: IncomingMessage, res: ServerResponse, path: string) {
  const body = await readBody(req);
  if (path === '/_emulator/faults') {
    if (req.method === 'GET') return sendJson(res, 200, context.faults.report());
    if (req.method === 'DELETE') {
      context.faults.clear();
      return sendJson(res, 200, context.faults.report());
    }
    if (req.method === 'POST') {
      try {
        const parsed = JSON.parse(body.toString('utf8')) as GcsFault | GcsFault[];
        for (const fault of Array.isArray(parsed) ? parsed : [parsed]) context.faults.add(fault);
      } catch (error) {
        if (error instanceof SyntaxError || error instanceof FaultValidationError) {
          throw new GcsError(400, 'invalid', `Invalid fault: ${error.message}`);
        }
        throw error;
      }
      return sendJson(res, 200, context.faults.report());
    }
  }
  if (path === '/_emulator/stats') {
    if (req.method === 'GET') return sendJson(res, 200, context.stats.report());
    if (req.method === 'DELETE') {
      context.stats.reset();
      return sendJson(res, 200, context.stats.report());
    }
  }
  throw new GcsError(404, 'notFound', `Not Found: ${req.method} ${path}`);
}
