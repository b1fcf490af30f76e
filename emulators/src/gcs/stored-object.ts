// One object as the emulator stores it: the leaf type the store, its disk copy and every handler share.

export interface StoredObject {
  bucket: string;
  name: string;
  /** The bytes as stored (for `contentEncoding: gzip` these are the gzipped bytes; hashes cover them). */
  bytes: Buffer;
  contentType: string;
  contentEncoding?: string;
  metadata?: Record<string, string>;
  generation: string;
  created: Date;
  updated: Date;
}
