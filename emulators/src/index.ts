// lsa-emulators: local HTTP emulators of the three APIs the pipeline talks to, each driven by the real client
// library over HTTP. One entry point per emulator (`lsa-emulators/looker`, `/gcs`, `/bigquery`) with its whole
// vocabulary (fault types included); this root entry holds the stack that runs all three together and the
// emulators' start functions.

export {
  type BigQueryEmulator,
  type BigQueryEmulatorOptions,
  startBigQueryEmulator,
} from './bigquery/index.ts';
export {
  type GcsEmulator,
  type GcsEmulatorOptions,
  MemoryObjectStore,
  startGcsEmulator,
} from './gcs/index.ts';
export { type LookerEmulator, type LookerInstanceSpec, startLookerEmulator } from './looker/index.ts';
export * from './stack.ts';
