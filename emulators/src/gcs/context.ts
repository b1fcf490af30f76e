import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GcsFaults } from './faults.ts';
import type { ReceivedBody, RequestTarget } from './request.ts';
import type { ResumableSessions } from './sessions.ts';
import type { GcsStats } from './stats.ts';
import type { MemoryObjectStore } from './store.ts';

/** Everything one emulator instance shares between requests. */
export interface GcsContext {
  store: MemoryObjectStore;
  faults: GcsFaults;
  stats: GcsStats;
  sessions: ResumableSessions;
}

/** One storage API request, with its body already received. */
export interface StorageRequest {
  req: IncomingMessage;
  res: ServerResponse;
  target: RequestTarget;
  body: ReceivedBody;
  /** `http://<Host header>`: links and upload session URLs must point where the client actually connected. */
  baseUrl: string;
  /** Set by a reset fault on a download: response bytes to send before dropping the connection. */
  resetDownloadAfterBytes?: number;
}
