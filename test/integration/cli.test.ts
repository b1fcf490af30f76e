import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectedKeys, loadedKeys, startTestPipeline, type TestPipeline } from '../helpers/pipeline.ts';
import { spawnLsa } from '../helpers/processes.ts';

// The `lsa` command as users run it: real processes, real Redis, the emulators.

let pipeline: TestPipeline;

beforeAll(async () => {
  pipeline = await startTestPipeline({
    instances: [
      {
        id: 'cli-a',
        clientId: 'cli-a-id',
        clientSecret: 'cli-a-secret-value',
        seed: 91,
        historyRows: 100,
        historyDays: 2,
      },
      {
        id: 'cli-b',
        clientId: 'cli-b-id',
        clientSecret: 'cli-b-secret-value',
        seed: 92,
        historyRows: 60,
        historyDays: 2,
      },
    ],
    exports: ['history', 'user', 'content_usage', 'event'],
    defaults: { window: '30d', horizon: '5d' },
    startWorker: false,
  });
});

afterAll(async () => {
  await pipeline?.close();
});

async function lsa(...args: string[]): Promise<{ code: number | null; output: string }> {
  const process = spawnLsa(args);
  const code = await process.exited;
  return { code, output: process.output() };
}

const withConfig = () => ['--config', pipeline.configFile, '--env-file', pipeline.envFile];

describe('lsa', () => {
  it('prints help for every command', async () => {
    const overview = await lsa('--help');
    expect(overview.code).toBe(0);
    for (const name of ['demo', 'start', 'run', 'status', 'reset', 'config', 'emulators']) {
      expect(overview.output).toContain(`  ${name}`);
      const help = await lsa(name, '--help');
      expect(help.code, name).toBe(0);
      expect(help.output).toContain(`Usage: lsa ${name}`);
    }
  });

  it('validates a config, and names what is wrong in a bad one', async () => {
    const ok = await lsa('config', 'validate', pipeline.configFile, '--env-file', pipeline.envFile);
    expect(ok.code).toBe(0);
    expect(ok.output).toContain('valid — 2 instance(s) (cli-a, cli-b), 4 export(s)');
    const missing = await lsa('config', 'validate', '/nonexistent/lsa.yaml');
    expect(missing.code).toBe(1);
    expect(missing.output).toContain('/nonexistent/lsa.yaml: 1 problem');
    expect(missing.output).toContain('file not found');
    const schema = await lsa('config', 'schema');
    expect(JSON.parse(schema.output).properties.instances).toBeDefined();
  });

  it('start --once loads every table, prints a summary and exits 0; status and reset follow', async () => {
    const run = await lsa('start', '--once', ...withConfig());
    expect(run.code, run.output).toBe(0);
    expect(run.output).toMatch(/instance\s+export\s+windows\s+rows loaded\s+result/);
    for (const instance of pipeline.config.instances) {
      for (const resolved of instance.exports) {
        expect(await loadedKeys(pipeline.context, resolved, instance.id)).toEqual(
          expectedKeys(pipeline.stack, instance.id, resolved, Date.now()),
        );
      }
    }
    const status = await lsa('status', '--json', ...withConfig());
    expect(status.code).toBe(0);
    const rows = JSON.parse(status.output).exports as { instanceId: string; initialLoadDone: boolean }[];
    expect(rows).toHaveLength(8);
    expect(rows.every((r) => r.initialLoadDone)).toBe(true);

    const reset = await lsa('reset', '--instance', 'cli-b', '--export', 'user', ...withConfig());
    expect(reset.code).toBe(0);
    expect(await pipeline.context.exportState.get('cli-b', 'user')).toMatchObject({
      initialLoad: true,
      watermark: null,
    });

    const enqueue = await lsa('run', '--instance', 'cli-b', '--export', 'user', ...withConfig());
    expect(enqueue.code).toBe(0);
    expect(enqueue.output).toContain('cli-b/user: 1 window(s) enqueued');
  });

  it('refuses an unknown instance with a clear message', async () => {
    const result = await lsa('reset', '--instance', 'nope', ...withConfig());
    expect(result.code).toBe(1);
    expect(result.output).toContain('unknown instance "nope" (configured: cli-a, cli-b)');
  });
});
