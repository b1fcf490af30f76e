import { createServer } from 'node:http';
import type { GcsObjectReader } from '../gcs/store.ts';
import { closeServer, listen } from '../http.ts';
import { Catalog } from './catalog.ts';
import { DuckDbEngine } from './duckdb-engine.ts';
import { type BigQueryFaults, FaultBook } from './faults.ts';
import { JobService } from './jobs.ts';
import { handleRequest } from './routes.ts';

// The BigQuery emulator: REST v2 for the real @google-cloud/bigquery client, backed by an in-memory DuckDB, with
// load jobs reading gs:// sources from the GCS emulator's object store in process. Point the client at it with
// `new BigQuery({ apiEndpoint: emulator.url, projectId, authClient: new PassThroughClient() })`.

export type { BigQueryFaults, FaultSnapshot, FaultSpec } from './faults.ts';

export interface BigQueryEmulatorOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  host?: string;
  /** Where load jobs read `gs://bucket/name` sources. */
  gcs: GcsObjectReader;
}

export interface BigQueryEmulator {
  /** Base URL, e.g. `http://127.0.0.1:41234`; use it as the client's `apiEndpoint`. */
  url: string;
  faults: BigQueryFaults;
  close(): Promise<void>;
}

export async function startBigQueryEmulator(options: BigQueryEmulatorOptions): Promise<BigQueryEmulator> {
  const engine = await DuckDbEngine.create();
  const catalog = new Catalog(engine);
  const faults = new FaultBook();
  const jobs = new JobService({ engine, catalog, gcs: options.gcs, faults });
  let url = '';
  const context = { engine, catalog, jobs, faults, baseUrl: () => url };
  const server = createServer((req, res) => {
    void handleRequest(context, req, res);
  });
  url = await listen(server, options.port ?? 0, options.host ?? '127.0.0.1');
  return {
    url,
    faults,
    async close() {
      await closeServer(server);
      // Let running jobs finish before the database goes away.
      await engine.exclusive(async () => undefined);
      engine.close();
    },
  };
}
