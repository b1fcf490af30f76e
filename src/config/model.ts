import { NonRetryableError } from '../errors.ts';
import type { SystemActivityEdition } from '../exports/freshness.ts';
import type { ExportDefinition, LoadStrategy, MaskingRule } from '../exports/types.ts';
import type { SecretRef } from './secrets.ts';

// The validated, resolved configuration every part of the pipeline reads. Built once at boot, then frozen.

export interface ExportSettings {
  windowMs: number;
  lookbackMs: number;
  lagMs: number;
  /** How far back the initial load starts; 'all' reads everything the instance still has. */
  horizon: number | 'all';
  pageSize: number;
  loadStrategy: LoadStrategy;
}

export interface ResolvedExport {
  definition: ExportDefinition;
  settings: ExportSettings;
  /** Effective masking per Looker field of this export ('keep' entries omitted). */
  masking: Record<string, Exclude<MaskingRule, 'keep'>>;
}

export interface InstanceConfig {
  id: string;
  baseUrl: string;
  clientId: SecretRef;
  clientSecret: SecretRef;
  exports: ResolvedExport[];
  maxConcurrentQueries: number;
  queryTimeoutMs: number;
  /** A cron of its own, or undefined to follow the global schedule. */
  cron: string | undefined;
  systemActivity: SystemActivityEdition;
  /** The most rows one Looker query returns; every page size is at most this. */
  rowCap: number;
  /** IANA zone System Activity times are in (the instance's system time zone). */
  timezone: string;
  rowCountCheck: boolean;
  /** Looker query calls allowed per calendar month (UTC); undefined: unlimited. */
  apiBudget?: ApiBudget;
}

export interface ApiBudget {
  queriesPerMonth: number;
}

export interface PipelineConfig {
  source: string;
  /** A `redis+cluster://` or `rediss+cluster://` url connects to a Redis Cluster (isClusterUrl). */
  redis: { url: string; prefix: string };
  schedule: { cron: string; timezone: string };
  spool: { dir: string };
  gcs: { bucket: string; prefix: string; projectId: string | undefined; apiEndpoint: string | undefined };
  bigquery: { projectId: string; dataset: string; location: string; apiEndpoint: string | undefined };
  masking: { hashKey: SecretRef | undefined };
  instances: InstanceConfig[];
  workers: {
    extractConcurrency: number;
    uploadConcurrency: number;
    loadConcurrency: number;
    shutdownGraceMs: number;
    lockDurationMs: number;
    stalledIntervalMs: number;
    heartbeatMs: number;
    deadNodeAfterMs: number;
    backoffMs: number;
    /** Port of the worker's /healthz server, when configured. */
    healthPort: number | undefined;
  };
  /** Operator notifications; undefined when none are configured. */
  notify: { webhook: string; staleAfterMs: number; checkIntervalMs: number } | undefined;
  load: {
    /** Windows of one target table loaded together: one load job and one MERGE per batch. */
    batch: { maxWaitMs: number; quietMs: number; maxWindows: number; maxBytes: number };
  };
  dashboard: { host: string; port: number };
}

/** `redis+cluster://` and `rediss+cluster://` name one node (or the discovery endpoint) of a Redis Cluster. */
const CLUSTER_SCHEME = /^(rediss?)\+cluster:/;

export function isClusterUrl(url: string): boolean {
  return CLUSTER_SCHEME.test(url);
}

/** The plain `redis://` (or `rediss://`) URL of the node a cluster URL names: one-off probes talk to it alone. */
export function seedNodeUrl(url: string): string {
  return url.replace(CLUSTER_SCHEME, '$1:');
}

// A job naming an instance or export that config no longer has can never succeed: fail it once, clearly.
export function findInstance(config: PipelineConfig, id: string): InstanceConfig {
  const instance = config.instances.find((i) => i.id === id);
  if (!instance) {
    throw new NonRetryableError(
      `unknown instance "${id}" (configured: ${config.instances.map((i) => i.id).join(', ')})`,
    );
  }
  return instance;
}

export function findExport(instance: InstanceConfig, name: string): ResolvedExport {
  const found = instance.exports.find((e) => e.definition.name === name);
  if (!found) {
    throw new NonRetryableError(
      `instance "${instance.id}" has no export "${name}" (it exports: ${instance.exports.map((e) => e.definition.name).join(', ')})`,
    );
  }
  return found;
}
