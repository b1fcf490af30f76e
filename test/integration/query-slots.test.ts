import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fanout } from '../../src/pipeline/processors/fanout.ts';
import type { QueryLease } from '../../src/state/query-lease.ts';
import { instanceSpec } from '../helpers/instances.ts';
import { startTestPipeline, type TestPipeline } from '../helpers/pipeline.ts';

// An extract whose instance has no free query slot waits for one: in place when the slot frees within a second
// (no delayed round trip), delayed otherwise; either way it never runs beside the slot's holder and uses no
// attempt. The slot is held by the test itself, through the same lease store the worker uses.

let pipeline: TestPipeline;
/** Called once, then cleared, when the worker's look for a slot finds none (the real store underneath). */
let onBusyLook: (() => Promise<void>) | undefined;

beforeAll(async () => {
  pipeline = await startTestPipeline({
    instances: [instanceSpec('solo', 3, { historyRows: 50, historyDays: 1 })],
    exports: ['user', 'dashboard'],
    instanceYaml: '    maxConcurrentQueries: 1',
  });
  const { leases } = pipeline.context;
  const acquire = leases.acquire.bind(leases);
  leases.acquire = async (instanceId, limit) => {
    const acquired = await acquire(instanceId, limit);
    const hook = onBusyLook;
    if (!acquired.lease && hook) {
      onBusyLook = undefined;
      await hook();
    }
    return acquired;
  };
}, 120_000);

afterAll(async () => {
  await pipeline?.close();
});

async function until(condition: () => Promise<boolean> | boolean, what: string, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Holds the instance's only slot (and calls `whenBusy` at the extract's first look that finds it taken), fans out
 * one export and returns its extract job. */
async function extractBehindHeldSlot(
  exportName: string,
  whenBusy?: (held: QueryLease) => Promise<void>,
): Promise<{ held: QueryLease; job: () => Promise<Job> }> {
  const { context } = pipeline;
  const held = (await context.leases.acquire('solo', 1)).lease;
  expect(held).not.toBeNull();
  if (whenBusy) onBusyLook = () => whenBusy(held!);
  const summary = await fanout(context, undefined, {
    instanceIds: ['solo'],
    exports: [exportName],
    reason: 'manual',
  });
  const jobId = summary.planned[0]!.extractJobIds[0]!;
  return { held: held!, job: async () => (await context.queues.extract.getJob(jobId))! };
}

describe('query slots', () => {
  it('an extract whose slot frees within a second waits in place: never delayed, first attempt', async () => {
    // The slot frees right after the extract found it taken, before it looks again.
    let released = false;
    const { job } = await extractBehindHeldSlot('user', async (held) => {
      // The test's lease is the only one: the extract took no slot beside it.
      expect(await pipeline.context.redis.zcard(pipeline.context.keys.lease('solo'))).toBe(1);
      await held.release();
      released = true;
    });
    await until(() => released, 'the extract to find its slot taken');
    await until(async () => (await (await job()).getState()) === 'completed', 'the extract to complete');
    const done = await job();
    expect(done.attemptsStarted).toBe(1); // fetched once: it never went to delayed and back
    expect(done.failedReason ?? null).toBeNull();
  });

  it('an extract whose slot stays taken is delayed, not failed, and runs once the slot frees', async () => {
    const { held, job } = await extractBehindHeldSlot('dashboard');
    await until(
      async () => (await (await job()).getState()) === 'delayed',
      'the extract to be delayed',
      30_000,
    );
    await held.release();
    await until(
      async () => (await (await job()).getState()) === 'completed',
      'the extract to complete',
      30_000,
    );
    const done = await job();
    expect(done.attemptsStarted).toBeGreaterThanOrEqual(2);
    expect(done.failedReason ?? null).toBeNull();
    expect(done.stacktrace ?? []).toEqual([]);
  });
});
