import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { metricNames } from '../../src/dashboard/metrics.ts';
import { type DashboardHandle, startDashboard } from '../../src/dashboard/server.ts';
import { runOnce } from '../../src/pipeline/run-once.ts';
import { instanceSpec } from '../helpers/instances.ts';
import { loadedKeys, startTestPipeline, type TestPipeline } from '../helpers/pipeline.ts';

// The operator's dashboard: Basic auth on every route, same-origin writes, loopback without credentials, and a
// failed upload retried through Bull Board's HTTP API until its flow completes.

const USER = 'operator';
const PASSWORD = 'correct horse battery staple';
let pipeline: TestPipeline;
let dashboard: DashboardHandle;

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const authorized = { authorization: basic(USER, PASSWORD) };

beforeAll(async () => {
  pipeline = await startTestPipeline({
    instances: [instanceSpec('solo', 5, { historyRows: 100, historyDays: 3 })],
    exports: ['user'],
  });
  dashboard = await startDashboard(pipeline.context, {
    host: '127.0.0.1',
    port: 0,
    credentials: { user: USER, password: PASSWORD },
    discoveryMs: 200,
  });
});

afterAll(async () => {
  await dashboard?.close();
  await pipeline?.close();
});

describe('dashboard access', () => {
  const routes = [
    '/',
    '/metrics',
    '/admin/queues',
    '/admin/queues/api/queues',
    '/admin/queues/static/js/main.js',
  ];

  it.each(routes)('%s answers 401 without credentials and with a wrong password', async (route) => {
    expect((await fetch(`${dashboard.url}${route}`)).status).toBe(401);
    const wrong = await fetch(`${dashboard.url}${route}`, {
      headers: { authorization: basic(USER, 'wrong') },
    });
    expect(wrong.status).toBe(401);
    const wrongUser = await fetch(`${dashboard.url}${route}`, {
      headers: { authorization: basic('root', PASSWORD) },
    });
    expect(wrongUser.status).toBe(401);
  });

  it('serves the page, the board and metrics with the right credentials; probes need none', async () => {
    expect((await fetch(`${dashboard.url}/`, { headers: authorized })).status).toBe(200);
    expect((await fetch(`${dashboard.url}/admin/queues`, { headers: authorized })).status).toBe(200);
    expect(await (await fetch(`${dashboard.url}/healthz`)).text()).toBe('ok');
    expect(await (await fetch(`${dashboard.url}/readyz`)).text()).toBe('ready');
    // before anything loaded, every configured export is there with 0 (an age alert fires, it is not blind)
    const metrics = await (await fetch(`${dashboard.url}/metrics`, { headers: authorized })).text();
    expect(metrics).toContain('lsa_last_load_timestamp_seconds{instance="solo",export="user"} 0\n');
  });

  it('refuses a state-changing request from a foreign Origin', async () => {
    const response = await fetch(`${dashboard.url}/admin/queues/api/queues/pause`, {
      method: 'PUT',
      headers: { ...authorized, origin: 'https://evil.example' },
    });
    expect(response.status).toBe(403);
  });

  it('listens on loopback only when no credentials are configured', async () => {
    const open = await startDashboard(pipeline.context, { host: '0.0.0.0', port: 0, credentials: null });
    try {
      expect(open.host).toBe('127.0.0.1');
    } finally {
      await open.close();
    }
  });
});

