import { catalog, type UploadPayload } from './catalog.ts';
import type { PipelineContext } from './context.ts';

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
    let recovered = 0;
    for (const upload of jobs) {
      const parsed = catalog.upload.schema.safeParse(upload.data);
      if (!parsed.success) continue;
      await reExtract(context, parsed.data);
      recovered++;
    }
    await queue.obliterate({ force: true });
    await context.nodes.deregister(nodeId);
    context.logger.warn(
      { node: nodeId, windows: recovered },
      'node stopped heartbeating: its pending windows are extracted again',
    );
  }
  return dead;
}

async function reExtract(context: PipelineContext, upload: UploadPayload): Promise<void> {
  const { instanceId, exportName, window } = upload.manifest;
  const ids = { instanceId, exportName, plan: upload.plan, window };
  const load = await context.queues.load.getJob(catalog.load.jobId(ids));
  if (load) await load.remove({ removeChildren: true }).catch(() => undefined);
  const extractId = catalog.extract.jobId(ids);
  const extract = await context.queues.extract.getJob(extractId);
  if (extract) await extract.remove().catch(() => undefined);
  await context.queues.extract.add('extract', ids, {
    ...catalog.extract.options(context.config.workers.backoffMs),
    jobId: extractId,
  });
}
