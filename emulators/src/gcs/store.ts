import { ObjectStoreDirectory } from './disk.ts';
import type { StoredObject } from './stored-object.ts';

export type { StoredObject };

// The object store behind the GCS emulator. The BigQuery emulator reads load-job sources through the same
// interface, in process, exactly as BigQuery reads from Cloud Storage.

export interface GcsObjectReader {
  getObject(bucket: string, name: string): StoredObject | undefined;
  listObjects(bucket: string, prefix: string): StoredObject[];
}

export interface MemoryObjectStoreOptions {
  /** Keep a copy of every bucket and object under this folder, and load what is already there. */
  dir?: string;
}

export class MemoryObjectStore implements GcsObjectReader {
  readonly buckets = new Map<string, { name: string; created: Date; objects: Map<string, StoredObject> }>();
  private lastGeneration = 0;
  private directory: ObjectStoreDirectory | undefined;

  constructor(options: MemoryObjectStoreOptions = {}) {
    if (options.dir) this.persistTo(options.dir);
  }

  /**
   * Writes every later change through to `dir` (synchronously, so a change is on disk when the call returns).
   * Buckets and objects already in `dir` are loaded first; what is already in memory wins over the disk copy.
   */
  persistTo(dir: string) {
    const directory = new ObjectStoreDirectory(dir);
    for (const loaded of directory.loadAll()) {
      let bucket = this.buckets.get(loaded.name);
      if (!bucket) {
        bucket = { name: loaded.name, created: loaded.created, objects: new Map() };
        this.buckets.set(loaded.name, bucket);
      }
      for (const object of loaded.objects) {
        if (!bucket.objects.has(object.name)) bucket.objects.set(object.name, object);
        // Later generations must stay above the restored ones, or ifGenerationMatch would go wrong.
        this.lastGeneration = Math.max(this.lastGeneration, Number(object.generation));
      }
    }
    for (const bucket of this.buckets.values()) {
      directory.writeBucket(bucket.name, bucket.created);
      for (const object of bucket.objects.values()) directory.writeObject(object);
    }
    this.directory = directory;
  }

  createBucket(name: string): boolean {
    if (this.buckets.has(name)) return false;
    const created = new Date();
    this.buckets.set(name, { name, created, objects: new Map() });
    this.directory?.writeBucket(name, created);
    return true;
  }

  hasBucket(name: string): boolean {
    return this.buckets.has(name);
  }

  getBucket(name: string): { name: string; created: Date } | undefined {
    return this.buckets.get(name);
  }

  /** Deletes an empty bucket; 'not-empty' mirrors GCS, which refuses to delete a bucket that holds objects. */
  deleteBucket(name: string): 'deleted' | 'missing' | 'not-empty' {
    const bucket = this.buckets.get(name);
    if (!bucket) return 'missing';
    if (bucket.objects.size > 0) return 'not-empty';
    this.buckets.delete(name);
    this.directory?.removeBucket(name);
    return 'deleted';
  }

  putObject(object: Omit<StoredObject, 'generation' | 'created' | 'updated'>): StoredObject {
    const bucket = this.buckets.get(object.bucket);
    if (!bucket) throw new Error(`no such bucket: ${object.bucket}`);
    // Generations strictly increase, like GCS's microsecond generations.
    this.lastGeneration = Math.max(this.lastGeneration + 1, Date.now() * 1000);
    const now = new Date();
    const stored: StoredObject = {
      ...object,
      generation: String(this.lastGeneration),
      created: now,
      updated: now,
    };
    bucket.objects.set(object.name, stored);
    this.directory?.writeObject(stored);
    return stored;
  }

  getObject(bucket: string, name: string): StoredObject | undefined {
    return this.buckets.get(bucket)?.objects.get(name);
  }

  deleteObject(bucket: string, name: string): boolean {
    const deleted = this.buckets.get(bucket)?.objects.delete(name) ?? false;
    if (deleted) this.directory?.removeObject(bucket, name);
    return deleted;
  }

  listObjects(bucket: string, prefix: string): StoredObject[] {
    const objects = this.buckets.get(bucket)?.objects;
    if (!objects) return [];
    return [...objects.values()]
      .filter((o) => o.name.startsWith(prefix))
      .sort((a, b) => (a.name < b.name ? -1 : 1));
  }
}
