import { copyFileSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DashboardHandle, startDashboard } from '../../src/dashboard/server.ts';
import { runOnce } from '../../src/pipeline/run-once.ts';
import { loadReports } from '../../src/reports/catalog.ts';
import { lineChart, niceTicks, stackedBarChart } from '../../src/reports/charts.ts';
import { installReports } from '../../src/reports/install.ts';
import { instanceSpec } from '../helpers/instances.ts';
import { startTestPipeline, type TestPipeline } from '../helpers/pipeline.ts';

// The /reports page in a real headless browser: two instances extracted and loaded by the pipeline, the report
// views installed, then Debian's chromium (driven by playwright-core) opens the page through the dashboard's Basic
// auth. The page must load without a console error or a request to anywhere but the dashboard, and every chart
// must have drawn marks. The screenshot is kept in the test's folder (LSA_UPDATE_SCREENSHOTS=1 copies it to
// docs/images for the README).

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const USER = 'analyst';
const PASSWORD = 'reports page password';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) {
  console.warn(`reports-page.test.ts: skipped, ${CHROMIUM} not found (Debian: apt-get install -y chromium)`);
}

let pipeline: TestPipeline;
let dashboard: DashboardHandle;
let browser: Browser;
let dir: string;

describe.skipIf(!hasChromium)('/reports in a headless browser', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lsa-reports-page-'));
    pipeline = await startTestPipeline({
      instances: [
        instanceSpec('emea', 41, { historyRows: 400, historyDays: 20 }),
        instanceSpec('apac', 42, { historyRows: 250, historyDays: 20 }),
      ],
      exports: ['history', 'content_usage', 'user', 'dashboard', 'look'],
      defaults: { window: '30d', horizon: '25d' },
      // The page is under test here, not extract completeness (tested in extract.test.ts).
      instanceYaml: '    rowCountCheck: false',
    });
    const run = await runOnce(pipeline.context, { timeoutMs: 60_000 });
    expect(run.ok, JSON.stringify(run.windows.filter((w) => w.error))).toBe(true);
    const { projectId, dataset } = pipeline.config.bigquery;
    const installed = await installReports(pipeline.context.bigquery, { projectId, dataset }, loadReports());
    const byName = Object.fromEntries(installed.map((o) => [o.name, o]));
    expect(byName.query_performance_daily?.status, JSON.stringify(byName.query_performance_daily)).toBe(
      'installed',
    );
    expect(byName.unused_content?.status, JSON.stringify(byName.unused_content)).toBe('installed');
    dashboard = await startDashboard(pipeline.context, {
      host: '127.0.0.1',
      port: 0,
      credentials: { user: USER, password: PASSWORD },
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await dashboard?.close();
    await pipeline?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('asks for credentials like every dashboard page', async () => {
    expect((await fetch(`${dashboard.url}/reports`)).status).toBe(401);
  });

  it('draws every chart with no console error and no request elsewhere, and takes a screenshot', async () => {
    const browserContext = await browser.newContext({
      httpCredentials: { username: USER, password: PASSWORD },
      viewport: { width: 1400, height: 900 },
    });
    try {
      const page = await browserContext.newPage();
      const problems: string[] = [];
      page.on('console', (message) => {
        if (message.type() === 'error') problems.push(`console: ${message.text()}`);
      });
      page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
      page.on('response', (answer) => {
        if (answer.status() >= 400) problems.push(`HTTP ${answer.status()}: ${answer.url()}`);
      });
      page.on('request', (request) => {
        if (!request.url().startsWith(dashboard.url)) problems.push(`request elsewhere: ${request.url()}`);
      });
      const response = await page.goto(`${dashboard.url}/reports`, { waitUntil: 'load' });
      expect(response?.status()).toBe(200);
      expect(await page.title()).toContain('Reports');

      for (const chart of ['loads', 'queries', 'unused']) {
        const section = page.locator(`section[data-chart="${chart}"]`);
        expect(await section.locator('svg.chart').count(), chart).toBeGreaterThan(0);
        expect(
          await section.locator('svg.chart.empty').count(),
          `${chart}: ${await section.textContent()}`,
        ).toBe(0);
        // Every chart of the section has drawn marks (bars or points), not only axes.
        const marksPerChart = await section
          .locator('svg.chart')
          .evaluateAll((charts) => charts.map((svg) => svg.querySelectorAll('.mark').length));
        expect(
          marksPerChart.every((marks) => marks > 0),
          `${chart}: ${marksPerChart}`,
        ).toBe(true);
      }
      // One rows-loaded chart per instance; one query line per instance.
      expect(await page.locator('section[data-chart="loads"] svg.chart').count()).toBe(2);
      const legend = await page
        .locator('section[data-chart="queries"] svg.chart')
        .first()
        .locator('.legend')
        .allTextContents();
      expect(legend.sort()).toEqual(['apac', 'emea']);
      expect(problems).toEqual([]);

      const screenshot = join(dir, 'reports.png');
      await page.screenshot({ path: screenshot, fullPage: true });
      expect(statSync(screenshot).size).toBeGreaterThan(10_000);
      // A test run never changes the checkout; `LSA_UPDATE_SCREENSHOTS=1 npx vitest run <this file>` refreshes the
      // README's picture from this very screenshot.
      if (process.env.LSA_UPDATE_SCREENSHOTS === '1') copyFileSync(screenshot, 'docs/images/reports.png');
    } finally {
      await browserContext.close();
    }
  });
  it('counts rows loaded from _lsa_runs when the pipeline records its runs there', async () => {
    const { projectId, dataset } = pipeline.config.bigquery;
    const runs = `\`${projectId}.${dataset}._lsa_runs\``;
    await pipeline.context.bigquery.query(
      `CREATE OR REPLACE TABLE ${runs} (looker_instance STRING, export STRING, \`window\` STRING, \`rows\` INT64, loaded_at TIMESTAMP)`,
    );
    await pipeline.context.bigquery.query(`INSERT ${runs} (looker_instance, export, \`window\`, \`rows\`, loaded_at) VALUES
      ('emea', 'history', 'w1', 120, TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 2 DAY)),
      ('emea', 'history', 'w2', 80, TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 1 DAY)),
      ('emea', 'user', 'w3', 7, TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 1 DAY)),
      ('apac', 'history', 'w4', 50, TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 40 DAY))`);
    try {
      const authorization = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
      const html = await (await fetch(`${dashboard.url}/reports`, { headers: { authorization } })).text();
      const loads = /<section class="card" data-chart="loads">([\s\S]*?)<\/section>/.exec(html)![1]!;
      expect(loads).toContain('Source: _lsa_runs.');
      // Only emea loaded in the last 30 days: three bars (history on two days, user on one).
      expect(loads.match(/<svg class="chart"/g)).toHaveLength(1);
      expect(loads.match(/class="mark"/g)).toHaveLength(3);
      expect(loads).toContain('history · ');
    } finally {
      await pipeline.context.bigquery.query(`DROP TABLE ${runs}`);
    }
  });
});

describe('the SVG charts', () => {
  it('escape every text they draw (content titles and types come from Looker)', () => {
    const hostile = '<script>alert("x")</script> & \'';
    for (const draw of [stackedBarChart, lineChart]) {
      const svg = draw({
        title: hostile,
        categories: [hostile, 'b'],
        series: [{ name: hostile, values: [1, 2] }],
        unit: hostile,
      });
      expect(svg).not.toContain('<script');
      expect(svg).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;');
    }
  });

  it('draw one mark per non-empty value on round axes', () => {
    const bars = stackedBarChart({
      title: 't',
      categories: ['d1', 'd2', 'd3'],
      series: [
        { name: 'a', values: [1, null, 3] },
        { name: 'b', values: [0, 2, 4] },
      ],
    });
    expect(bars.match(/class="mark"/g)).toHaveLength(4);
    const points = lineChart({
      title: 't',
      categories: ['d1', 'd2'],
      series: [{ name: 'a', values: [5, null] }],
    });
    expect(points.match(/class="mark"/g)).toHaveLength(1);
    expect(niceTicks(7)).toEqual([0, 2, 4, 6, 8]);
    expect(niceTicks(0.9)).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(niceTicks(0)).toEqual([0, 1]);
  });
});
