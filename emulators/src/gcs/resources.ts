import { createHash } from 'node:crypto';
import { CRC32C } from '@google-cloud/storage';
import type { StoredObject } from './stored-object.ts';

// JSON resources as the JSON API returns them. Numbers that are int64 in the API (size, generation,
// metageneration) are strings; hashes are base64 and cover the STORED bytes (the gzipped bytes for gzip objects),
// which is what the client compares its own hash with after an upload.

export interface ObjectHashes {
  /** base64 of the big-endian CRC-32C (Castagnoli). */
  crc32c: string;
  /** base64 of the MD5 digest. */
  md5: string;
}

// Objects are immutable once stored (a new generation is a new StoredObject), so hashes can be cached per object.
const hashCache = new WeakMap<StoredObject, ObjectHashes>();

export function hashBytes(bytes: Buffer): ObjectHashes {
  const crc = new CRC32C();
  crc.update(bytes);
  return { crc32c: crc.toString(), md5: createHash('md5').update(bytes).digest('base64') };
}

export function objectHashes(object: StoredObject): ObjectHashes {
  let hashes = hashCache.get(object);
  if (!hashes) {
    hashes = hashBytes(object.bytes);
    hashCache.set(object, hashes);
  }
  return hashes;
}

export function objectPath(bucket: string, name: string) {
  return `/b/${encodeURIComponent(bucket)}/o/${encodeURIComponent(name)}`;
}

/** The etag changes with every generation (metageneration is always 1: the emulator has no metadata patch). */
function etagOf(generation: string) {
  return Buffer.from(`${generation}/1`).toString('base64');
}

export function objectResource(object: StoredObject, baseUrl: string) {
  const { crc32c, md5 } = objectHashes(object);
  const path = objectPath(object.bucket, object.name);
  return {
    kind: 'storage#object',
    id: `${object.bucket}/${object.name}/${object.generation}`,
    selfLink: `${baseUrl}/storage/v1${path}`,
    mediaLink: `${baseUrl}/download/storage/v1${path}?generation=${object.generation}&alt=media`,
    name: object.name,
    bucket: object.bucket,
    generation: object.generation,
    metageneration: '1',
    contentType: object.contentType,
    storageClass: 'STANDARD',
    size: String(object.bytes.length),
    md5Hash: md5,
    crc32c,
    etag: etagOf(object.generation),
    timeCreated: object.created.toISOString(),
    updated: object.updated.toISOString(),
    timeStorageClassUpdated: object.created.toISOString(),
    ...(object.contentEncoding === undefined ? {} : { contentEncoding: object.contentEncoding }),
    ...(object.metadata === undefined ? {} : { metadata: object.metadata }),
  };
}

export function bucketResource(bucket: { name: string; created: Date }, baseUrl: string) {
  return {
    kind: 'storage#bucket',
    id: bucket.name,
    selfLink: `${baseUrl}/storage/v1/b/${encodeURIComponent(bucket.name)}`,
    projectNumber: '0',
    name: bucket.name,
    timeCreated: bucket.created.toISOString(),
    updated: bucket.created.toISOString(),
    metageneration: '1',
    location: 'US',
    locationType: 'multi-region',
    storageClass: 'STANDARD',
    etag: 'CAE=',
    iamConfiguration: {
      uniformBucketLevelAccess: { enabled: true },
      publicAccessPrevention: 'enforced',
    },
  };
}

export function storageLayoutResource(bucket: { name: string }) {
  return { kind: 'storage#storageLayout', bucket: bucket.name, location: 'US', locationType: 'multi-region' };
}
