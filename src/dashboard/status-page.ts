import type { PipelineStatus } from '../pipeline/status.ts';

// A plain status page: one row per instance × export. No script, no external assets.

const html = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function renderStatusPage(status: PipelineStatus): string {
  const rows = status.exports
    .map(
      (
        r,
      ) => `<tr><td>${html(r.instanceId)}</td><td>${html(r.exportName)}</td><td>${r.initialLoadDone ? 'done' : 'pending'}</td>
<td>${html(r.watermark ?? '—')}</td><td>${r.pendingWindows}</td><td>${html(r.lastRunAt ?? '—')}</td><td>${r.lastRows ?? '—'}</td>
<td>${r.rowsLoaded}</td><td class="err">${html(r.lastError ?? '')}</td></tr>`,
    )
    .join('\n');
  const queues = Object.entries(status.queues)
    .map(
      ([name, c]) =>
        `<tr><td>${html(name)}</td>${['waiting', 'active', 'delayed', 'waiting-children', 'completed', 'failed'].map((s) => `<td>${c[s] ?? 0}</td>`).join('')}</tr>`,
    )
    .join('\n');
  return `<!doctype html><html><head><meta charset="utf-8"><title>Looker System Activity pipeline</title>
<meta http-equiv="refresh" content="10">
<style>body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:2em}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}th{background:#f4f4f4}.err{color:#a00;max-width:40em}</style></head>
<body><h1>Looker System Activity → BigQuery</h1><p><a href="admin/queues">Queues (Bull Board)</a> · <a href="metrics">Metrics</a></p>
<table><tr><th>instance</th><th>export</th><th>initial load</th><th>watermark</th><th>pending windows</th><th>last run</th><th>last rows</th><th>rows loaded</th><th>last error</th></tr>
${rows}</table>
<h2>Queues</h2><table><tr><th>queue</th><th>waiting</th><th>active</th><th>delayed</th><th>waiting-children</th><th>completed</th><th>failed</th></tr>
${queues}</table></body></html>`;
}
