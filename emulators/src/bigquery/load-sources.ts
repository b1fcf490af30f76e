import { gunzipSync } from 'node:zlib';
import type { GcsObjectReader } from '../gcs/store.ts';
import { invalid, notFound } from './errors.ts';

// Load-job sources: `gs://bucket/name` URIs read in process through the GCS emulator's object store, the way
// BigQuery reads Cloud Storage. One `*` wildcard is allowed in the object name (as in BigQuery); a URI that matches
// nothing fails the job with `notFound` "Not found: URI gs://…".

export interface SourceFile {
  uri: string;
  /** Bytes as stored (compressed when the object is gzip); `inputFileBytes` counts these. */
  storedBytes: number;
  /** Decompressed content. */
  content: Buffer;
}

const GS_URI = /^gs:\/\/([^/]+)\/(.+)$/;

export function checkSourceUris(sourceUris: unknown): string[] {
  if (!Array.isArray(sourceUris) || sourceUris.length === 0) {
    throw invalid('Load configuration must specify at least one source URI');
  }
  return sourceUris.map((uri) => {
    const text = String(uri);
    const match = GS_URI.exec(text);
    if (!match) throw invalid(`Source URI must be a Google Cloud Storage location: ${text}`);
    if ((match[2]!.match(/\*/g) ?? []).length > 1) {
      throw invalid(`Only one * wildcard is supported in a source URI: ${text}`);
    }
    if (/#\d+$/.test(text)) throw invalid(`Source URIs cannot specify an object generation: ${text}`);
    return text;
  });
}

function wildcardMatcher(pattern: string): RegExp {
  const [before, after] = pattern.split('*') as [string, string];
  const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^${escapeRegExp(before)}.*${escapeRegExp(after)}$`, 's');
}

/** Resolves and reads every source; gunzips objects stored with `contentEncoding: gzip` or starting 1f 8b. */
export function readSources(gcs: GcsObjectReader, sourceUris: string[]): SourceFile[] {
  const files: SourceFile[] = [];
  for (const uri of sourceUris) {
    const [, bucket, name] = GS_URI.exec(uri) as unknown as [string, string, string];
    const objects = name.includes('*')
      ? gcs
          .listObjects(bucket, name.slice(0, name.indexOf('*')))
          .filter((o) => wildcardMatcher(name).test(o.name))
      : [gcs.getObject(bucket, name)].filter((o) => o !== undefined);
    if (objects.length === 0) throw notFound(`Not found: URI ${uri}`, uri);
    for (const object of objects) {
      const objectUri = `gs://${object.bucket}/${object.name}`;
      files.push({
        uri: objectUri,
        storedBytes: object.bytes.length,
        content: decompress(object.bytes, object.contentEncoding, objectUri),
      });
    }
  }
  return files;
}

function decompress(bytes: Buffer, contentEncoding: string | undefined, uri: string): Buffer {
  const gzipMagic = bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
  if (contentEncoding?.toLowerCase() !== 'gzip' && !gzipMagic) return bytes;
  try {
    return gunzipSync(bytes);
  } catch (error) {
    throw invalid(
      `Error while reading data, error message: Failed to decompress gzip file: ${(error as Error).message}. File: ${uri}`,
      uri,
    );
  }
}
