import { gzipSync } from 'node:zlib';
import { UnrecoverableError } from 'bullmq';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadWindow } from '../../src/bigquery/load.ts';
import { tableSpec } from '../../src/bigquery/schema.ts';
import { catalog } from '../../src/pipeline/catalog.ts';
import { runOnce } from '../../src/pipeline/run-once.ts';
import { instanceSpec } from '../helpers/instances.ts';
import { loadedKeys, startTestPipeline, type TestPipeline } from '../helpers/pipeline.ts';

// Bad input from upstream. A body that cannot be parsed fails its window with a message naming the instance,
// export and window: never a partial load, never a watermark move. A row that cannot be loaded losslessly goes to
// the `_lsa_quarantine` table with the reason (naming column and value) and its masked raw row, and the rest of
// its window loads: one bad row never blocks an export.

let pipeline: TestPipeline;
const historyOf = (id: string) => pipeline.config.instances.find((i) => i.id === id)!.exports[0]!;

beforeAll(async () => {
  pipeline = await startTestPipeline({
    instances: [
      instanceSpec('good', 51, { historyRows: 60, historyDays: 2 }),
      instanceSpec('bad', 52, { historyRows: 60, historyDays: 2 }),
    ],
    exports: ['history'],
    defaults: { window: '90d', horizon: '3d' },
  });
  // 'good' creates the table; 'bad' starts empty.
  const report = await runOnce(pipeline.context, { instanceIds: ['good'], timeoutMs: 30_000 });
  expect(report.ok).toBe(true);
});

afterAll(async () => {
  await pipeline?.close();
});

afterEach(() => pipeline.stack.looker.instance('bad').faults.clear());

async function runBad() {
  await pipeline.context.exportState.reset('bad', 'history');
  const report = await runOnce(pipeline.context, { instanceIds: ['bad'], timeoutMs: 30_000 });
  // windows before the data are empty: faults meant for the rows may be left over; drop them
  pipeline.stack.looker.instance('bad').faults.clear();
  return report;
}

async function badRows(): Promise<Record<string, unknown>[]> {
  const { projectId, dataset } = pipeline.config.bigquery;
  const [rows] = await pipeline.context.bigquery.query(
    `SELECT id, status, message, look_id FROM \`${projectId}.${dataset}.history\` WHERE looker_instance = 'bad' ORDER BY id`,
  );
  return rows as Record<string, unknown>[];
}

describe('a body that is not JSON fails its window; a row that cannot be loaded goes to quarantine', () => {
  it('invalid JSON fails the window at once, naming it; nothing loads, no state moves', async () => {
    // windows before the data are empty: corrupt every query of the run (only rows can be corrupted)
    pipeline.stack.looker
      .instance('bad')
      .faults.inject({ kind: 'corruptRow', times: 3, mode: 'invalid-json' });
    const report = await runBad();
    expect(report.ok).toBe(false);
    const failed = report.windows.filter((w) => w.state === 'failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]!.error).toMatch(/bad\/history \[.*\): row 1 is not valid JSON/);
    const job = await pipeline.context.queues.extract.getJob(failed[0]!.extractJobId);
    expect(job!.attemptsMade).toBe(1);
    expect(await badRows()).toEqual([]);
    expect(await pipeline.context.exportState.get('bad', 'history')).toMatchObject({
      initialLoad: true,
      watermark: null,
    });
  });

  it.each([
    [
      'a string in a number field',
      { mode: 'string-in-number' as const, field: 'history.look_id' },
      /column look_id \(history\.look_id\): "abc" is not a whole number/,
    ],
    [
      'a missing field',
      { mode: 'missing-field' as const, field: 'history.status' },
      /column status: Looker's row has no field history\.status/,
    ],
  ])(
    '%s: the row is quarantined with the reason, the rest of the window loads',
    async (_name, corruption, reason) => {
      pipeline.stack.looker.instance('bad').faults.inject({ kind: 'corruptRow', times: 2, ...corruption }); // the count query, then the page
      const report = await runBad();
      expect(report.ok, JSON.stringify(report.windows)).toBe(true);
      const { projectId, dataset } = pipeline.config.bigquery;
      const [quarantined] = await pipeline.context.bigquery.query(
        `SELECT export, \`window\`, raw, reason FROM \`${projectId}.${dataset}._lsa_quarantine\` WHERE looker_instance = 'bad' ORDER BY quarantined_at DESC LIMIT 1`,
      );
      const [row] = quarantined as { export: string; window: string; raw: string; reason: string }[];
      expect(row!.export).toBe('history');
      expect(row!.reason).toMatch(reason);
      const raw = JSON.parse(row!.raw) as Record<string, unknown>;
      // the raw row is masked like a loaded one: the email hashed, never in clear
      expect(String(raw['user.email'] ?? '')).not.toContain('@');
      // every other row of the instance loaded; the bad one is not in the table
      const all = pipeline.stack.looker
        .instance('bad')
        .runQuery({ model: 'system__activity', view: 'history', fields: ['history.id'] });
      const loaded = await loadedKeys(pipeline.context, historyOf('bad'), 'bad');
      expect(loaded.length).toBe(all.length - 1);
      expect(await pipeline.context.exportState.get('bad', 'history')).toMatchObject({ initialLoad: false });
      // counted where operators look: status and /metrics
      expect((await pipeline.context.runStatus.get('bad', 'history')).rowsQuarantined).toBeGreaterThanOrEqual(
        1,
      );
    },
  );
});

describe('unusual but valid values load losslessly', () => {
  it('control characters, non-BMP characters, a 1 MB string and an extra field', async () => {
    const looker = pipeline.stack.looker.instance('bad');
    looker.faults.inject({ kind: 'corruptRow', times: 3, mode: 'control-chars', field: 'history.status' });
    const report1 = await runBad();
    expect(report1.windows.filter((w) => w.state !== 'committed')).toEqual([]);
    expect(
      (await badRows()).some((r) => String(r.status).includes('\u0001') && String(r.status).includes('\t')),
    ).toBe(true);

    looker.faults.inject({ kind: 'corruptRow', times: 3, mode: 'non-bmp', field: 'history.status' });
    const report2 = await runBad();
    expect(report2.windows.filter((w) => w.state !== 'committed')).toEqual([]);
    expect((await badRows()).some((r) => String(r.status).includes('😀'))).toBe(true);

    looker.faults.inject({ kind: 'corruptRow', times: 3, mode: 'huge-string', field: 'history.message' });
    const report3 = await runBad();
    expect(report3.windows.filter((w) => w.state !== 'committed')).toEqual([]);
    expect((await badRows()).some((r) => String(r.message).length === 1024 * 1024)).toBe(true);

    looker.faults.inject({ kind: 'corruptRow', times: 3, mode: 'extra-field' });
    expect((await runBad()).ok).toBe(true);
    const keys = await loadedKeys(pipeline.context, historyOf('bad'), 'bad');
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys.length).toBe(
      looker.runQuery({ model: 'system__activity', view: 'history', fields: ['history.id'] }).length,
    );
  });
});

