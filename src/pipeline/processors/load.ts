import type { Job } from 'bullmq';
import { loadWindow } from '../../bigquery/load.ts';
import { tableSpec } from '../../bigquery/schema.ts';
import { ensureDataset } from '../../bigquery/tables.ts';
import { findExport, findInstance } from '../../config/model.ts';
import type { UploadResult } from '../../gcs/upload.ts';
import { windowId } from '../../window.ts';
import type { LoadPayload } from '../catalog.ts';
import type { PipelineContext } from '../context.ts';

// Load one staged window into BigQuery, then, and only then, commit the window in Redis: the watermark moves
// forward (compare-and-set) and, once the initial load's last window is in, the initial-load flag turns off.

export interface LoadOutcome {
  uri: string;
  rowsLoaded: number;
  inserted: number;
  updated: number;
  watermark: string | null;
}

export async function processLoad(
  context: PipelineContext,
  job: Job,
  data: LoadPayload,
): Promise<LoadOutcome> {
  const instance = findInstance(context.config, data.instanceId);
  const resolved = findExport(instance, data.exportName);
  const children = Object.values(await job.getChildrenValues()) as UploadResult[];
  const upload = children.find((c) => typeof c?.uri === 'string');
  if (!upload) throw new Error(`load ${job.id}: its upload child reported no object`);
  const { bigquery: bq } = context.config;
  await ensureDataset(context.bigquery, bq.dataset, bq.location);
  const id = windowId(data.window);
  const result = await loadWindow({
    bigquery: context.bigquery,
    projectId: bq.projectId,
    datasetId: bq.dataset,
    location: bq.location,
    spec: tableSpec(resolved.definition),
    strategy: resolved.settings.loadStrategy,
    instanceId: instance.id,
    // BigQuery job ids and the staging table name include the plan: a window planned again (after a reset)
    // must not find the jobs of its earlier plan and take their result for its own.
    windowId: `${id}-p${data.plan}`,
    sourceUri: upload.uri,
    attempt: job.attemptsMade,
  });
  if (result.rowsLoaded !== data.rows) {
    throw new Error(
      `load ${job.id}: BigQuery loaded ${result.rowsLoaded} rows, the extract wrote ${data.rows}`,
    );
  }
  const { watermark } = await context.exportState.commitWindow(instance.id, data.exportName, id);
  await context.runStatus.recordLoad(instance.id, data.exportName, result.rowsLoaded);
  await job.log(
    `loaded ${result.rowsLoaded} rows (${result.inserted} inserted, ${result.updated} updated) by ${result.jobIds.join(', ')}; watermark ${watermark ?? 'unchanged'}`,
  );
  return {
    uri: upload.uri,
    rowsLoaded: result.rowsLoaded,
    inserted: result.inserted,
    updated: result.updated,
    watermark,
  };
}
