import { Storage } from '@google-cloud/storage';
import type { PipelineConfig } from '../config/model.ts';

// Production: Application Default Credentials. Against the local emulator: an explicit http:// apiEndpoint and
// a projectId, with which the client sends no auth and never probes the metadata server
// (shared/reference/gcp-emulation.md §1). STORAGE_EMULATOR_HOST is deliberately not used.

export function createStorage(gcs: PipelineConfig['gcs'], bigqueryProjectId: string): Storage {
  const projectId = gcs.projectId ?? bigqueryProjectId;
  return gcs.apiEndpoint
    ? new Storage({ apiEndpoint: gcs.apiEndpoint, projectId })
    : new Storage({ projectId });
}