describe('BigQuery rejecting a row', () => {
  it('fails the load with the reason and the row, leaves the target untouched, and completes after the fix', async () => {
    const { context, stack, config } = pipeline;
    const spec = tableSpec(historyOf('good').definition);
    const { projectId, dataset, location } = config.bigquery;
    const count = async () =>
      Number(
        (
          (
            await context.bigquery.query(`SELECT COUNT(*) AS n FROM \`${projectId}.${dataset}.history\``)
          )[0] as { n: number }[]
        )[0]!.n,
      );
    const before = await count();
    const good = {
      looker_instance: 'manual',
      id: 900001,
      created_time: '2026-01-01 00:00:00',
      _extracted_at: '2026-01-02T00:00:00Z',
    };
    const bad = { ...good, id: 900002, runtime: 'fast' };
    const name = 'manual/history/bad-row.jsonl.gz';
    const put = (rows: object[]) =>
      stack.gcs.store.putObject({
        bucket: config.gcs.bucket,
        name,
        bytes: gzipSync(rows.map((r) => JSON.stringify(r)).join('\n')),
        contentType: 'application/gzip',
      });
    put([good, bad]);
    const request = {
      bigquery: context.bigquery,
      projectId,
      datasetId: dataset,
      location,
      spec,
      strategy: 'merge' as const,
      instanceId: 'manual',
      windowId: 'bad-row-window',
      sourceUri: `gs://${config.gcs.bucket}/${name}`,
      attempt: 0,
    };
    const error = await loadWindow(request).catch((e: Error) => e);
    expect(error).toBeInstanceOf(UnrecoverableError);
    expect((error as Error).message).toMatch(/runtime/);
    expect((error as Error).message).toMatch(/fast/);
    expect(await count()).toBe(before);

    put([good, { ...bad, runtime: 1.5 }]);
    const result = await loadWindow({ ...request, attempt: 1 });
    expect(result).toMatchObject({ rowsLoaded: 2, inserted: 2 });
    expect(await count()).toBe(before + 2);
  });
});

describe('job payloads', () => {
  it('a payload that does not match the catalog fails at once, naming the field', async () => {
    const { context } = pipeline;
    const job = await context.queues.extract.add(
      'extract',
      {
        instanceId: 'good',
        exportName: 'history',
        plan: 1,
        window: { kind: 'range', startMs: 'yesterday', endMs: 1 },
      },
      { ...catalog.extract.options(context.config.workers.backoffMs), jobId: 'extract-malformed-payload' },
    );
    const deadline = Date.now() + 10_000;
    while ((await job.getState()) !== 'failed' && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    const failed = await context.queues.extract.getJob(job.id!);
    expect(await failed!.getState()).toBe('failed');
    expect(failed!.attemptsMade).toBe(1);
    expect(failed!.failedReason).toMatch(/invalid payload: window\.startMs/);
  });
});
