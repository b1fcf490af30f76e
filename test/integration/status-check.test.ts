import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.ts';
import { silentLogger } from '../../src/logging.ts';
import { createContext, type PipelineContext } from '../../src/pipeline/context.ts';
import { formatAge } from '../../src/pipeline/health.ts';
import { type RoleHandle, startWorkerRole } from '../../src/pipeline/roles.ts';
import { runOnce } from '../../src/pipeline/run-once.ts';
import { freePort } from '../../src/state/private-redis.ts';
import { startTestPipeline, type TestPipeline } from '../helpers/pipeline.ts';
import { spawnLsa, waitFor } from '../helpers/processes.ts';

// `lsa status --check` as a monitoring probe, run as a real process: exit 1 for never loaded, stale, failed for
// good and unreachable; exit 0 when every export is fresh; no Looker secret needed to read it.

let pipeline: TestPipeline;
let context: PipelineContext;
let worker: RoleHandle;
let withGoneFile: string;

beforeAll(async () => {
  pipeline = await startTestPipeline({
    instances: [
      { id: 'fresh', clientId: 'fresh-id', clientSecret: 'fresh-secret-value', seed: 7, historyRows: 40 },
    ],
    exports: ['user'],
    startWorker: false,
  });
  // A second instance whose Looker does not listen at all.
  const deadPort = await freePort();
  const yaml = `${readFileSync(pipeline.configFile, 'utf8')}  - id: gone
    baseUrl: http://127.0.0.1:${deadPort}
    clientId: "\${GONE_ID}"
    clientSecret: "\${GONE_SECRET}"
    exports: [user]
`;
  withGoneFile = join(pipeline.dir, 'with-gone.yaml');
  writeFileSync(withGoneFile, yaml);
  process.env.GONE_ID = 'gone-id';
  process.env.GONE_SECRET = 'gone-secret-value';
  context = createContext(parseConfigText(yaml, withGoneFile), { logger: silentLogger() });
  worker = await startWorkerRole(context);
});

afterAll(async () => {
  await worker?.close();
  await context?.close();
  await pipeline?.close();
});

/** `lsa status` with none of the Looker secrets in its environment. */
async function status(...args: string[]) {
  const noSecrets = Object.fromEntries(Object.keys(pipeline.env).map((k) => [k, '']));
  const lsa = spawnLsa(['status', ...args], {
    ...noSecrets,
    GONE_ID: '',
    GONE_SECRET: '',
    LSA_HASH_KEY: '',
  });
  const code = await lsa.exited;
  return { code, output: lsa.output() };
}

describe('lsa status --check', () => {
  it('fails for exports never loaded', async () => {
    const result = await status('--check', '--config', pipeline.configFile);
    expect(result.code, result.output).toBe(1);
    expect(result.output).toMatch(/fresh\s+user\s+PROBLEM\s+never\s+0\s+0\s+never loaded/);
  });

  it('fails for a window failed for good and an unreachable instance, passes once every export is fresh', async () => {
    const report = await runOnce(context, { timeoutMs: 45_000 });
    const gone = report.windows.find((w) => w.instanceId === 'gone')!;
    expect(gone.state).toBe('failed');
    expect(report.windows.find((w) => w.instanceId === 'fresh')!.state).toBe('committed');

    const both = await status('--check', '--max-age', '3h', '--config', withGoneFile);
    expect(both.code, both.output).toBe(1);
    expect(both.output).toMatch(/fresh\s+user\s+ok\s+(just now|\d+ s ago)/);
    expect(both.output).toMatch(
      /gone\s+user\s+PROBLEM\s+never\s+1\s+1\s+never loaded; 1 window\(s\) failed for good \(extract-gone-user-\S+\); instance unreachable/,
    );
    expect(both.output).toMatch(/gone unreachable since \S+: .*ECONNREFUSED|fetch failed/);
    expect(both.output).toContain('1 of 2 export(s) unhealthy');
    const json = JSON.parse((await status('--check', '--json', '--config', withGoneFile)).output);
    expect(json.instances.map((i: { colour: string }) => i.colour)).toEqual(['green', 'red']);

    const fresh = await status('--check', '--config', pipeline.configFile);
    expect(fresh.code, fresh.output).toBe(0);
    expect(fresh.output).toContain('all 1 export(s) healthy (max age 3h)');
  });

  it('fails once the last load is older than --max-age', async () => {
    const { lastLoadedAt } = await context.runStatus.get('fresh', 'user');
    await waitFor(() => Date.now() - Date.parse(lastLoadedAt!) > 1_500, 5_000, 'the load to be 1.5 s old');
    const stale = await status('--check', '--max-age', '1s', '--config', pipeline.configFile);
    expect(stale.code, stale.output).toBe(1);
    expect(stale.output).toMatch(/stale: last load (\d+ s ago|just now) \(allowed 1s\)/);
  });

  it('refuses a --max-age that is not a duration, naming it', async () => {
    const bad = await status('--check', '--max-age', 'soon', '--config', pipeline.configFile);
    expect(bad.code).toBe(1);
    expect(bad.output).toContain('--max-age "soon" is not a duration');
  });
});

describe('formatAge', () => {
  it.each([
    [null, 'never'],
    [2_000, 'just now'],
    [45_000, '45 s ago'],
    [12 * 60_000, '12 min ago'],
    [3 * 3_600_000 + 5 * 60_000, '3 h 5 min ago'],
    [5 * 86_400_000, '5 days ago'],
  ])('%s ms → %s', (ms, text) => {
    expect(formatAge(ms)).toBe(text);
  });
});
