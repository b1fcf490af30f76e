import { formatAge, type HealthReport } from '../pipeline/health.ts';
import type { PipelineStatus } from '../pipeline/status.ts';

// The operator's status page: one row per instance with a health colour, then its exports (age of the last load,
// pending and failed windows, last error), the nodes and their heartbeats, the next scheduled runs, and links to
// Bull Board, /reports and /metrics. No script, no external assets; it refreshes itself every 10 s.

export interface StatusPageInput {
  status: PipelineStatus;
  health: HealthReport;
  /** Next run of each job scheduler (`tick-all`, `tick-<instance>`), epoch ms. */
  nextRuns: { id: string; nextMs: number | null }[];
  version: string;
  nowMs?: number;
}

const html = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const COLOURS = { green: '#1a7f37', amber: '#b07d00', red: '#c62828' } as const;

export const NAV = `<nav><a href="./">Status</a> · <a href="admin/queues">Queues (Bull Board)</a> · <a href="reports">Reports</a> · <a href="metrics">Metrics</a></nav>`;

export function renderStatusPage(input: StatusPageInput): string {
  const { status, health } = input;
  const nowMs = input.nowMs ?? Date.now();
  const byExport = new Map(status.exports.map((r) => [`${r.instanceId}\u0000${r.exportName}`, r]));
  const instances = health.instances
    .map((instance) => {
      const colour = COLOURS[instance.colour];
      const head = `<tr class="instance"><td colspan="7"><span class="dot" style="background:${colour}" title="${instance.colour}"></span>
<b>${html(instance.instanceId)}</b> <span style="color:${colour}">${instance.colour}</span>${
        instance.unreachableSince
          ? ` <span class="err">unreachable since ${html(instance.unreachableSince)}: ${html(instance.unreachableError ?? '')}</span>`
          : ''
      }</td></tr>`;
      const rows = instance.exports.map((e) => {
        const row = byExport.get(`${e.instanceId}\u0000${e.exportName}`);
        const failed = e.failedWindows
          .map(
            (f) =>
              `<a href="admin/queues/queue/${encodeURIComponent(f.queue)}?status=failed">${html(f.jobId)}</a>`,
          )
          .join('<br>');
        return `<tr><td></td><td>${html(e.exportName)}</td><td title="${html(e.lastLoadedAt ?? '')}">${formatAge(e.ageMs)}</td>
<td>${row?.initialLoadDone ? 'done' : 'pending'}</td><td>${e.pendingWindows}</td><td>${e.failedWindows.length}${failed ? `<br>${failed}` : ''}</td>
<td class="err">${html(e.lastError ?? '')}</td></tr>`;
      });
      return [head, ...rows].join('\n');
    })
    .join('\n');
  const nodes = status.nodes
    .map((n) => {
      const age = nowMs - Date.parse(n.lastHeartbeat);
      return `<tr><td>${html(n.nodeId)}</td><td title="${html(n.lastHeartbeat)}">${formatAge(age)}</td></tr>`;
    })
    .join('\n');
  const nextRuns = input.nextRuns
    .map(
      (r) =>
        `<tr><td>${html(r.id)}</td><td>${r.nextMs ? `${new Date(r.nextMs).toISOString().slice(0, 16).replace('T', ' ')} UTC` : '—'}</td></tr>`,
    )
    .join('\n');
  const queues = Object.entries(status.queues)
    .map(
      ([name, c]) =>
        `<tr><td><a href="admin/queues/queue/${encodeURIComponent(name)}">${html(name)}</a></td>${['waiting', 'active', 'delayed', 'waiting-children', 'completed', 'failed'].map((s) => `<td>${c[s] ?? 0}</td>`).join('')}</tr>`,
    )
    .join('\n');
  return `<!doctype html><html><head><meta charset="utf-8"><title>Looker System Activity pipeline</title>
<meta http-equiv="refresh" content="10">
<style>body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:2em}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}th{background:#f4f4f4}.err{color:#a00;max-width:40em}
.dot{display:inline-block;width:.8em;height:.8em;border-radius:50%;margin-right:.4em}tr.instance td{background:#fafafa}</style></head>
<body><h1>Looker System Activity → BigQuery</h1>${NAV}
<p>${health.healthy ? 'All exports healthy.' : 'Some exports need attention.'} Stale after ${Math.round(health.maxAgeMs / 3_600_000)} h. Version ${html(input.version)}.</p>
<table><tr><th>instance</th><th>export</th><th>last load</th><th>initial load</th><th>pending windows</th><th>failed windows</th><th>last error</th></tr>
${instances}</table>
<h2>Nodes</h2><table><tr><th>node</th><th>last heartbeat</th></tr>
${nodes || '<tr><td colspan="2">no worker node is heartbeating</td></tr>'}</table>
<h2>Next scheduled runs</h2><table><tr><th>scheduler</th><th>next run</th></tr>
${nextRuns || '<tr><td colspan="2">no job scheduler: is a scheduler role running?</td></tr>'}</table>
<h2>Queues</h2><table><tr><th>queue</th><th>waiting</th><th>active</th><th>delayed</th><th>waiting-children</th><th>completed</th><th>failed</th></tr>
${queues}</table></body></html>`;
}
