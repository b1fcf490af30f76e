import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadBatchPayload, LoadPayload } from '../../src/pipeline/catalog.ts';
import type { LoadOutcome } from '../../src/pipeline/processors/load.ts';
import { processLoadBatch } from '../../src/pipeline/processors/load-batch.ts';
import { runOnce } from '../../src/pipeline/run-once.ts';
import { windowId } from '../../src/window.ts';
import { instanceSpec } from '../helpers/instances.ts';
import { startTestPipeline, type TestPipeline } from '../helpers/pipeline.ts';

// `_lsa_runs`: one row per committed window, written by its batch in one more statement (not one job per
// window), with the rows, job ids and timings of that window; a replayed batch adds no row.

let pipeline: TestPipeline;

beforeAll(async () => {
  pipeline = await startTestPipeline({
    instances: [instanceSpec('runs', 21, { historyRows: 200, historyDays: 4 })],
    exports: ['history', 'event'],
    defaults: { window: '1d', horizon: '5d' },
  });
});

afterAll(async () => {
  await pipeline?.close();
});

interface RunRow {
  looker_instance: string;
  export: string;
  window: string;
  plan: number;
  backfill: number | null;
  rows: number;
  quarantined: number;
  bytes: number | null;
  extract_ms: number | null;
  upload_ms: number | null;
  load_ms: number | null;
  batch: string | null;
  bigquery_job_ids: string;
  attempts: number;
  outcome: string;
  committed_at: { value: string } | null;
}

async function runRows(): Promise<RunRow[]> {
  const { projectId, dataset } = pipeline.config.bigquery;
  const [rows] = await pipeline.context.bigquery.query(
    `SELECT * FROM \`${projectId}.${dataset}._lsa_runs\` ORDER BY export, \`window\`, plan`,
  );
  return (rows as RunRow[]).map((r) => ({
    ...r,
    plan: Number(r.plan),
    rows: Number(r.rows),
    quarantined: Number(r.quarantined),
  }));
}

async function bigQueryJobIds(): Promise<string[]> {
  const [jobs] = await pipeline.context.bigquery.getJobs({ allUsers: true });
  return jobs.map((j) => j.id ?? '');
}

describe('_lsa_runs', () => {
  it('has one row per committed window, with its rows and job ids; a replayed batch adds none', async () => {
    const report = await runOnce(pipeline.context, { pollMs: 50, timeoutMs: 60_000 });
    expect(report.ok, JSON.stringify(report.windows.filter((w) => w.state !== 'committed'))).toBe(true);
    const loads = (await pipeline.context.queues.load.getJobs(['completed'])).map((j) => ({
      data: j.data as LoadPayload,
      outcome: j.returnvalue as LoadOutcome,
    }));
    expect(loads.length).toBeGreaterThan(2);
    const rows = await runRows();
    // Exactly the windows that loaded rows (a window with no rows commits at extract, with no BigQuery work).
    expect(rows.map((r) => `${r.export} ${r.window} p${r.plan}`).sort()).toEqual(
      loads.map((l) => `${l.data.exportName} ${windowId(l.data.window)} p${l.data.plan}`).sort(),
    );
    const jobIds = await bigQueryJobIds();
    const batches = new Set(loads.map((l) => l.outcome.batchJobId ?? `alone ${windowId(l.data.window)}`));
    // One `_lsa_runs` statement per batch, not per window: a statement of the batch's script.
    const scripts = jobIds.filter((id) => id.startsWith('lsa_merge_'));
    expect(scripts).toHaveLength(batches.size);
    for (const script of scripts) {
      const [statements] = await pipeline.context.bigquery.getJobs({
        parentJobId: script,
        projection: 'full',
      });
      const runs = statements.filter((j) =>
        String(j.metadata.configuration.query.query).includes('._lsa_runs`'),
      );
      expect(runs, script).toHaveLength(1);
    }
    for (const load of loads) {
      const row = rows.find(
        (r) => r.export === load.data.exportName && r.window === windowId(load.data.window),
      )!;
      expect(row).toMatchObject({
        looker_instance: 'runs',
        backfill: null,
        rows: load.outcome.rowsLoaded,
        quarantined: load.outcome.quarantined,
        outcome: 'committed',
        batch: load.outcome.batchJobId ?? null,
      });
      expect(row.committed_at).not.toBeNull();
      expect(Number(row.bytes)).toBeGreaterThan(0);
      expect(Number(row.extract_ms)).toBeGreaterThanOrEqual(0);
      expect(row.upload_ms).not.toBeNull();
      expect(row.load_ms).not.toBeNull();
      expect(Number(row.attempts)).toBeGreaterThanOrEqual(1);
      // The job ids name real BigQuery jobs: the staging load and the MERGE of this window's batch.
      const ids = row.bigquery_job_ids.split(',');
      expect(ids.some((id) => id.startsWith(`lsa_stage_${load.data.exportName}_`))).toBe(true);
      expect(ids.some((id) => id.startsWith(`lsa_merge_${load.data.exportName}_`))).toBe(true);
      for (const id of ids) expect(jobIds).toContain(id);
    }

    // Replay one batch from the start, as a worker that recovers it does: no new row.
    const batchJobId = loads.find((l) => l.outcome.batchJobId)?.outcome.batchJobId;
    expect(batchJobId, 'some window was loaded by a batch').toBeDefined();
    const queue = new Queue('load-batch', {
      connection: pipeline.context.redis,
      prefix: pipeline.config.redis.prefix,
    });
    try {
      const batchJob = await queue.getJob(batchJobId!);
      expect(batchJob).toBeDefined();
      // As its next attempt: fresh BigQuery job ids, so the script really runs again.
      batchJob!.attemptsMade += 1;
      const replayed = await processLoadBatch(
        pipeline.context,
        batchJob!,
        batchJob!.data as LoadBatchPayload,
        undefined,
      );
      expect(replayed.committed).toBeGreaterThan(0);
    } finally {
      await queue.close();
    }
    // The replay ran its own script (a new attempt's job id), whose `_lsa_runs` statement matched every row.
    expect((await bigQueryJobIds()).filter((id) => id.startsWith('lsa_merge_')).length).toBe(
      scripts.length + 1,
    );
    const after = await runRows();
    const keyOf = (r: RunRow) => `${r.export} ${r.window} p${r.plan} ${r.batch} ${r.bigquery_job_ids}`;
    expect(after.map(keyOf)).toEqual(rows.map(keyOf));
    expect(after).toEqual(rows);
  });
});
