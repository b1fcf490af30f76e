// The object store behind the GCS emulator. The BigQuery emulator reads load-job sources through the same
// interface, in process, exactly as BigQuery reads from Cloud Storage.

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

export interface GcsObjectReader {
  getObject(bucket: string, name: string): StoredObject | undefined;
  listObjects(bucket: string, prefix: string): StoredObject[];
}

export class MemoryObjectStore implements GcsObjectReader {
  readonly buckets = new Map<string, { name: string; created: Date; objects: Map<string, StoredObject> }>();
  private lastGeneration = 0;

  createBucket(name: string): boolean {
    if (this.buckets.has(name)) return false;
    this.buckets.set(name, { name, created: new Date(), objects: new Map() });
    return true;
  }

  hasBucket(name: string): boolean {
    return this.buckets.has(name);
  }

  putObject(object: Omit<StoredObject, 'generation' | 'created' | 'updated'>): StoredObject {
    const bucket = this.buckets.get(object.bucket);
    if (!bucket) throw new Error(`no such bucket: ${object.bucket}`);
    // Generations strictly increase, like GCS's microsecond generations.
    this.lastGeneration = Math.max(this.lastGeneration + 1, Date.now() * 1000);
    const now = new Date();
    const stored: StoredObject = { ...object, generation: String(this.lastGeneration), created: now, updated: now };
    bucket.objects.set(object.name, stored);
    return stored;
  }

  getObject(bucket: string, name: string): StoredObject | undefined {
    return this.buckets.get(bucket)?.objects.get(name);
  }

  deleteObject(bucket: string, name: string): boolean {
    return this.buckets.get(bucket)?.objects.delete(name) ?? false;
  }

  listObjects(bucket: string, prefix: string): StoredObject[] {
    const objects = this.buckets.get(bucket)?.objects;
    if (!objects) return [];
    return [...objects.values()].filter((o) => o.name.startsWith(prefix)).sort((a, b) => (a.name < b.name ? -1 : 1));
  }
}
