import { randomUUID } from 'node:crypto';
import type { Storage } from '@google-cloud/storage';
import type { PipelineConfig } from '../config/model.ts';
import { errorMessage } from '../errors.ts';
import { type Check, fail, pass } from './report.ts';

// Cloud Storage: what an upload needs, done once on a probe object under the configured prefix: write it, read
// it back, delete it. The failing step and the bucket are named, since each needs a different permission.

function statusOf(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

export async function checkCloudStorage(storage: Storage, gcs: PipelineConfig['gcs']): Promise<Check> {
  const name = [gcs.prefix, '_lsa_doctor', `probe-${randomUUID()}.txt`].filter((p) => p !== '').join('/');
  const where = `gs://${gcs.bucket}/${name}`;
  const file = storage.bucket(gcs.bucket).file(name);
  const content = `lsa doctor probe ${new Date().toISOString()}\n`;
  let step: 'write' | 'read back' | 'delete' = 'write';
  try {
    await file.save(content, { resumable: false, contentType: 'text/plain' });
    step = 'read back';
    const [data] = await file.download();
    if (data.toString('utf8') !== content) {
      return fail(
        'gcs',
        'bucket',
        `${where}: read back ${data.length} bytes that differ from the ${Buffer.byteLength(content)} written`,
        'check for a proxy or object lifecycle rule rewriting objects under the prefix',
      );
    }
    step = 'delete';
    await file.delete();
  } catch (error) {
    const status = statusOf(error);
    const fix =
      status === 404 && step === 'write'
        ? `create the bucket gs://${gcs.bucket}, or correct gcs.bucket in the config`
        : `grant the service account roles/storage.objectAdmin on gs://${gcs.bucket}`;
    return fail('gcs', 'bucket', `gs://${gcs.bucket}: ${step} failed: ${errorMessage(error)}`, fix);
  }
  return pass(
    'gcs',
    'bucket',
    `wrote, read back and deleted a probe object under gs://${gcs.bucket}/${gcs.prefix}`,
  );
}
