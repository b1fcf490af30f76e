import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody, resetConnection } from '../http.ts';
import { invalidRequest } from './errors.ts';

// Request parsing shared by the routes: which API surface and resource a path names, and the request body
// (optionally cut short by a reset fault).

/**
 * `json` = /storage/v1 (or the bare /b/... form STORAGE_EMULATOR_HOST produces), `upload` (also
 * /resumable/upload/storage/v1, where gcloud's apitools opens resumable sessions), `download`.
 */
export type ApiSurface = 'json' | 'upload' | 'download';

export type BucketAspect = 'storageLayout' | 'managedFolders';

export interface RequestTarget {
  surface: ApiSurface;
  /** undefined for the bucket collection (`/b`). */
  bucket?: string;
  /** true for `/b/{bucket}/o` and `/b/{bucket}/o/{object}`. */
  objects: boolean;
  /**
   * `/b/{bucket}/storageLayout` and `/b/{bucket}/managedFolders`: gcloud reads both before a recursive delete or a
   * folder copy.
   */
  bucketAspect?: BucketAspect;
  object?: string;
  query: URLSearchParams;
}

const SURFACE_PREFIXES: ReadonlyArray<[string, ApiSurface]> = [
  ['/upload/storage/v1', 'upload'],
  ['/resumable/upload/storage/v1', 'upload'],
  ['/download/storage/v1', 'download'],
  ['/storage/v1', 'json'],
  ['', 'json'],
];

/**
 * Parses a storage API path, or returns undefined when it is not one. Works on the raw path, not `new URL()`:
 * object names are percent-encoded (`in%2Fa.jsonl`) and may contain `..` segments a URL parser would fold away.
 */
export function parseRequestTarget(rawUrl: string): RequestTarget | undefined {
  const queryStart = rawUrl.indexOf('?');
  const path = queryStart === -1 ? rawUrl : rawUrl.slice(0, queryStart);
  const query = new URLSearchParams(queryStart === -1 ? '' : rawUrl.slice(queryStart + 1));
  for (const [prefix, surface] of SURFACE_PREFIXES) {
    if (!path.startsWith(`${prefix}/b`)) continue;
    const rest = path.slice(prefix.length);
    const aspect = /^\/b\/([^/]+)\/(storageLayout|managedFolders)\/?$/.exec(rest);
    if (aspect?.[1]) {
      const bucketAspect = aspect[2] as BucketAspect;
      return { surface, objects: false, bucketAspect, query, bucket: decodeSegment(aspect[1]) };
    }
    const match = /^\/b(?:\/([^/]+)(?:\/(o)(?:\/(.+))?)?)?\/?$/.exec(rest);
    if (!match) return undefined;
    const [, bucket, objects, object] = match;
    return {
      surface,
      objects: objects !== undefined,
      query,
      ...(bucket === undefined ? {} : { bucket: decodeSegment(bucket) }),
      ...(object === undefined ? {} : { object: decodeSegment(object) }),
    };
  }
  return undefined;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw invalidRequest(`Invalid percent-encoding in path segment: ${segment}`);
  }
}

export interface ReceivedBody {
  bytes: Buffer;
  /** false when a reset fault cut the connection: `bytes` is what arrived before it, and no answer is possible. */
  complete: boolean;
}

/**
 * Reads the request body. With `resetAfterBytes`, keeps exactly that many bytes (or the whole body when shorter)
 * and then destroys the connection, as a dropped link would: the client sees ECONNRESET / EPIPE mid-request.
 */
export async function receiveBody(
  req: IncomingMessage,
  res: ServerResponse,
  resetAfterBytes?: number,
): Promise<ReceivedBody> {
  if (resetAfterBytes === undefined) return { bytes: await readBody(req), complete: true };
  const chunks: Buffer[] = [];
  let received = 0;
  if (resetAfterBytes > 0) {
    for await (const chunk of req) {
      const buffer = chunk as Buffer;
      const wanted = resetAfterBytes - received;
      chunks.push(buffer.length > wanted ? buffer.subarray(0, wanted) : buffer);
      received += Math.min(buffer.length, wanted);
      if (received >= resetAfterBytes) break;
    }
  }
  resetConnection(res);
  return { bytes: Buffer.concat(chunks), complete: false };
}
