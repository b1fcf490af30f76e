import { createBigQuery } from '../bigquery/client.ts';
import { findInstance, type InstanceConfig, type PipelineConfig } from '../config/model.ts';
import { createStorage } from '../gcs/client.ts';
import { LookerClient } from '../looker/client.ts';
import { checkBigQuery } from './bigquery-check.ts';
import { mapWithConcurrency } from './concurrency.ts';
import { checkCloudStorage } from './gcs-check.ts';
import { checkLookerInstance } from './looker-checks.ts';
import { buildReport, type Check, type DoctorReport } from './report.ts';

// `lsa doctor`: every configured Looker instance, Cloud Storage and BigQuery, checked with the same clients and
// settings the workers use, without Redis (a doctor must work before anything else does).

export interface DoctorOptions {
  /** Only this instance's Looker checks (Cloud Storage and BigQuery are still checked). */
  instanceId?: string;
  /** Looker instances checked at once. */
  concurrency?: number;
  /** Deadline of each Looker request: a hung instance must not hold the doctor for its whole queryTimeout. */
  lookerTimeoutMs?: number;
}

const DEFAULT_LOOKER_TIMEOUT_MS = 60_000;

/** The credentials of the instances checked, to be kept out of every message (a second guard). */
function secretValues(instances: readonly InstanceConfig[]): string[] {
  return instances
    .flatMap((i) => [i.clientId, i.clientSecret])
    .filter((ref) => ref.isSet())
    .map((ref) => ref.resolve())
    .filter((value) => value.length >= 4);
}

function scrub(check: Check, secrets: readonly string[]): Check {
  const clean = (text: string) => secrets.reduce((t, s) => t.split(s).join('[secret]'), text);
  return { ...check, detail: clean(check.detail), ...(check.fix ? { fix: clean(check.fix) } : {}) };
}

async function checkInstance(instance: InstanceConfig, timeoutMs: number): Promise<Check[]> {
  const client = new LookerClient({
    ...instance,
    queryTimeoutMs: Math.min(instance.queryTimeoutMs, timeoutMs),
  });
  try {
    return await checkLookerInstance(client, instance);
  } finally {
    await client.logout();
  }
}

export async function runDoctor(config: PipelineConfig, options: DoctorOptions = {}): Promise<DoctorReport> {
  const instances = options.instanceId ? [findInstance(config, options.instanceId)] : config.instances;
  const [looker, gcs, bigquery] = await Promise.all([
    mapWithConcurrency(instances, options.concurrency ?? 8, (instance) =>
      checkInstance(instance, options.lookerTimeoutMs ?? DEFAULT_LOOKER_TIMEOUT_MS),
    ),
    checkCloudStorage(createStorage(config.gcs, config.bigquery.projectId), config.gcs),
    checkBigQuery(createBigQuery(config.bigquery), config.bigquery),
  ]);
  const secrets = secretValues(instances);
  return buildReport([...looker.flat(), gcs, ...bigquery].map((c) => scrub(c, secrets)));
}