describe('retrying a failed upload in Bull Board', () => {
  it('lets the waiting load run and the rows land in BigQuery', async () => {
    const { context, stack, config } = pipeline;
    // The bucket is gone: the upload fails for good (not retryable) and its load waits for it.
    stack.gcs.store.deleteBucket(config.gcs.bucket);
    const first = await runOnce(context, { timeoutMs: 30_000 });
    expect(first.ok).toBe(false);
    expect(first.windows[0]!.error).toMatch(
      /upload upload-solo-user-\S+ failed \(bucket lsa-demo does not exist.*\); retry it in the dashboard/,
    );
    const resolved = config.instances[0]!.exports[0]!;
    expect(await context.exportState.get('solo', 'user')).toMatchObject({
      initialLoad: true,
      pendingWindows: 1,
    });

    // The operator creates the bucket and presses Retry on the failed upload.
    stack.gcs.store.createBucket(config.gcs.bucket);
    const queues = (await (
      await fetch(`${dashboard.url}/admin/queues/api/queues?activeQueue=&status=failed`, {
        headers: authorized,
      })
    ).json()) as {
      queues: { name: string; jobs: { id: string }[] }[];
    };
    const uploadQueue = queues.queues.find((q) => q.name.startsWith('upload-'));
    expect(uploadQueue, JSON.stringify(queues.queues.map((q) => q.name))).toBeDefined();
    const failed = await context.queues.upload(context.nodeId).getFailed();
    expect(failed).toHaveLength(1);
    const retry = await fetch(
      `${dashboard.url}/admin/queues/api/queues/${encodeURIComponent(uploadQueue!.name)}/${encodeURIComponent(failed[0]!.id!)}/retry`,
      { method: 'PUT', headers: { ...authorized, origin: dashboard.url } },
    );
    expect(retry.status).toBe(204);

    const load = await context.queues.load.getJob(
      first.windows[0]!.extractJobId.replace(/^extract-/, 'load-'),
    );
    const deadline = Date.now() + 20_000;
    while ((await load!.getState()) !== 'completed' && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 200));
    expect(await load!.getState()).toBe('completed');
    expect(await context.exportState.get('solo', 'user')).toMatchObject({
      initialLoad: false,
      pendingWindows: 0,
    });
    const keys = await loadedKeys(context, resolved, 'solo');
    expect(keys.length).toBeGreaterThan(0);

    // the status page and the metrics report it
    const page = await (await fetch(`${dashboard.url}/`, { headers: authorized })).text();
    expect(page).toMatch(/<b>solo<\/b> <span style="color:#1a7f37">green<\/span>/);
    expect(page).toMatch(
      /<td>user<\/td><td title="[^"]+">(just now|\d+ s ago)<\/td>\n<td>done<\/td><td>0<\/td><td>0<\/td>/,
    );
    expect(page).toContain(`<td>${context.nodeId}</td>`);
    for (const link of ['href="admin/queues"', 'href="reports"', 'href="metrics"'])
      expect(page).toContain(link);
    // Stage figures reach Redis within a second of the job (each process adds its own about once a second).
    const scrape = async () => (await fetch(`${dashboard.url}/metrics`, { headers: authorized })).text();
    let metrics = await scrape();
    for (
      let look = 0;
      !/lsa_stage_duration_seconds_count\{stage="load"\} [1-9]/.test(metrics) && look < 50;
      look++
    ) {
      await new Promise((r) => setTimeout(r, 200));
      metrics = await scrape();
    }
    expect(metrics).toContain(`lsa_rows_loaded_total{instance="solo",export="user"} ${keys.length}`);
    expect(metrics).toContain('lsa_initial_load_done{instance="solo",export="user"} 1');
    expect(metrics).toMatch(/lsa_last_load_timestamp_seconds\{instance="solo",export="user"\} 1\d{9}\n/);
    expect(metrics).toMatch(/lsa_jobs\{queue="load",state="completed"\} 1/);
    // every node's upload queue is one "upload" queue to Prometheus
    expect(metrics).toMatch(/lsa_jobs\{queue="upload",state="completed"\} 1/);
    expect(metrics).not.toContain('queue="upload-');
    expect(metrics).toMatch(/lsa_stage_duration_seconds_count\{stage="extract"\} [1-9]/);
    expect(metrics).toMatch(/lsa_stage_duration_seconds_bucket\{stage="load",le="\+Inf"\} [1-9]/);
    expect(metrics).toMatch(/lsa_job_failures_total\{stage="upload",kind="final"\} 1/);
    expect(metrics).toMatch(/lsa_looker_queries_total\{instance="solo"\} [1-9]/);
    expect(metrics).toContain('lsa_failed_windows{instance="solo",export="user"} 0');
  });

  it('keeps the scheduler queue read-only', async () => {
    const response = await fetch(`${dashboard.url}/admin/queues/api/queues/scheduler/pause`, {
      method: 'PUT',
      headers: authorized,
    });
    expect(response.status).toBe(405);
  });
});

describe('metrics, alerts and the Grafana dashboard', () => {
  it('exposes every configured export from the first scrape, and the build', async () => {
    const metrics = await (await fetch(`${dashboard.url}/metrics`, { headers: authorized })).text();
    expect(metrics).toMatch(/lsa_last_load_timestamp_seconds\{instance="solo",export="user"\} \d+/);
    expect(metrics).toMatch(/lsa_build_info\{version="\d+\.\d+\.\d+",node="\d+\.\d+\.\d+"\} 1/);
  });

  it('every metric the alert rules and the dashboard name exists in /metrics', async () => {
    const exposed = metricNames(
      await (await fetch(`${dashboard.url}/metrics`, { headers: authorized })).text(),
    );
    const rules = parse(readFileSync('deploy/prometheus/alerts.yml', 'utf8')) as {
      groups: { rules: { alert: string; expr: string; annotations: { runbook: string } }[] }[];
    };
    const alerts = rules.groups.flatMap((g) => g.rules);
    expect(alerts.map((r) => r.alert)).toEqual(
      expect.arrayContaining(['LsaExportStale', 'LsaWindowsFailed', 'LsaDeadNode', 'LsaNoScheduler']),
    );
    const grafana = JSON.parse(readFileSync('deploy/grafana/dashboard.json', 'utf8')) as {
      panels: { targets: { expr: string }[] }[];
    };
    const expressions = [
      ...alerts.map((r) => r.expr),
      ...grafana.panels.flatMap((p) => p.targets.map((t) => t.expr)),
    ];
    const named = new Set(expressions.flatMap((e) => e.match(/\blsa_[a-z_]+/g) ?? []));
    expect(named.size).toBeGreaterThan(8);
    expect([...named].filter((name) => !exposed.has(name))).toEqual([]);
    // every runbook link points at a section of docs/operations.md
    const operations = readFileSync('docs/operations.md', 'utf8');
    for (const rule of alerts) {
      const anchor = rule.annotations.runbook.split('#')[1]!;
      expect(operations.toLowerCase(), rule.alert).toContain(`## ${anchor.replace(/-/g, ' ')}`);
    }
  });
});
