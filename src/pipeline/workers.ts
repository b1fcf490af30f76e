import type { Job } from 'bullmq';
import type { Payload, QueueKey, Result } from './catalog.ts';
import type { PipelineContext } from './context.ts';
import { processExtract } from './processors/extract.ts';
import { fanout } from './processors/fanout.ts';
import { processLoad } from './processors/load.ts';
import { processLoadBatch } from './processors/load-batch.ts';
import { processUpload, wakeSettledLoad } from './processors/upload.ts';

// The processor of every catalog queue. Kept apart from the catalog because processors pull in the Looker,
// GCS and BigQuery clients, which the catalog's light importers (dashboard, CLI) must not load. The record's
// type has one entry per catalog key: a queue added to the catalog without a processor, a processor taking
// another payload, or one returning something its readers cannot read (the catalog's result type) does not
// compile.

export type Handler<K extends QueueKey> = (
  context: PipelineContext,
  job: Job,
  data: Payload<K>,
  token: string | undefined,
) => Promise<Result<K>>;

export type Handlers = { readonly [K in QueueKey]: Handler<K> };

export const handlers: Handlers = {
  scheduler: fanout,
  extract: processExtract,
  upload: processUpload,
  load: processLoad,
  loadBatch: processLoadBatch,
};

/**
 * What runs in the worker's process once a job of a queue has completed — BullMQ has finished it and moved its
 * flow's parent on — given its validated payload and its result. Only the upload has such a step: it wakes the
 * window's load job when the batch may have settled the window before the completion parked it
 * (processors/upload.ts).
 */
export type AfterCompletion<K extends QueueKey> = (
  context: PipelineContext,
  data: Payload<K>,
  result: Result<K>,
) => Promise<void>;

export const afterCompletion: { readonly [K in QueueKey]?: AfterCompletion<K> } = {
  upload: wakeSettledLoad,
};
