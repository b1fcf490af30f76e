// A small server-side SVG chart library for the /reports page: stacked bars and lines over categories (days,
// instances). No script and no external asset, so the page works offline and behind any proxy; each mark carries
// a <title>, which browsers show on hover. Every drawn data mark has class="mark".

export interface Series {
  name: string;
  /** One value per category; null: no data there. */
  values: (number | null)[];
}

export interface ChartSpec {
  title: string;
  categories: string[];
  series: Series[];
  /** Appended to values in tooltips and the axis label (e.g. "s", "rows"). */
  unit?: string;
  width?: number;
  height?: number;
}

const PALETTE = [
  '#4e79a7',
  '#f28e2b',
  '#59a14f',
  '#e15759',
  '#76b7b2',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
];
const MARGIN = { top: 40, right: 16, bottom: 56, left: 56 };

export function escapeXml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

export function seriesColor(index: number): string {
  return PALETTE[index % PALETTE.length]!;
}

/** 0 and up to 5 round ticks covering `max` (1, 2, 2.5 or 5 times a power of ten apart). */
export function niceTicks(max: number): number[] {
  if (!(max > 0)) return [0, 1];
  const rough = max / 4;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= rough)!;
  const ticks: number[] = [];
  for (let tick = 0; tick < max + step; tick += step) ticks.push(Number(tick.toPrecision(12)));
  return ticks;
}

function formatNumber(value: number): string {
  if (Math.abs(value) >= 1_000_000) return `${Number((value / 1_000_000).toPrecision(3))}M`;
  if (Math.abs(value) >= 10_000) return `${Number((value / 1000).toPrecision(3))}k`;
  return String(Number(value.toPrecision(4)));
}

interface Frame {
  width: number;
  height: number;
  plotWidth: number;
  plotHeight: number;
  ticks: number[];
  y(value: number): number;
  /** Left edge of category i's band. */
  x(index: number): number;
  band: number;
}

function frame(spec: ChartSpec, max: number): Frame {
  const width = spec.width ?? 640;
  const height = spec.height ?? 280;
  const plotWidth = width - MARGIN.left - MARGIN.right;
  const plotHeight = height - MARGIN.top - MARGIN.bottom;
  const ticks = niceTicks(max);
  const top = ticks.at(-1)!;
  const band = plotWidth / Math.max(1, spec.categories.length);
  return {
    width,
    height,
    plotWidth,
    plotHeight,
    ticks,
    band,
    y: (value) => MARGIN.top + plotHeight - (value / top) * plotHeight,
    x: (index) => MARGIN.left + index * band,
  };
}

/** Title, legend, y grid with labels, and category labels (thinned out so they do not overlap). */
function axes(spec: ChartSpec, f: Frame): string {
  const parts: string[] = [];
  parts.push(`<text class="chart-title" x="${MARGIN.left}" y="16">${escapeXml(spec.title)}</text>`);
  let legendX = MARGIN.left;
  spec.series.forEach((s, i) => {
    parts.push(
      `<rect class="legend-swatch" x="${legendX}" y="24" width="10" height="10" fill="${seriesColor(i)}"/>`,
      `<text class="legend" x="${legendX + 14}" y="33">${escapeXml(s.name)}</text>`,
    );
    legendX += 24 + s.name.length * 6.5;
  });
  for (const tick of f.ticks) {
    const y = f.y(tick).toFixed(1);
    parts.push(
      `<line class="grid" x1="${MARGIN.left}" x2="${MARGIN.left + f.plotWidth}" y1="${y}" y2="${y}"/>`,
      `<text class="tick" x="${MARGIN.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${formatNumber(tick)}</text>`,
    );
  }
  const every = Math.max(1, Math.ceil(spec.categories.length / Math.max(1, Math.floor(f.plotWidth / 70))));
  spec.categories.forEach((category, i) => {
    if (i % every !== 0) return;
    const x = (f.x(i) + f.band / 2).toFixed(1);
    parts.push(
      `<text class="category" x="${x}" y="${MARGIN.top + f.plotHeight + 16}" text-anchor="middle">${escapeXml(category)}</text>`,
    );
  });
  if (spec.unit) {
    parts.push(
      `<text class="unit" x="12" y="${MARGIN.top + f.plotHeight / 2}" transform="rotate(-90 12 ${MARGIN.top + f.plotHeight / 2})" text-anchor="middle">${escapeXml(spec.unit)}</text>`,
    );
  }
  return parts.join('');
}

