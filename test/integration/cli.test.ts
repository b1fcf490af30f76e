import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMAND_SUMMARIES } from '../../src/cli/summaries.ts';
import { instanceSpec } from '../helpers/instances.ts';
import { expectedKeys, loadedKeys, startTestPipeline, type TestPipeline } from '../helpers/pipeline.ts';
import { type Ran, runApart, spawnLsa } from '../helpers/processes.ts';

// The `lsa` command as users run it: real processes, real Redis, the emulators.

let pipeline: TestPipeline;

beforeAll(async () => {
  pipeline = await startTestPipeline({
    instances: [
      instanceSpec('cli-a', 91, { historyRows: 100, historyDays: 2 }),
      instanceSpec('cli-b', 92, { historyRows: 60, historyDays: 2 }),
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

/** stdout and stderr apart: command output goes to stdout, logs to stderr. */
function lsaApart(...args: string[]): Promise<Ran> {
  return runApart(process.execPath, ['bin/lsa.js', ...args], { LSA_LOG_LEVEL: 'info' });
}

const withConfig = () => ['--config', pipeline.configFile, '--env-file', pipeline.envFile];

/**
 * `lsa <command> --help`, run once per command and shared by the tests that read it: each run is a process
 * start (0.5–2 s), and the same command line answers the same text.
 */
const flagHelps = new Map<string, ReturnType<typeof lsa>>();
function flagHelp(name: string): ReturnType<typeof lsa> {
  let help = flagHelps.get(name);
  if (!help) {
    help = lsa(name, '--help');
    flagHelps.set(name, help);
  }
  return help;
}

describe('lsa', () => {
  it('prints help for every command', async () => {
    const overview = await lsa('--help');
    expect(overview.code).toBe(0);
    for (const name of ['demo', 'start', 'run', 'status', 'reset', 'config', 'emulators']) {
      expect(overview.output).toContain(`  ${name}`);
      const help = await flagHelp(name);
      expect(help.code, name).toBe(0);
      expect(help.output).toContain(`Usage: lsa ${name}`);
    }
  });

  it('prints its version from package.json', async () => {
    const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    const result = await lsa('--version');
    expect(result.code).toBe(0);
    expect(result.output.trim()).toBe(version);
  });

  it.each(Object.keys(COMMAND_SUMMARIES))(
    '%s: help <command> is --help, with examples and exit codes',
    async (name) => {
      const [viaHelp, viaFlag] = await Promise.all([lsa('help', name), flagHelp(name)]);
      expect(viaHelp.code).toBe(0);
      expect(viaHelp.output).toBe(viaFlag.output);
      expect(viaFlag.output).toMatch(new RegExp(`\\nExamples:\\n  lsa ${name}\\b`));
      expect(viaFlag.output).toMatch(/\nExit codes:\n {2}0 {2}\S.*\n {2}1 {2}\S.*\n {2}2 {2}bad usage/);
    },
  );

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
    const run = await lsaApart('start', '--once', ...withConfig());
    expect(run.code, run.stderr).toBe(0);
    // the summary on stdout; logs on stderr, JSON (not a terminal) with Cloud Logging's field names
    expect(run.stdout).toMatch(/instance\s+export\s+windows\s+rows loaded\s+result/);
    const logs = run.stderr
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { severity: string; message: string });
    expect(logs.length).toBeGreaterThan(0);
    for (const entry of logs) {
      expect(['DEBUG', 'INFO', 'WARNING', 'ERROR']).toContain(entry.severity);
      expect(typeof entry.message).toBe('string');
    }
    expect(run.stdout).not.toContain('"severity"');
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
