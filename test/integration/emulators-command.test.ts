import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.ts';
import { spawnLsa, waitFor } from '../helpers/processes.ts';

// `lsa emulators` as a user runs it: the pipeline config it writes is valid, and the lines it prints for
// `gcloud storage` and `bq` point at the emulators it really started (checked over HTTP, as the CLIs would call).

const dir = mkdtempSync(join(tmpdir(), 'lsa-emulators-cmd-'));
const configFile = join(dir, 'lsa.yaml');
const child = spawnLsa(['emulators', '--config-out', configFile]);

afterAll(async () => {
  child.kill();
  await child.exited;
  rmSync(dir, { recursive: true, force: true });
});

describe('lsa emulators', () => {
  it('writes a valid config and prints the lines that point gcloud and bq at the running emulators', async () => {
    await waitFor(() => child.output().includes('bq --api'), 30_000, 'the gcloud/bq lines');
    const output = child.output();
    const value = (name: string) => new RegExp(`export ${name}=(\\S+)`).exec(output)?.[1];
    const tokenFile = value('CLOUDSDK_AUTH_ACCESS_TOKEN_FILE')!;
    const storage = value('CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE')!;
    const project = value('CLOUDSDK_CORE_PROJECT')!;
    const bqApi = /bq --api (\S+) --project_id (\S+)/.exec(output)!;
    expect(readFileSync(tokenFile, 'utf8').trim().length).toBeGreaterThan(0);
    expect(storage).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/storage\/v1\/$/);
    expect(bqApi[2]).toBe(project);

    // The config the command wrote is one the pipeline accepts, with its secrets in the env file beside it.
    const env = Object.fromEntries(
      readFileSync(`${configFile}.env`, 'utf8')
        .trim()
        .split('\n')
        .map((line) => line.split(/=(.*)/s) as [string, string]),
    );
    const config = parseConfigText(readFileSync(configFile, 'utf8'), configFile, {
      env: { ...env, REDIS_URL: 'redis://127.0.0.1:6379' },
    });
    expect(config.gcs.apiEndpoint).toBe(storage.replace(/\/storage\/v1\/$/, ''));
    expect(config.bigquery.apiEndpoint).toBe(bqApi[1]);

    // What gcloud and bq call first: the bucket list, and BigQuery's discovery document.
    const buckets = await fetch(`${storage}b?project=${project}`);
    expect(buckets.status).toBe(200);
    expect(((await buckets.json()) as { items: { name: string }[] }).items.map((b) => b.name)).toContain(
      config.gcs.bucket,
    );
    const discovery = await fetch(`${bqApi[1]}/$discovery/rest?version=v2`);
    expect(discovery.status).toBe(200);
    expect(((await discovery.json()) as { rootUrl: string }).rootUrl).toBe(`${bqApi[1]}/`);
  });
});
