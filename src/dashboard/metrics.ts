import type { PipelineStatus } from '../pipeline/status.ts';

// Prometheus text exposition: job counts per queue and state, rows extracted and loaded per instance and export,
// and the seconds since each export's last successful load (the number to alert on).

const escapeLabel = (value: string) =>
  value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

export function renderMetrics(status: PipelineStatus, nowMs = Date.now()): string {
  const lines: string[] = [];
  lines.push('# HELP lsa_jobs Jobs per queue and state.', '# TYPE lsa_jobs gauge');
  for (const [queue, counts] of Object.entries(status.queues)) {
    for (const [state, count] of Object.entries(counts)) {
      lines.push(`lsa_jobs{queue="${escapeLabel(queue)}",state="${escapeLabel(state)}"} ${count}`);
    }
  }
  const perExport = (
    name: string,
    help: string,
    type: string,
    value: (r: PipelineStatus['exports'][number]) => number | null,
  ) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const row of status.exports) {
      const v = value(row);
      if (v !== null)
        lines.push(
          `${name}{instance="${escapeLabel(row.instanceId)}",export="${escapeLabel(row.exportName)}"} ${v}`,
        );
    }
  };
  perExport('lsa_rows_extracted_total', 'Rows extracted from Looker.', 'counter', (r) => r.rowsExtracted);
  perExport('lsa_rows_loaded_total', 'Rows loaded into BigQuery.', 'counter', (r) => r.rowsLoaded);
  perExport('lsa_seconds_since_last_load', 'Seconds since the last successful load.', 'gauge', (r) =>
    r.lastLoadedAt ? Math.max(0, Math.round((nowMs - Date.parse(r.lastLoadedAt)) / 1000)) : null,
  );
  perExport('lsa_initial_load_done', '1 once the initial load has committed.', 'gauge', (r) =>
    r.initialLoadDone ? 1 : 0,
  );
  perExport(
    'lsa_pending_windows',
    'Windows planned but not yet committed.',
    'gauge',
    (r) => r.pendingWindows,
  );
  return `${lines.join('\n')}\n`;
}
