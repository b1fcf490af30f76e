import { randomBytes } from 'node:crypto';
import { type BigQueryEmulator, startBigQueryEmulator } from './bigquery/server.ts';
import { type GcsEmulator, MemoryObjectStore, startGcsEmulator } from './gcs/server.ts';
import { type LookerEmulator, type LookerInstanceSpec, startLookerEmulator } from './looker/index.ts';

// The three emulators together, as `lsa emulators`, `lsa demo` and the integration tests run them: Looker with
// several seeded instances, GCS, and BigQuery loading from that GCS's objects in process.

export interface EmulatorStack {
  looker: LookerEmulator;
  gcs: GcsEmulator;
  bigquery: BigQueryEmulator;
  instances: LookerInstanceSpec[];
  close(): Promise<void>;
}

export interface StackOptions {
  instances?: LookerInstanceSpec[];
  host?: string;
  /** Keep GCS objects on disk under this folder. */
  gcsDir?: string;
  ports?: { looker?: number; gcs?: number; bigquery?: number };
  /** The Looker emulator's "now" (epoch ms); tests share it with the code under test to move time. */
  clock?: () => number;
}

/** Three instances of different sizes, behaving like Elite System Activity (late, changing and deleted rows); credentials are random per start (they are the emulator's, not real). */
export function demoInstances(): LookerInstanceSpec[] {
  const secret = () => randomBytes(12).toString('hex');
  return [
    {
      id: 'emea-small',
      clientId: 'emea-small-client',
      clientSecret: secret(),
      seed: 11,
      systemActivity: 'elite',
      historyRows: 1_500,
      historyDays: 30,
    },
    {
      id: 'us-medium',
      clientId: 'us-medium-client',
      clientSecret: secret(),
      seed: 22,
      systemActivity: 'elite',
      historyRows: 12_000,
      historyDays: 60,
    },
    {
      id: 'apac-large',
      clientId: 'apac-large-client',
      clientSecret: secret(),
      seed: 33,
      systemActivity: 'elite',
      historyRows: 40_000,
      historyDays: 90,
    },
  ];
}

export async function startEmulatorStack(options: StackOptions = {}): Promise<EmulatorStack> {
  const instances = options.instances ?? demoInstances();
  const host = options.host ?? '127.0.0.1';
  const store = new MemoryObjectStore(options.gcsDir ? { dir: options.gcsDir } : {});
  const gcs = await startGcsEmulator({ store, host, port: options.ports?.gcs ?? 0 });
  const bigquery = await startBigQueryEmulator({ gcs: store, host, port: options.ports?.bigquery ?? 0 });
  const looker = await startLookerEmulator({
    instances,
    host,
    port: options.ports?.looker ?? 0,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  return {
    looker,
    gcs,
    bigquery,
    instances,
    async close() {
      await Promise.all([looker.close(), gcs.close(), bigquery.close()]);
    },
  };
}
