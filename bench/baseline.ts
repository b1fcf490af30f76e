import type { JobsOptions } from 'bullmq';
import { catalog } from '../src/pipeline/catalog.ts';

// The bare BullMQ baseline of the fan-out benchmark: the same three-job shape as the pipeline (an extract job
// that adds a load ← upload flow), with the pipeline's own job options (attempts, backoff, retention, from
// src/pipeline/catalog.ts) and processors that do nothing else.

const BACKOFF_MS = 200;

export const baselineOptions = {
  extract: catalog.extract.options(BACKOFF_MS),
  upload: catalog.upload.options(BACKOFF_MS),
  load: catalog.load.options(BACKOFF_MS),
} satisfies Record<string, JobsOptions>;

export function extractJob(i: number) {
  return {
    name: 'extract',
    data: { i },
    opts: { ...baselineOptions.extract, jobId: `extract-${i}` },
  };
}
