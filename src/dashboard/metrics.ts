import { UPLOAD_QUEUE_PREFIX } from '../pipeline/catalog.ts';
import type { HealthReport } from '../pipeline/health.ts';
import type { PipelineStatus } from '../pipeline/status.ts';
import type { StageMetricsSnapshot } from '../state/stage-metrics.ts';

// Prometheus text exposition. Per configured instance × export (every one, from the first scrape: 0 before the
// first load, so an alert on age works before anything ever loaded): last load time, rows, pending and failed
// windows. Pipeline-wide: stage duration histograms, failed attempts by stage and kind, Looker queries per
// instance, job counts per queue with every node's upload queue summed into one `upload` queue (labels must not
// grow with nodes), live nodes, and the build.

export interface MetricsInput {
  status: PipelineStatus;
  health: HealthReport;
  stages: StageMetricsSnapshot;
  build: { version: string; node: string };
  nowMs?: number;
}

const escapeLabel = (value: string) =>
  value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

const labels = (pairs: Record<string, string>) =>
  `{${Object.entries(pairs)
    .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
    .join(',')}}`;

/** The queue a metric speaks of: `upload-<node>` queues are one `upload` queue to Prometheus. */
function queueLabel(name: string): string {
  return name.startsWith(UPLOAD_QUEUE_PREFIX) ? 'upload' : name;
}

export function renderMetrics(input: MetricsInput): string {
  const { status, health, stages, build } = input;
  const nowMs = input.nowMs ?? Date.now();
  const lines: string[] = [];
  const family = (name: string, type: string, help: string) =>
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);

  family('lsa_build_info', 'gauge', 'The running version of the pipeline and of Node.js (always 1).');
  lines.push(`lsa_build_info${labels(build)} 1`);

  family(
    'lsa_jobs',
    'gauge',
    'Jobs per queue and state; the upload queues of every node are summed as "upload".',
  );
  const queues = new Map<string, Map<string, number>>();
  for (const [name, counts] of Object.entries(status.queues)) {
    const merged = queues.get(queueLabel(name)) ?? new Map<string, number>();
    for (const [state, count] of Object.entries(counts)) merged.set(state, (merged.get(state) ?? 0) + count);
    queues.set(queueLabel(name), merged);
  }
  for (const [queue, counts] of queues)
    for (const [state, count] of counts) lines.push(`lsa_jobs${labels({ queue, state })} ${count}`);

  family('lsa_nodes', 'gauge', 'Worker nodes heartbeating in Redis.');
  lines.push(`lsa_nodes ${status.nodes.length}`);
  family('lsa_node_heartbeat_age_seconds', 'gauge', 'Seconds since the most silent node last heartbeated.');
  const oldest = Math.min(nowMs, ...status.nodes.map((n) => Date.parse(n.lastHeartbeat)));
  lines.push(`lsa_node_heartbeat_age_seconds ${Math.max(0, Math.round((nowMs - oldest) / 1000))}`);

  const rows = status.exports;
  const healthRows = new Map(
    health.instances.flatMap((i) => i.exports).map((e) => [`${e.instanceId}\u0000${e.exportName}`, e]),
  );
  const perExport = (
    name: string,
    type: string,
    help: string,
    value: (r: PipelineStatus['exports'][number]) => number,
  ) => {
    family(name, type, help);
    for (const row of rows)
      lines.push(`${name}${labels({ instance: row.instanceId, export: row.exportName })} ${value(row)}`);
  };
  perExport(
    'lsa_last_load_timestamp_seconds',
    'gauge',
    'Unix time of the last successful load (0: never loaded).',
    (r) => (r.lastLoadedAt ? Math.floor(Date.parse(r.lastLoadedAt) / 1000) : 0),
  );
  perExport('lsa_rows_extracted_total', 'counter', 'Rows extracted from Looker.', (r) => r.rowsExtracted);
  perExport('lsa_rows_loaded_total', 'counter', 'Rows loaded into BigQuery.', (r) => r.rowsLoaded);
  perExport(
    'lsa_rows_quarantined_total',
    'counter',
    'Rows put in _lsa_quarantine: Looker sent them in a form BigQuery cannot take.',
    (r) => r.rowsQuarantined,
  );
  perExport('lsa_initial_load_done', 'gauge', '1 once the initial load has committed.', (r) =>
    r.initialLoadDone ? 1 : 0,
  );
  perExport(
    'lsa_pending_windows',
    'gauge',
    'Windows planned but not yet committed.',
    (r) => r.pendingWindows,
  );
  perExport(
    'lsa_failed_windows',
    'gauge',
    'Windows of the current plan whose job failed for good (Retry them in Bull Board).',
    (r) => healthRows.get(`${r.instanceId}\u0000${r.exportName}`)?.failedWindows.length ?? 0,
  );

  family(
    'lsa_instance_unreachable',
    'gauge',
    "1 when the instance's last extract could not connect to Looker.",
  );
  for (const instance of health.instances)
    lines.push(
      `lsa_instance_unreachable${labels({ instance: instance.instanceId })} ${instance.unreachableSince ? 1 : 0}`,
    );

  family('lsa_looker_queries_total', 'counter', 'Looker queries run by extracts, per instance.');
  for (const instance of health.instances)
    lines.push(
      `lsa_looker_queries_total${labels({ instance: instance.instanceId })} ${stages.lookerQueries[instance.instanceId] ?? 0}`,
    );

  family(
    'lsa_looker_queries_month',
    'gauge',
    'Looker query calls this calendar month (UTC), per instance with an API budget.',
  );
  for (const b of status.budgets)
    lines.push(`lsa_looker_queries_month${labels({ instance: b.instanceId })} ${b.used}`);
  family('lsa_looker_query_budget', 'gauge', 'Looker query calls allowed per month (instances[].apiBudget).');
  for (const b of status.budgets)
    lines.push(`lsa_looker_query_budget${labels({ instance: b.instanceId })} ${b.budget}`);
  family(
    'lsa_looker_queries_forecast',
    'gauge',
    'Looker query calls the month is forecast to end with (last fan-out).',
  );
  for (const b of status.budgets)
    lines.push(`lsa_looker_queries_forecast${labels({ instance: b.instanceId })} ${b.forecast ?? b.used}`);

  family('lsa_job_failures_total', 'counter', 'Failed attempts by stage and kind (retry, final, stalled).');
  for (const [stage, kinds] of Object.entries(stages.failures))
    for (const [kind, count] of Object.entries(kinds))
      lines.push(`lsa_job_failures_total${labels({ stage, kind })} ${count}`);

  family(
    'lsa_stage_duration_seconds',
    'histogram',
    'How long one job of a stage took (extract, upload, load).',
  );
  for (const [stage, histogram] of Object.entries(stages.durations)) {
    for (const bucket of histogram.buckets)
      lines.push(`lsa_stage_duration_seconds_bucket${labels({ stage, le: bucket.le })} ${bucket.count}`);
    lines.push(`lsa_stage_duration_seconds_sum${labels({ stage })} ${histogram.sumSeconds}`);
    lines.push(`lsa_stage_duration_seconds_count${labels({ stage })} ${histogram.count}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Every metric family name /metrics exposes (histograms with their series suffixes). */
export function metricNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/.exec(line);
    if (match && !line.startsWith('#')) names.add(match[1]!);
  }
  return names;
}
