import { randomUUID } from 'node:crypto';
import type { Preconditions } from './preconditions.ts';
import type { StoredObject } from './stored-object.ts';

// An upload between its first request and its commit, and the table of open resumable sessions. A leaf module:
// the shared context holds the table, and the upload handlers that use the context fill it.

export interface UploadMetadata {
  name?: string;
  contentType?: string;
  contentEncoding?: string;
  metadata?: Record<string, string>;
  /** Declared hashes: GCS refuses the upload when the bytes do not match them. */
  crc32c?: string;
  md5Hash?: string;
}

export interface PendingUpload {
  bucket: string;
  name: string;
  contentType: string;
  metadata: UploadMetadata;
  preconditions: Preconditions;
}

export interface ResumableSession {
  upload: PendingUpload;
  /** Bytes persisted so far, in order. */
  chunks: Buffer[];
  length: number;
  /** Set once the upload is committed; later PUTs to the session answer with it. */
  result?: StoredObject;
}

export class ResumableSessions {
  private readonly sessions = new Map<string, ResumableSession>();

  open(upload: PendingUpload): string {
    const id = randomUUID().replaceAll('-', '');
    this.sessions.set(id, { upload, chunks: [], length: 0 });
    return id;
  }

  get(id: string): ResumableSession | undefined {
    return this.sessions.get(id);
  }
}
