import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CRC32C } from '@google-cloud/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GcsEmulator, startGcsEmulator } from '../src/gcs/server.ts';
import { type CliSandbox, cliInstalled, createCliSandbox, expectSuccess } from './cli-helpers.ts';

// `gcloud storage` (Google Cloud CLI, Python, its own upload code: multipart bodies with LF line breaks and a quoted
// boundary, resumable sessions under /resumable/upload, storageLayout and managedFolders lookups before recursive
// operations, hash checks after every transfer) against the GCS emulator, configured only through the variables the
// README gives. Outputs are compared with what the CLI prints against real Cloud Storage.

const GCLOUD = cliInstalled('gcloud');
if (!GCLOUD)
  console.warn('[cli-gcloud] gcloud is not on the PATH: the gcloud storage conformance tests are skipped');

const BUCKET = 'lsa-cli-bucket';

function hashesOf(bytes: Buffer) {
  const crc = new CRC32C();
  crc.update(bytes);
  return { crc32c: crc.toString(), md5: createHash('md5').update(bytes).digest('base64') };
}

// Each command is a Python start (1-3 s on a busy machine): generous timeouts, few invocations (17). The tests
// run in order on one bucket, each starting from what the previous one left.
describe.skipIf(!GCLOUD)('gcloud storage against the GCS emulator', { timeout: 120_000 }, () => {
  let emulator: GcsEmulator;
  let cli: CliSandbox;
  const gcloud = async (args: string[], env?: NodeJS.ProcessEnv) =>
    expectSuccess(await cli.run('gcloud', args, env), `gcloud ${args.join(' ')}`);
  const stored = (name: string) => emulator.store.getObject(BUCKET, name)?.bytes;

  beforeAll(async () => {
    emulator = await startGcsEmulator();
    cli = await createCliSandbox({ project: 'local-project', gcsUrl: emulator.url });
  });

  afterAll(async () => {
    await emulator?.close();
    await cli?.remove();
  });

  it('buckets create, list and describe', async () => {
    const created = await gcloud(['storage', 'buckets', 'create', `gs://${BUCKET}`]);
    expect(created.stderr).toContain(`Creating gs://${BUCKET}/...`);
    expect(emulator.store.hasBucket(BUCKET)).toBe(true);

    const listed = await gcloud(['storage', 'buckets', 'list', '--format=value(name)']);
    expect(listed.stdout.trim().split('\n')).toEqual([BUCKET]);

    const described = JSON.parse(
      (await gcloud(['storage', 'buckets', 'describe', `gs://${BUCKET}`, '--format=json'])).stdout,
    );
    expect(described).toMatchObject({
      name: BUCKET,
      storage_url: `gs://${BUCKET}/`,
      location: 'US',
      location_type: 'multi-region',
      default_storage_class: 'STANDARD',
      uniform_bucket_level_access: true,
    });

    // A name that is taken answers 409 with Cloud Storage's words.
    const again = await cli.run('gcloud', ['storage', 'buckets', 'create', `gs://${BUCKET}`]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('HTTPError 409');
    expect(again.stderr).toContain('you already own it');
  });

  it('cp of a small file is one multipart upload (LF line breaks, quoted boundary); cat returns its bytes', async () => {
    // Ends in a line break and holds a CRLF: neither may be eaten by the multipart parser.
    const text = Buffer.from('{"id":1}\r\n{"id":2}\n');
    await writeFile(join(cli.dir, 'small.jsonl'), text);
    const before = emulator.stats.report().uploadsByType.multipart;
    await gcloud(['storage', 'cp', join(cli.dir, 'small.jsonl'), `gs://${BUCKET}/in/small.jsonl`]);
    expect(emulator.stats.report().uploadsByType.multipart).toBe(before + 1);
    expect(stored('in/small.jsonl')?.equals(text)).toBe(true);

    const cat = await gcloud(['storage', 'cat', `gs://${BUCKET}/in/small.jsonl`]);
    expect(cat.stdout).toBe(text.toString());
  });

  it('cp above the resumable threshold is a resumable upload; cp back downloads the same bytes', async () => {
    const bytes = randomBytes(600 * 1024);
    await writeFile(join(cli.dir, 'large.bin'), bytes);
    const before = emulator.stats.report().uploadsByType.resumable;
    // The threshold is 8 MiB by default; the property brings it down so the test moves less data.
    const resumable = { CLOUDSDK_STORAGE_RESUMABLE_THRESHOLD: '256KiB' };
    await gcloud(['storage', 'cp', join(cli.dir, 'large.bin'), `gs://${BUCKET}/in/large.bin`], resumable);
    expect(emulator.stats.report().uploadsByType.resumable).toBe(before + 1);
    expect(stored('in/large.bin')?.equals(bytes)).toBe(true);

    // gcloud checks the downloaded bytes against the object's crc32c/md5 and fails the copy on a mismatch.
    await gcloud(['storage', 'cp', `gs://${BUCKET}/in/large.bin`, join(cli.dir, 'large.down')]);
    expect((await readFile(join(cli.dir, 'large.down'))).equals(bytes)).toBe(true);
  });

  it('objects describe shows the hashes Cloud Storage computes', async () => {
    const described = JSON.parse(
      (await gcloud(['storage', 'objects', 'describe', `gs://${BUCKET}/in/small.jsonl`, '--format=json']))
        .stdout,
    );
    const bytes = stored('in/small.jsonl')!;
    const { crc32c, md5 } = hashesOf(bytes);
    expect(described).toMatchObject({
      bucket: BUCKET,
      name: 'in/small.jsonl',
      size: bytes.length,
      crc32c_hash: crc32c,
      md5_hash: md5,
      storage_class: 'STANDARD',
      metageneration: 1,
    });
    expect(described.storage_url).toBe(`gs://${BUCKET}/in/small.jsonl#${described.generation}`);
  });

  it('rsync of a folder up, then ls, ls -l, ls --recursive and du list it as Cloud Storage does', async () => {
    const tree = join(cli.dir, 'tree');
    await mkdir(join(tree, 'sub'), { recursive: true });
    await writeFile(join(tree, 'a.txt'), 'a\n');
    await writeFile(join(tree, 'sub', 'b.txt'), 'bb\n');
    await gcloud(['storage', 'rsync', tree, `gs://${BUCKET}/tree`, '--recursive']);
    expect(stored('tree/a.txt')?.toString()).toBe('a\n');
    expect(stored('tree/sub/b.txt')?.toString()).toBe('bb\n');

    const ls = await gcloud(['storage', 'ls', `gs://${BUCKET}/`]);
    expect(ls.stdout.trim().split('\n')).toEqual([`gs://${BUCKET}/in/`, `gs://${BUCKET}/tree/`]);

    const long = await gcloud(['storage', 'ls', '-l', `gs://${BUCKET}/tree/`]);
    const lines = long.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(
      /^ +2 {2}\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ {2}gs:\/\/lsa-cli-bucket\/tree\/a\.txt$/,
    );
    expect(lines[1]).toMatch(/^ {20,}gs:\/\/lsa-cli-bucket\/tree\/sub\/$/);
    expect(lines.at(-1)).toBe('TOTAL: 1 objects, 2 bytes (2.00B)');

    const recursive = await gcloud(['storage', 'ls', '--recursive', `gs://${BUCKET}/tree`]);
    expect(recursive.stdout.trim().split('\n')).toEqual([
      `gs://${BUCKET}/tree/:`,
      `gs://${BUCKET}/tree/a.txt`,
      '',
      `gs://${BUCKET}/tree/sub/:`,
      `gs://${BUCKET}/tree/sub/b.txt`,
    ]);

    const du = await gcloud(['storage', 'du', '-s', `gs://${BUCKET}/tree`]);
    expect(du.stdout.trim().split(/\s+/)).toEqual(['5', `gs://${BUCKET}/tree`]);
  });

  it('rsync down reproduces the folder; rm deletes an object, a prefix, then the bucket', async () => {
    const back = join(cli.dir, 'back');
    await gcloud(['storage', 'rsync', `gs://${BUCKET}/tree`, back, '--recursive']);
    expect(await readFile(join(back, 'a.txt'), 'utf8')).toBe('a\n');
    expect(await readFile(join(back, 'sub', 'b.txt'), 'utf8')).toBe('bb\n');

    await gcloud(['storage', 'rm', `gs://${BUCKET}/in/small.jsonl`]);
    expect(stored('in/small.jsonl')).toBeUndefined();
    const missing = await cli.run('gcloud', ['storage', 'cat', `gs://${BUCKET}/in/small.jsonl`]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('The following URLs matched no objects or files');

    // A recursive rm asks for the bucket's storage layout and managed folders first.
    await gcloud(['storage', 'rm', '--recursive', `gs://${BUCKET}/tree`]);
    expect(emulator.store.listObjects(BUCKET, 'tree/')).toEqual([]);
    await gcloud(['storage', 'rm', '--recursive', `gs://${BUCKET}`]);
    expect(emulator.store.hasBucket(BUCKET)).toBe(false);
  });
});

// The wire forms gcloud uses, sent by hand so they are covered where gcloud is not installed.
describe('the request forms gcloud sends, over plain HTTP', () => {
  let emulator: GcsEmulator;
  const bucket = 'lsa-wire-forms';

  beforeAll(async () => {
    emulator = await startGcsEmulator();
    emulator.store.createBucket(bucket);
  });

  afterAll(async () => {
    await emulator?.close();
  });

  const multipart = (boundaryParameter: string, boundary: string, eol: string, media: string) =>
    fetch(`${emulator.url}/upload/storage/v1/b/${bucket}/o?uploadType=multipart`, {
      method: 'POST',
      headers: { 'content-type': `multipart/related; boundary=${boundaryParameter}` },
      body: [
        `--${boundary}`,
        'Content-Type: application/json',
        'MIME-Version: 1.0',
        '',
        JSON.stringify({ name: `m-${boundary.length}-${eol.length}`, contentType: 'text/plain' }),
        `--${boundary}`,
        'Content-Type: text/plain',
        'Content-Transfer-Encoding: binary',
        '',
        `${media}${eol}--${boundary}--${eol}`,
      ].join(eol),
    });

  it.each([
    ['single-quoted, LF (gcloud)', "'===============42=='", '===============42==', '\n'],
    ['double-quoted, CRLF', '"quoted-b"', 'quoted-b', '\r\n'],
    ['bare, LF', 'bare', 'bare', '\n'],
  ])(
    'multipart upload with a %s boundary keeps the media bytes exactly',
    async (_label, parameter, boundary, eol) => {
      const media = 'line 1\r\nline 2\n';
      const response = await multipart(parameter, boundary, eol, media);
      expect(response.status).toBe(200);
      const { name, size } = (await response.json()) as { name: string; size: string };
      expect(size).toBe(String(Buffer.byteLength(media)));
      expect(emulator.store.getObject(bucket, name)?.bytes.toString()).toBe(media);
    },
  );

  it('a multipart body without its boundary is refused with the reason', async () => {
    const response = await multipart("'other'", 'missing', '\n', 'x');
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { message: string } }).error.message).toBe(
      'Multipart body does not contain its boundary.',
    );
  });

  it('resumable sessions open under /resumable/upload/storage/v1', async () => {
    const opened = await fetch(
      `${emulator.url}/resumable/upload/storage/v1/b/${bucket}/o?uploadType=resumable`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'resumed.bin' }),
      },
    );
    expect(opened.status).toBe(200);
    const put = await fetch(opened.headers.get('location')!, { method: 'PUT', body: 'abc' });
    expect(put.status).toBe(200);
    expect(emulator.store.getObject(bucket, 'resumed.bin')?.bytes.toString()).toBe('abc');
  });

  it('answers storageLayout and managedFolders (flat namespace, no folders), 404 for a missing bucket', async () => {
    const layout = await fetch(`${emulator.url}/storage/v1/b/${bucket}/storageLayout`);
    expect(await layout.json()).toEqual({
      kind: 'storage#storageLayout',
      bucket,
      location: 'US',
      locationType: 'multi-region',
    });
    const folders = await fetch(`${emulator.url}/storage/v1/b/${bucket}/managedFolders?pageSize=1000`);
    expect(await folders.json()).toEqual({ kind: 'storage#managedFolders' });
    expect((await fetch(`${emulator.url}/storage/v1/b/no-such-bucket/storageLayout`)).status).toBe(404);
  });
});
