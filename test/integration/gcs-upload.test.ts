import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { Storage } from '@google-cloud/storage';
import { type GcsEmulator, startGcsEmulator } from 'lsa-emulators/gcs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createStorage } from '../../src/gcs/client.ts';
import { objectName, uploadSpoolFile } from '../../src/gcs/upload.ts';
import type { SpoolManifest } from '../../src/spool/manifest.ts';
import { SpoolWriter } from '../../src/spool/writer.ts';

// Staging spool files in Cloud Storage with the real @google-cloud/storage client against the GCS emulator.

const gcs = {
  bucket: 'lsa-upload-test',
  prefix: 'looker-activity',
  projectId: 'local-project',
  apiEndpoint: '',
};
let emulator: GcsEmulator;
let storage: Storage;
let dir: string;

beforeAll(async () => {
  emulator = await startGcsEmulator();
  gcs.apiEndpoint = emulator.url;
  storage = createStorage(gcs, 'local-project');
  await storage.bucket(gcs.bucket).create();
  dir = await mkdtemp(join(tmpdir(), 'lsa-upload-'));
});

afterAll(async () => {
  await emulator.close();
  await rm(dir, { recursive: true, force: true });
});

beforeEach(() => emulator.faults.clear());

let counter = 0;
async function spoolFile(rows: number, lineBytes = 200): Promise<SpoolManifest> {
  counter++;
  const file = join(dir, `window-${counter}.ndjson.gz`);
  const writer = await SpoolWriter.open(file);
  for (let i = 0; i < rows; i++) {
    // random (incompressible) content, so a large file really spans several upload chunks
    await writer.writeLine(JSON.stringify({ id: i, pad: randomBytes(lineBytes).toString('base64') }));
  }
  const summary = await writer.finish();
  const hour = Date.parse('2026-11-27T00:00:00Z') + counter * 3_600_000;
  return {
    instanceId: 'prod-eu',
    exportName: 'history',
    window: { kind: 'range', startMs: hour, endMs: hour + 3_600_000 },
    quarantined: 0,
    file: summary.file,
    rows: summary.rows,
    bytes: summary.bytes,
    sha256: summary.sha256,
    uncompressedBytes: summary.uncompressedBytes,
    columns: ['id', 'pad'],
    extractedAt: new Date().toISOString(),
  };
}

async function objectBytes(name: string): Promise<Buffer> {
  return (await storage.bucket(gcs.bucket).file(name).download())[0];
}

describe('upload of a spool file', () => {
  it('lands under instance/export/date/window, byte for byte, and the spool file is deleted', async () => {
    const manifest = await spoolFile(500);
    const local = gunzipSync(await import('node:fs/promises').then((fs) => fs.readFile(manifest.file)));
    const result = await uploadSpoolFile(storage, gcs, manifest);
    expect(result.uri).toBe(
      `gs://${gcs.bucket}/looker-activity/prod-eu/history/2026/11/27/${result.object.split('/').pop()}`,
    );
    expect(result.object).toMatch(
      /^looker-activity\/prod-eu\/history\/2026\/11\/27\/2026-11-27T\d{6}Z--2026-11-27T\d{6}Z\.jsonl\.gz$/,
    );
    expect(gunzipSync(await objectBytes(result.object)).equals(local)).toBe(true);
    expect(existsSync(manifest.file)).toBe(false);
    expect(result.rows).toBe(500);
  });

  it('is idempotent: a retry after the spool file was deleted recognises the object it already wrote', async () => {
    const manifest = await spoolFile(50);
    const first = await uploadSpoolFile(storage, gcs, manifest);
    const second = await uploadSpoolFile(storage, gcs, manifest);
    expect(second.generation).toBe(first.generation);
  });

  it('refuses to report success when neither the file nor a matching object exists', async () => {
    const manifest = await spoolFile(10);
    await rm(manifest.file);
    await expect(uploadSpoolFile(storage, gcs, manifest)).rejects.toThrow(
      /is missing.*must be extracted again/,
    );
  });

  it('retries a 503 and the stored object has the right checksum', async () => {
    const manifest = await spoolFile(300);
    emulator.faults.add({ kind: 'status', status: 503, on: 'upload', times: 2 });
    const result = await uploadSpoolFile(storage, gcs, manifest);
    expect(emulator.faults.report().injected.status).toBe(2);
    const [metadata] = await storage.bucket(gcs.bucket).file(result.object).getMetadata();
    expect(metadata.metadata?.sha256).toBe(manifest.sha256);
    expect(Number(metadata.size)).toBe(manifest.bytes);
  });

  it('resumes after a connection reset in the middle of a multi-chunk upload', async () => {
    const manifest = await spoolFile(30_000, 300); // > 8 MiB gzipped: at least two chunks
    expect(manifest.bytes).toBeGreaterThan(8 * 1024 * 1024);
    const expected = await import('node:fs/promises').then((fs) => fs.readFile(manifest.file));
    emulator.faults.add({ kind: 'reset', on: 'upload', skip: 2, afterBytes: 1_000_000 });
    const result = await uploadSpoolFile(storage, gcs, manifest);
    expect(emulator.faults.report().injected.reset).toBe(1);
    expect((await objectBytes(result.object)).equals(expected)).toBe(true);
  });

  it('names objects deterministically from the window', () => {
    const name = objectName('p', {
      instanceId: 'a',
      exportName: 'user',
      window: { kind: 'snapshot', atMs: Date.parse('2026-01-02T03:04:05Z') },
    });
    expect(name).toBe('p/a/user/2026/01/02/snapshot-2026-01-02T030405Z.jsonl.gz');
  });
});
