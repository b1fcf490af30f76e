import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fanout } from '../../src/pipeline/processors/fanout.ts';
import { startWorkerRole } from '../../src/pipeline/roles.ts';
import { runOnce } from '../../src/pipeline/run-once.ts';
import { instanceSpec } from '../helpers/instances.ts';
import { expectedKeys, loadedKeys, startTestPipeline, type TestPipeline } from '../helpers/pipeline.ts';
import { spawnLsa } from '../helpers/processes.ts';

// `--once` tells the truth: it succeeds only when every export is committed up to its plan, follows exports a
// tick had already planned (in flight) instead of skipping them, and names each window that failed for good.

let pipeline: TestPipeline;

beforeAll(async () => {
  pipeline = await startTestPipeline({
    instances: [instanceSpec('once', 5, { historyRows: 300, historyDays: 6 })],
    exports: ['event', 'user'],
    defaults: { window: '2d' },
    startWorker: false,
  });
});

afterAll(async () => {
  await pipeline?.close();
});

async function lsa(...args: string[]): Promise<{ code: number | null; output: string }> {
  const child = spawnLsa([...args, '--config', pipeline.configFile, '--env-file', pipeline.envFile]);
  const code = await child.exited;
  return { code, output: child.output() };
}

describe('lsa plan (dry run)', () => {
  it('shows the windows and Looker queries the next run would make, and plans nothing', async () => {
    const plan = await lsa('plan', '--json');
    expect(plan.code, plan.output).toBe(0);
    const { plans } = JSON.parse(plan.output) as {
      plans: { instance: string; export: string; windows: { window: string }[]; queries: number }[];
    };
    const event = plans.find((p) => p.export === 'event')!;
    // 6 days of history in 2-day windows from a 90-day horizon: windows, each a count and at least one page
    expect(event.windows.length).toBeGreaterThan(1);
    expect(event.queries).toBe(event.windows.length * 2);
    expect(plans.find((p) => p.export === 'user')!.windows).toEqual([
      { window: expect.stringMatching(/^snapshot at /) },
    ]);
    expect(await pipeline.context.exportState.currentPlan('once', 'event')).toBe(0);
    const counted = await lsa('plan', '--export', 'user', '--count');
    expect(counted.code, counted.output).toBe(0);
    const users = pipeline.stack.looker.instance('once').runQuery({
      model: 'system__activity',
      view: 'user',
      fields: ['user.id'],
    }).length;
    expect(counted.output).toMatch(new RegExp(`once\\s+│?\\s*user.*\\b${users}\\b`));
  });
});

describe('run once', () => {
  it('follows windows a tick planned before it, and reports them committed only once their MERGE is in', async () => {
    // A scheduler tick plans every window while no worker runs: they are in flight when --once starts.
    const tick = await fanout(pipeline.context, undefined, {
      instanceIds: null,
      exports: null,
      reason: 'schedule',
    });
    const ticked = tick.planned.flatMap((p) => p.planned.map((w) => w.windowId));
    expect(ticked.length).toBeGreaterThan(1);
    const worker = await startWorkerRole(pipeline.context);
    try {
      const report = await runOnce(pipeline.context, { pollMs: 50, timeoutMs: 60_000 });
      expect(report.fanout.skipped).toEqual([]);
      expect(report.windows.map((w) => w.windowId).sort()).toEqual(expect.arrayContaining(ticked.sort()));
      expect(report.windows.every((w) => w.state === 'committed')).toBe(true);
      expect(report.ok).toBe(true);
      for (const resolved of pipeline.config.instances[0]!.exports) {
        const loaded = await loadedKeys(pipeline.context, resolved, 'once');
        expect(loaded, resolved.definition.name).toEqual(expectedKeys(pipeline.stack, 'once', resolved));
      }
    } finally {
      await worker.close();
    }
  });

  it('fails, naming the window and the reason, when a window fails for good', async () => {
    // A 400 from Looker cannot get better by retrying: the extract fails at once, for good.
    pipeline.stack.looker
      .instance('once')
      .faults.inject({ kind: 'status', status: 400, message: 'query refused for the test', times: 1000 });
    const worker = await startWorkerRole(pipeline.context);
    try {
      const report = await runOnce(pipeline.context, { exports: ['event'], pollMs: 50, timeoutMs: 60_000 });
      expect(report.ok).toBe(false);
      const failed = report.windows.filter((w) => w.state === 'failed');
      expect(failed.length).toBeGreaterThan(0);
      expect(failed[0]!.error).toContain('query refused for the test');
      expect(failed[0]!.exportName).toBe('event');
    } finally {
      pipeline.stack.looker.instance('once').faults.clear();
      await worker.close();
    }
  });
});
