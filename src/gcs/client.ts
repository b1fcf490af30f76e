import { IdempotencyStrategy, Storage, type StorageOptions } from '@google-cloud/storage';
import type { PipelineConfig } from '../config/model.ts';

// Production: Application Default Credentials. Against the local emulator: an explicit http:// apiEndpoint and
// a projectId, with which the client sends no auth and never probes the metadata server.
// STORAGE_EMULATOR_HOST is deliberately not used.
//
// Retries: the client (7.x) retries an upload only when it carries a generation precondition. Our uploads are
// idempotent by construction (one object name per window, replaced with the same bytes), so every request may
// be retried: RetryAlways. Anything the client gives up on is retried again by the upload job's backoff.

export function createStorage(gcs: PipelineConfig['gcs'], bigqueryProjectId: string): Storage {
  const options: StorageOptions = {
    projectId: gcs.projectId ?? bigqueryProjectId,
    retryOptions: { idempotencyStrategy: IdempotencyStrategy.RetryAlways, maxRetries: 3, maxRetryDelay: 8 },
  };
  if (gcs.apiEndpoint) options.apiEndpoint = gcs.apiEndpoint;
  return new Storage(options);
}