function svg(spec: ChartSpec, f: Frame, body: string): string {
  const label = escapeXml(spec.title);
  return `<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${f.width} ${f.height}" width="${f.width}" height="${f.height}" role="img" aria-label="${label}">${axes(spec, f)}${body}</svg>`;
}

function tooltip(spec: ChartSpec, series: Series, index: number, value: number): string {
  const unit = spec.unit ? ` ${spec.unit}` : '';
  return `<title>${escapeXml(`${series.name} · ${spec.categories[index]}: ${formatNumber(value)}${unit}`)}</title>`;
}

/** Bars per category, the series stacked on one another. */
export function stackedBarChart(spec: ChartSpec): string {
  const totals = spec.categories.map((_, i) => spec.series.reduce((sum, s) => sum + (s.values[i] ?? 0), 0));
  const f = frame(spec, Math.max(0, ...totals));
  const barWidth = Math.max(2, Math.min(60, f.band * 0.7));
  const marks: string[] = [];
  spec.categories.forEach((_, i) => {
    let base = 0;
    spec.series.forEach((series, s) => {
      const value = series.values[i] ?? 0;
      if (value <= 0) return;
      const y0 = f.y(base);
      const y1 = f.y(base + value);
      base += value;
      marks.push(
        `<rect class="mark" x="${(f.x(i) + (f.band - barWidth) / 2).toFixed(1)}" y="${y1.toFixed(1)}" width="${barWidth.toFixed(1)}" height="${Math.max(0.5, y0 - y1).toFixed(1)}" fill="${seriesColor(s)}">${tooltip(spec, series, i, value)}</rect>`,
      );
    });
  });
  return svg(spec, f, marks.join(''));
}

/** One line per series across the categories; a point on every value (gaps where a value is null). */
export function lineChart(spec: ChartSpec): string {
  const values = spec.series.flatMap((s) => s.values.filter((v): v is number => v !== null));
  const f = frame(spec, Math.max(0, ...values));
  const marks: string[] = [];
  spec.series.forEach((series, s) => {
    const color = seriesColor(s);
    const points = series.values
      .map((value, i) => (value === null ? null : { x: f.x(i) + f.band / 2, y: f.y(value), value, i }))
      .filter((p) => p !== null);
    if (points.length > 1) {
      const path = points
        .map((p, k) => `${k === 0 ? 'M' : 'L'}${p.x.toFixed(1)},${p.y.toFixed(1)}`)
        .join(' ');
      marks.push(`<path class="line" d="${path}" fill="none" stroke="${color}" stroke-width="2"/>`);
    }
    for (const p of points) {
      marks.push(
        `<circle class="mark" cx="${p.x.toFixed(1)}" cy="${p.y.toFixed(1)}" r="3" fill="${color}">${tooltip(spec, series, p.i, p.value)}</circle>`,
      );
    }
  });
  return svg(spec, f, marks.join(''));
}

/** What a chart shows when there is nothing to draw: its title and why. */
export function emptyChart(title: string, reason: string): string {
  return `<svg class="chart empty" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 640 80" width="640" height="80" role="img" aria-label="${escapeXml(title)}"><text class="chart-title" x="${MARGIN.left}" y="16">${escapeXml(title)}</text><text class="empty-reason" x="${MARGIN.left}" y="48">${escapeXml(reason)}</text></svg>`;
}
