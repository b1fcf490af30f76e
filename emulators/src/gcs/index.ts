// The Cloud Storage JSON API emulator: buckets, objects, multipart and resumable uploads with checksums, disk
// persistence and fault injection, for the real @google-cloud/storage client (set its `apiEndpoint`).

export * from './server.ts';
export type { GcsObjectReader, MemoryObjectStoreOptions, StoredObject } from './store.ts';
