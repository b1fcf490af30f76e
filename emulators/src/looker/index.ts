// The Looker API 4.0 emulator: System Activity (`system__activity`) of several generated instances, served over
// HTTP to the real @looker/sdk-node. See server.ts for routes and types.ts for the public vocabulary.

export { describeSystemActivityModel, type ModelFieldDescription } from './describe.ts';
export { DEFAULT_MAX_ROW_LIMIT, DEFAULT_QUERY_LIMIT, DEFAULT_TIMEZONE } from './instance.ts';
export { startLookerEmulator } from './server.ts';
export * from './types.ts';
