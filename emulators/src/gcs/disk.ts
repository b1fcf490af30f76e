import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StoredObject } from './stored-object.ts';

// On-disk copy of the object store, so an emulator restarted on the same folder serves the same objects (a demo
// that restarts the cluster, or a test of restart behaviour). Synchronous on purpose: the store's API is
// synchronous and the BigQuery emulator reads it in process; an emulator does not need async disk throughput.
//
// Layout:
//   <dir>/<hex(bucket)>/bucket.json                 {"name","created"}
//   <dir>/<hex(bucket)>/objects/<sha256(name)>.obj  u32 header length | JSON header | stored bytes
// Bucket and object names become hex/sha256 file names because object names may hold '/', '..' or exceed the
// file-name limit. One file per object, written to a temporary name and renamed, so a crash never leaves an
// object whose header and bytes disagree.

interface BucketFile {
  name: string;
  created: string;
}

interface ObjectHeader {
  name: string;
  contentType: string;
  contentEncoding?: string;
  metadata?: Record<string, string>;
  generation: string;
  created: string;
  updated: string;
}

export interface LoadedBucket {
  name: string;
  created: Date;
  objects: StoredObject[];
}

let temporaryFileCounter = 0;

export class ObjectStoreDirectory {
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  loadAll(): LoadedBucket[] {
    const buckets: LoadedBucket[] = [];
    for (const entry of readdirSync(this.dir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const bucketDir = join(this.dir, entry.name);
      let bucketFile: BucketFile;
      try {
        bucketFile = JSON.parse(readFileSync(join(bucketDir, 'bucket.json'), 'utf8')) as BucketFile;
      } catch {
        continue; // not a bucket folder (or a bucket whose creation never completed)
      }
      buckets.push({
        name: bucketFile.name,
        created: new Date(bucketFile.created),
        objects: this.loadObjects(bucketFile.name, join(bucketDir, 'objects')),
      });
    }
    return buckets;
  }

  writeBucket(name: string, created: Date) {
    mkdirSync(this.objectsDir(name), { recursive: true });
    const body: BucketFile = { name, created: created.toISOString() };
    writeAtomically(join(this.bucketDir(name), 'bucket.json'), Buffer.from(JSON.stringify(body)));
  }

  removeBucket(name: string) {
    rmSync(this.bucketDir(name), { recursive: true, force: true });
  }

  writeObject(object: StoredObject) {
    const header: ObjectHeader = {
      name: object.name,
      contentType: object.contentType,
      generation: object.generation,
      created: object.created.toISOString(),
      updated: object.updated.toISOString(),
      ...(object.contentEncoding === undefined ? {} : { contentEncoding: object.contentEncoding }),
      ...(object.metadata === undefined ? {} : { metadata: object.metadata }),
    };
    const headerBytes = Buffer.from(JSON.stringify(header));
    const length = Buffer.alloc(4);
    length.writeUInt32BE(headerBytes.length);
    writeAtomically(
      this.objectFile(object.bucket, object.name),
      Buffer.concat([length, headerBytes, object.bytes]),
    );
  }

  removeObject(bucket: string, name: string) {
    rmSync(this.objectFile(bucket, name), { force: true });
  }

  private loadObjects(bucket: string, objectsDir: string): StoredObject[] {
    let files: string[];
    try {
      files = readdirSync(objectsDir);
    } catch {
      return [];
    }
    const objects: StoredObject[] = [];
    for (const file of files) {
      const path = join(objectsDir, file);
      if (!file.endsWith('.obj')) {
        if (file.endsWith('.tmp')) rmSync(path, { force: true }); // left by a crash between write and rename
        continue;
      }
      const raw = readFileSync(path);
      const headerLength = raw.readUInt32BE(0);
      const header = JSON.parse(raw.subarray(4, 4 + headerLength).toString('utf8')) as ObjectHeader;
      objects.push({
        bucket,
        name: header.name,
        bytes: raw.subarray(4 + headerLength),
        contentType: header.contentType,
        generation: header.generation,
        created: new Date(header.created),
        updated: new Date(header.updated),
        ...(header.contentEncoding === undefined ? {} : { contentEncoding: header.contentEncoding }),
        ...(header.metadata === undefined ? {} : { metadata: header.metadata }),
      });
    }
    return objects;
  }

  private bucketDir(bucket: string) {
    return join(this.dir, Buffer.from(bucket, 'utf8').toString('hex'));
  }

  private objectsDir(bucket: string) {
    return join(this.bucketDir(bucket), 'objects');
  }

  private objectFile(bucket: string, name: string) {
    return join(this.objectsDir(bucket), `${createHash('sha256').update(name).digest('hex')}.obj`);
  }
}

function writeAtomically(path: string, bytes: Buffer) {
  temporaryFileCounter += 1;
  const temporary = `${path}.${process.pid}.${temporaryFileCounter}.tmp`;
  writeFileSync(temporary, bytes);
  renameSync(temporary, path);
}
