import { gzipSync } from 'node:zlib';
import { startBigQueryEmulator } from 'lsa-emulators/bigquery';
import { MemoryObjectStore } from 'lsa-emulators/gcs';
import { createBigQuery } from '../src/bigquery/client.ts';
import { loadBatch, type StagedWindow } from '../src/bigquery/load.ts';
import { tableSpec } from '../src/bigquery/schema.ts';
import { ensureDataset } from '../src/bigquery/tables.ts';
import { builtInExport } from '../src/exports/registry.ts';
import type { CursorRange } from '../src/window.ts';
import { table, thousands } from './measure.ts';

// `npm run bench -- merge --days 1,10,30`: what one hourly batch's MERGE reads as the target grows. The target
// table holds D days of history for several instances; then one batch (an hour of every instance) is merged,
// and BigQuery's `totalBytesProcessed` for that MERGE is read from the job, as billing would. history's cursor
// never moves, so its MERGE restricts the target to the batch's partitions: the figure must stay flat with D.
// content_usage's cursor moves, so its MERGE reads all of its instances' partitions: it grows, by design.

export interface MergeBenchOptions {
  days: number[];
  instances: number;
  rowsPerInstanceDay: number;
}

export interface MergeFigure {
  days: number;
  export: string;
  targetRows: number;
  batchRows: number;
  bytesProcessed: number;
}

const PROJECT = 'bench-project';
const DAY = 86_400_000;

function historyRow(id: number, instance: string, atMs: number) {
  const created = new Date(atMs).toISOString().slice(0, 19).replace('T', ' ');
  return {
    looker_instance: instance,
    id,
    created_time: created,
    completed_time: created,
    runtime: 1.5,
    status: 'complete',
    source: 'dashboard',
    user_id: id % 100,
    _lsa_own_query: false,
  };
}

function contentUsageRow(id: number, instance: string, atMs: number) {
  return {
    looker_instance: instance,
    id,
    content_id: String(id),
    content_title: `Dashboard ${id}`,
    content_type: 'dashboard',
    api_count: 1,
    other_count: 2,
    last_accessed_time: new Date(atMs).toISOString().slice(0, 19).replace('T', ' '),
  };
}

export async function mergeBench(options: MergeBenchOptions): Promise<MergeFigure[]> {
  const figures: MergeFigure[] = [];
  for (const days of options.days) {
    for (const name of ['history', 'content_usage'] as const) {
      const store = new MemoryObjectStore();
      store.createBucket('bench');
      const emulator = await startBigQueryEmulator({ gcs: store });
      try {
        const dataset = `merge_${name}_${days}`;
        const bigquery = createBigQuery({
          projectId: PROJECT,
          dataset,
          location: 'US',
          apiEndpoint: emulator.url,
        });
        await ensureDataset(bigquery, dataset, 'US');
        const spec = tableSpec(builtInExport(name)!);
        const rowOf = name === 'history' ? historyRow : contentUsageRow;
        const endMs = Date.parse('2026-11-01T00:00:00Z');
        let id = 1;
        let sequence = 0;
        // One extract time per window, as an extract stamps every row it writes; the window's cursor range and
        // quarantined count, as an extract's manifest reports them.
        const stage = (instance: string, rows: object[], cursorRange: CursorRange): StagedWindow => {
          const objectName = `${instance}-${sequence++}.jsonl.gz`;
          const extractedAt = new Date(endMs + sequence * 1000).toISOString();
          store.putObject({
            bucket: 'bench',
            name: objectName,
            bytes: gzipSync(rows.map((r) => JSON.stringify({ ...r, _extracted_at: extractedAt })).join('\n')),
            contentType: 'application/gzip',
          });
          return {
            instanceId: instance,
            windowId: `w${sequence}`,
            sourceUri: `gs://bench/${objectName}`,
            rows: rows.length,
            quarantined: 0,
            cursorRange,
            extractedAt,
          };
        };
        const batch = (key: string, windows: StagedWindow[]) =>
          loadBatch({
            bigquery,
            projectId: PROJECT,
            datasetId: dataset,
            location: 'US',
            spec,
            strategy: 'merge',
            batchKey: key,
            windows,
            attempt: 0,
          });
        const instances = Array.from({ length: options.instances }, (_, i) => `inst-${i}`);
        // D days of history, one batch per day (the target as it stands before the hour we measure).
        for (let d = days; d >= 1; d--) {
          const dayStart = endMs - d * DAY;
          const windows = instances.map((instance) =>
            stage(
              instance,
              Array.from({ length: options.rowsPerInstanceDay }, (_, i) =>
                rowOf(id++, instance, dayStart + Math.floor((i * DAY) / options.rowsPerInstanceDay)),
              ),
              {
                minMs: dayStart,
                maxMs:
                  dayStart +
                  Math.floor(((options.rowsPerInstanceDay - 1) * DAY) / options.rowsPerInstanceDay),
              },
            ),
          );
          await batch(`fill${d}`, windows);
        }
        // The hour we measure: every instance's last hour, merged as one batch.
        const perHour = Math.max(1, Math.round(options.rowsPerInstanceDay / 24));
        const hour = instances.map((instance) =>
          stage(
            instance,
            Array.from({ length: perHour }, (_, i) => rowOf(id++, instance, endMs - 3_600_000 + i * 1000)),
            { minMs: endMs - 3_600_000, maxMs: endMs - 3_600_000 + (perHour - 1) * 1000 },
          ),
        );
        const result = await batch('hour', hour);
        figures.push({
          days,
          export: name,
          targetRows: id - 1 - perHour * instances.length,
          batchRows: perHour * instances.length,
          bytesProcessed: result.bytesProcessed,
        });
        process.stderr.write(
          `merge: ${name} with ${days} day(s): ${thousands(result.bytesProcessed)} bytes\n`,
        );
      } finally {
        await emulator.close();
      }
    }
  }
  return figures;
}

export function mergeReport(figures: MergeFigure[]): string {
  return table(
    ['days in target', 'export', 'target rows', 'batch rows', 'MERGE bytes processed'],
    figures.map((f) => [
      String(f.days),
      f.export,
      thousands(f.targetRows),
      thousands(f.batchRows),
      thousands(f.bytesProcessed),
    ]),
  );
}
