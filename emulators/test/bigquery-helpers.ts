import { BigQuery } from '@google-cloud/bigquery';
import { PassThroughClient } from 'google-auth-library';
import { type BigQueryEmulator, startBigQueryEmulator } from '../src/bigquery/server.ts';
import { MemoryObjectStore } from '../src/gcs/store.ts';

// The BigQuery emulator as its tests start it: load sources in an in-memory GCS store with one bucket, the real
// client pointed at the emulator exactly as production points it at one (apiEndpoint + PassThroughClient), and
// one dataset to work in.

export interface BigQueryUnderTest {
  emulator: BigQueryEmulator;
  bigquery: BigQuery;
  store: MemoryObjectStore;
}

export async function startBigQueryUnderTest(options: {
  projectId: string;
  bucket: string;
  dataset: string;
  location?: string;
}): Promise<BigQueryUnderTest> {
  const store = new MemoryObjectStore();
  store.createBucket(options.bucket);
  const emulator = await startBigQueryEmulator({ gcs: store });
  const bigquery = new BigQuery({
    apiEndpoint: emulator.url,
    projectId: options.projectId,
    authClient: new PassThroughClient(),
  });
  await bigquery.createDataset(options.dataset, options.location ? { location: options.location } : {});
  return { emulator, bigquery, store };
}
