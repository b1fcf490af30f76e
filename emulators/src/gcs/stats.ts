import type { RequestKind } from './faults.ts';

// Counters for tests: how many requests of each kind the emulator served, and how many uploads completed, by
// protocol. A test can assert that a retry really happened (two upload requests for one object) or that a
// pipeline used resumable uploads.

export type UploadType = 'multipart' | 'media' | 'resumable';

export interface GcsStatsReport {
  requests: Record<RequestKind, number>;
  uploadsCompleted: number;
  uploadsByType: Record<UploadType, number>;
  bytesUploaded: number;
}

export class GcsStats {
  private counters: GcsStatsReport = emptyReport();

  countRequest(kind: RequestKind) {
    this.counters.requests[kind] += 1;
  }

  countUpload(type: UploadType, bytes: number) {
    this.counters.uploadsCompleted += 1;
    this.counters.uploadsByType[type] += 1;
    this.counters.bytesUploaded += bytes;
  }

  report(): GcsStatsReport {
    return structuredClone(this.counters);
  }

  reset() {
    this.counters = emptyReport();
  }
}

function emptyReport(): GcsStatsReport {
  return {
    requests: { upload: 0, download: 0, metadata: 0 },
    uploadsCompleted: 0,
    uploadsByType: { multipart: 0, media: 0, resumable: 0 },
    bytesUploaded: 0,
  };
}
