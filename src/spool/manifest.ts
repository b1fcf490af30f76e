import { z } from 'zod';
import { EXPORT_NAME_PATTERN, INSTANCE_ID_PATTERN } from '../names.ts';
import { cursorRangeSchema, windowSchema } from '../window.ts';

// What an extract produced: everything the upload and load need, and nothing secret. Declared once: the upload
// job's payload schema (pipeline/catalog.ts) is this schema.

export const spoolManifestSchema = z.strictObject({
  instanceId: z.string().regex(INSTANCE_ID_PATTERN),
  exportName: z.string().regex(EXPORT_NAME_PATTERN),
  window: windowSchema,
  /** Absolute path of the NDJSON.gz file on the node that extracted it. */
  file: z.string().min(1),
  rows: z.int().min(1),
  /** Of `rows`, those in quarantine: lines the load moves to `_lsa_quarantine` instead of the export's table. */
  quarantined: z.int().min(0).default(0),
  /** Size of the gzipped file, and sha256 (hex) of its bytes. */
  bytes: z.int().min(1),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  uncompressedBytes: z.int().min(0),
  columns: z.array(z.string()),
  extractedAt: z.string(),
  /**
   * Of the good rows (not quarantined), the range of the export's cursor; null when a good row has none (or the
   * export has no cursor). Absent from manifests written before it was recorded: such windows prune nothing.
   */
  cursorRange: cursorRangeSchema.nullable().optional(),
});

export type SpoolManifest = z.infer<typeof spoolManifestSchema>;
