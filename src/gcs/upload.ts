import { stat, unlink } from 'node:fs/promises';
import type { Storage } from '@google-cloud/storage';
import type { PipelineConfig } from '../config/model.ts';
import { NonRetryableError } from '../errors.ts';
import type { SpoolManifest } from '../spool/manifest.ts';
import { windowId } from '../window.ts';

// Stages one spool file in Cloud Storage:
//   gs://<bucket>/<prefix>/<instance>/<export>/<yyyy>/<mm>/<dd>/<window>.jsonl.gz
// with a resumable upload that the client verifies by CRC32C. The object carries the file's sha256, so a
// retried upload (same window, same object name) recognises an object it already wrote, and the spool file is
// deleted only once the object is known to hold exactly its bytes.

/** A multiple of 256 KiB, as resumable uploads require. */
export const UPLOAD_CHUNK_BYTES = 8 * 1024 * 1024;

export interface UploadResult {
  uri: string;
  bucket: string;
  object: string;
  bytes: number;
  rows: number;
  generation: string;
}

export function objectName(
  prefix: string,
  manifest: Pick<SpoolManifest, 'instanceId' | 'exportName' | 'window'>,
) {
  const { window } = manifest;
  const dayMs = window.kind === 'range' ? window.endMs : window.atMs;
  const day = new Date(dayMs).toISOString().slice(0, 10).replace(/-/g, '/');
  const name = `${manifest.instanceId}/${manifest.exportName}/${day}/${windowId(window)}.jsonl.gz`;
  return prefix ? `${prefix}/${name}` : name;
}

export async function uploadSpoolFile(
  storage: Storage,
  gcs: PipelineConfig['gcs'],
  manifest: SpoolManifest,
): Promise<UploadResult> {
  const name = objectName(gcs.prefix, manifest);
  const file = storage.bucket(gcs.bucket).file(name);
  const result = (generation: string): UploadResult => ({
    uri: `gs://${gcs.bucket}/${name}`,
    bucket: gcs.bucket,
    object: name,
    bytes: manifest.bytes,
    rows: manifest.rows,
    generation,
  });

  const local = await stat(manifest.file).catch(() => null);
  if (!local) {
    // The file is gone: fine if a previous attempt uploaded it and crashed before reporting.
    const existing = await verifiedObject(file, manifest);
    if (existing) return result(existing);
    throw new NonRetryableError(
      `spool file ${manifest.file} is missing and gs://${gcs.bucket}/${name} does not hold it: the window must be extracted again (lsa run --instance ${manifest.instanceId} --export ${manifest.exportName})`,
    );
  }
  if (local.size !== manifest.bytes) {
    throw new NonRetryableError(
      `spool file ${manifest.file} has ${local.size} bytes, its manifest says ${manifest.bytes}`,
    );
  }

  await storage
    .bucket(gcs.bucket)
    .upload(manifest.file, {
      destination: name,
      resumable: true,
      // Chunked: after a dropped connection the client resumes from the last acknowledged byte (the default
      // single-request mode cannot resume a file upload, nodejs-storage#2193).
      chunkSize: UPLOAD_CHUNK_BYTES,
      validation: 'crc32c',
      metadata: {
        contentType: 'application/gzip',
        metadata: {
          sha256: manifest.sha256,
          rows: String(manifest.rows),
          lookerInstance: manifest.instanceId,
          export: manifest.exportName,
          window: windowId(manifest.window),
        },
      },
    })
    .catch((error: unknown) => {
      throw classifyUploadError(error, gcs.bucket, name);
    });
  const generation = await verifiedObject(file, manifest);
  if (!generation) throw new Error(`gs://${gcs.bucket}/${name} does not match the spool file after upload`);
  await unlink(manifest.file).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
  return result(generation);
}

type GcsFile = ReturnType<ReturnType<Storage['bucket']>['file']>;

/** The object's generation if it exists with the manifest's size and sha256, otherwise null. */
async function verifiedObject(file: GcsFile, manifest: SpoolManifest): Promise<string | null> {
  try {
    const [metadata] = await file.getMetadata();
    const custom = (metadata.metadata ?? {}) as Record<string, unknown>;
    if (Number(metadata.size) === manifest.bytes && custom.sha256 === manifest.sha256) {
      return String(metadata.generation);
    }
    return null;
  } catch (error) {
    if ((error as { code?: number }).code === 404) return null;
    throw error;
  }
}

/** Missing bucket or missing permission will not fix itself: fail now, so an operator fixes it and retries. */
function classifyUploadError(error: unknown, bucket: string, name: string): Error {
  const status = (error as { code?: number; status?: number }).code ?? (error as { status?: number }).status;
  const message = (error as Error).message ?? String(error);
  if (status === 404) {
    return new NonRetryableError(
      `bucket ${bucket} does not exist (uploading ${name}): create it, then retry the job`,
    );
  }
  if (status === 401 || status === 403) {
    return new NonRetryableError(
      `not allowed to write gs://${bucket}/${name} (${status}): grant the workers' service account roles/storage.objectAdmin on the bucket, then retry`,
    );
  }
  return error instanceof Error ? error : new Error(message);
}
