import type { RequestHandler } from 'express';
import type { PipelineContext } from '../pipeline/context.ts';
import { emptyChart, escapeXml, lineChart, stackedBarChart } from '../reports/charts.ts';
import { checkReportDataset } from '../reports/dataset.ts';
import {
  collectReportsPageData,
  type LoadedRows,
  type QueryDay,
  type ReportsPageData,
  type Section,
} from '../reports/page-data.ts';
import { cellText } from '../reports/render.ts';

// /reports: what landed in BigQuery and what it says, drawn as server-side SVG (see reports/charts.ts): rows
// loaded per day per instance and export, query volume and p95 runtime per instance, unused content. One page,
// no script, no external asset: it works offline and behind the dashboard's Basic auth like every other page.

export function reportsPage(context: PipelineContext): RequestHandler {
  return async (_req, res, next) => {
    try {
      const { projectId, dataset, location } = context.config.bigquery;
      const target = checkReportDataset({ projectId, dataset });
      const exportNames = [
        ...new Set(context.config.instances.flatMap((i) => i.exports.map((e) => e.definition.name))),
      ];
      const data = await collectReportsPageData(context.bigquery, target, exportNames, location);
      res.type('html').send(renderReportsPage(data, `${projectId}.${dataset}`));
    } catch (error) {
      next(error);
    }
  };
}

/** Sorted distinct values. */
const distinct = (values: string[]) => [...new Set(values)].sort();

function problemOf<T>(section: Section<T>, title: string): string | undefined {
  if ('problem' in section) return emptyChart(title, section.problem);
  if (section.rows.length === 0) return emptyChart(title, `no rows yet (${section.source})`);
  return undefined;
}

function loadCharts(section: Section<LoadedRows>): string[] {
  const title = 'Rows loaded per day';
  const problem = problemOf(section, title);
  if (problem || 'problem' in section) return [problem!];
  const days = distinct(section.rows.map((r) => r.day));
  return distinct(section.rows.map((r) => r.instance)).map((instance) => {
    const rows = section.rows.filter((r) => r.instance === instance);
    const exports = distinct(rows.map((r) => r.export));
    return stackedBarChart({
      title: `${title}: ${instance}`,
      categories: days,
      unit: 'rows',
      series: exports.map((name) => ({
        name,
        values: days.map((day) => rows.find((r) => r.day === day && r.export === name)?.rows ?? null),
      })),
    });
  });
}

function queryCharts(section: ReportsPageData['queries']): string[] {
  const problem = problemOf(section, 'Queries per day');
  if (problem || 'problem' in section) return [problem!];
  const days = distinct(section.rows.map((r) => r.day));
  const instances = distinct(section.rows.map((r) => r.instance));
  const rows = section.rows;
  const series = (pick: (row: QueryDay) => number | null) =>
    instances.map((instance) => ({
      name: instance,
      values: days.map((day) => {
        const row = rows.find((r) => r.day === day && r.instance === instance);
        return row ? pick(row) : null;
      }),
    }));
  return [
    lineChart({
      title: 'Queries per day',
      categories: days,
      unit: 'queries',
      series: series((r) => r.queries),
    }),
    lineChart({
      title: 'p95 query runtime per day',
      categories: days,
      unit: 's',
      series: series((r) => r.p95),
    }),
  ];
}

function unusedCharts(section: ReportsPageData['unused']): string[] {
  const title = 'Content by last access';
  const problem = problemOf(section, title);
  if (problem || 'problem' in section) return [problem!];
  const rows = section.rows;
  const count = (row: (typeof rows)[number], column: string) => Number(row[column] ?? 0);
  return [
    stackedBarChart({
      title,
      unit: 'items',
      categories: rows.map((r) => `${cellText(r.looker_instance)} ${cellText(r.content_type)}`),
      series: [
        {
          name: 'accessed in 30 days',
          values: rows.map((r) => count(r, 'content_items') - count(r, 'unused_30d')),
        },
        { name: '30 to 89 days', values: rows.map((r) => count(r, 'unused_30d') - count(r, 'unused_90d')) },
        {
          name: '90 days or more',
          values: rows.map((r) => count(r, 'unused_90d') - count(r, 'never_accessed')),
        },
        { name: 'never', values: rows.map((r) => count(r, 'never_accessed')) },
      ],
    }),
  ];
}

function card(id: string, heading: string, note: string, charts: string[]): string {
  return `<section class="card" data-chart="${id}"><h2>${escapeXml(heading)}</h2><p class="note">${escapeXml(note)}</p>${charts.join('\n')}</section>`;
}

const sourceOf = (section: Section<unknown>) => ('source' in section ? `Source: ${section.source}.` : '');

export function renderReportsPage(data: ReportsPageData, datasetLabel: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Reports · Looker System Activity</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">
<style>
body{font:14px system-ui,sans-serif;margin:2em;color:#222;background:#fafafa}
h1{font-size:1.4em}h2{font-size:1.1em;margin:0 0 .2em}
.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:1em;margin-bottom:1.5em;max-width:1340px}
.note{color:#666;margin:.2em 0 .8em}
svg.chart{margin:0 1em 1em 0;max-width:100%;height:auto}
.chart-title{font-weight:600;font-size:13px;fill:#222}.legend,.tick,.category,.unit{font-size:11px;fill:#555}
.grid{stroke:#e5e5e5}.empty-reason{font-size:12px;fill:#a00}
</style></head>
<body><h1>Reports: ${escapeXml(datasetLabel)}</h1>
<p><a href="./">Status</a> · <a href="admin/queues">Queues (Bull Board)</a> · <a href="metrics">Metrics</a> ·
the views behind these charts: <code>lsa report --list</code></p>
${card('loads', 'Rows loaded', `Last 30 days, per instance, stacked by export. ${sourceOf(data.loads)}`, loadCharts(data.loads))}
${card('queries', 'Query volume and p95 runtime', `Last 30 days, per instance, the pipeline's own queries left out. ${sourceOf(data.queries)}`, queryCharts(data.queries))}
${card('unused', 'Unused content', `Dashboards and Looks by their last access, per instance and type. ${sourceOf(data.unused)}`, unusedCharts(data.unused))}
</body></html>`;
}
