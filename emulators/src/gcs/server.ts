import { createServer } from 'node:http';
import { closeServer, listen } from '../http.ts';
import type { GcsContext } from './context.ts';
import { GcsFaults } from './faults.ts';
import { handleRequest } from './routes.ts';
import { ResumableSessions } from './sessions.ts';
import { GcsStats } from './stats.ts';
import { MemoryObjectStore } from './store.ts';

// A Cloud Storage JSON API emulator for the real @google-cloud/storage client, pointed at it with
// `new Storage({ apiEndpoint: emulator.url, projectId })`. It serves /storage/v1, /upload/storage/v1 and
// /download/storage/v1 on one port, plus /_emulator/faults and /_emulator/stats for tests.

export type { FaultReport, FaultTarget, GcsFault, ResetFault, StatusFault } from './faults.ts';
export type { GcsStatsReport } from './stats.ts';
export { GcsFaults, GcsStats, MemoryObjectStore };

export interface GcsEmulatorOptions {
  port?: number;
  host?: string;
  store?: MemoryObjectStore;
  /** persist objects under this folder so they survive a restart */
  dir?: string;
}

export interface GcsEmulator {
  /** Base URL, e.g. `http://127.0.0.1:41234`: the client's `apiEndpoint`. */
  url: string;
  store: MemoryObjectStore;
  faults: GcsFaults;
  stats: GcsStats;
  close(): Promise<void>;
}

export async function startGcsEmulator(options: GcsEmulatorOptions = {}): Promise<GcsEmulator> {
  const store = options.store ?? new MemoryObjectStore();
  if (options.dir) store.persistTo(options.dir);
  const context: GcsContext = {
    store,
    faults: new GcsFaults(),
    stats: new GcsStats(),
    sessions: new ResumableSessions(),
  };
  const server = createServer((req, res) => {
    void handleRequest(context, req, res);
  });
  const url = await listen(server, options.port ?? 0, options.host ?? '127.0.0.1');
  return {
    url,
    store,
    faults: context.faults,
    stats: context.stats,
    close: () => closeServer(server),
  };
}
