import type { ExtractWindow } from '../looker/window.ts';

/** What an extract produced: everything the upload and load need, and nothing secret. */
export interface SpoolManifest {
  instanceId: string;
  exportName: string;
  window: ExtractWindow;
  /** Absolute path of the NDJSON.gz file on the node that extracted it. */
  file: string;
  rows: number;
  /** Size of the gzipped file, and sha256 (hex) of its bytes. */
  bytes: number;
  sha256: string;
  uncompressedBytes: number;
  columns: string[];
  extractedAt: string;
}
