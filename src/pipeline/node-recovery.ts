import { catalog, type UploadPayload } from './catalog.ts';
import type { PipelineContext } from './context.ts';
import { jobName } from './job-names.ts';

// A node that stops heartbeating takes its spool files with it. Its upload queue is emptied and every window
// that was waiting there is extracted again on a live node: the load (and its upload child) and the finished
// extract are removed, then the extract is added again under the same id. The window stays pending in its plan
// meanwhile, so the watermark cannot pass it.

export const DEFAULT_DEAD_AFTER_MS = 60_000;

export async function recoverDeadNodes(
  context: PipelineContext,
  deadAfterMs = DEFAULT_DEAD_AFTER_MS,
): Promise<string[]> {
  const dead = (await context.nodes.dead(deadAfterMs)).filter((id) => id !== context.nodeId);
  const recoveredNodes: string[] = [];
  for (const nodeId of dead) {
    const queue = context.queues.upload(nodeId);
    const jobs = await queue.getJobs([
      'waiting',
      'delayed',
      'active',
      'failed',
      'prioritized',
      'waiting-children',
    ]);
    const windows = jobs.flatMap((job) => {
      const parsed = catalog.upload.schema.safeParse(job.data);
      return parsed.success ? [parsed.data] : [];
    });
    // Order matters. The loads go first, while their uploads still hold them in waiting-children (removing
    // an upload first would release its load to run without it). Only when every window's jobs are gone is
    // the queue obliterated and are the extracts added again; otherwise the next check tries again.
    let removed = true;
    for (const upload of windows) removed = (await removeWindowJobs(context, upload)) && removed;
    if (!removed) continue;
    await queue.obliterate({ force: true });
    for (const upload of windows) {
      const { instanceId, exportName, window } = upload.manifest;
      const ids = { instanceId, exportName, plan: upload.plan, backfill: upload.backfill, window };
      await context.queues.extract.add(jobName(ids), ids, {
        ...catalog.extract.options(context.config.workers.backoffMs),
        jobId: catalog.extract.jobId(ids),
      });
    }
    await context.nodes.deregister(nodeId);
    recoveredNodes.push(nodeId);
    context.logger.warn(
      { node: nodeId, windows: windows.length },
      'node stopped heartbeating: its pending windows are extracted again',
    );
  }
  return recoveredNodes;
}

/** Removes a window's load (leaving its upload child for the queue's obliteration) and its extract. */
async function removeWindowJobs(context: PipelineContext, upload: UploadPayload): Promise<boolean> {
  const { instanceId, exportName, window } = upload.manifest;
  const ids = { instanceId, exportName, plan: upload.plan, backfill: upload.backfill, window };
  const loadId = catalog.load.jobId(ids);
  const extractId = catalog.extract.jobId(ids);
  await (await context.queues.load.getJob(loadId))?.remove({ removeChildren: false }).catch(() => undefined);
  await (await context.queues.extract.getJob(extractId))?.remove().catch(() => undefined);
  if ((await context.queues.load.getJob(loadId)) || (await context.queues.extract.getJob(extractId))) {
    context.logger.warn(
      { load: loadId, extract: extractId },
      "could not remove the jobs of a dead node's window yet",
    );
    return false;
  }
  return true;
}
