import type { ServerResponse } from 'node:http';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Column, JsonValue, PreparedQuery } from './engine.ts';
import type { ExploreDef } from './explores.ts';
import { titleCase } from './fields.ts';
import type { CorruptRowMode } from './types.ts';

// Result formats of `POST /queries/run/{format}`, written as a stream: the prefix, then rows in ~64 KB chunks
// with backpressure (a slow reader pauses the generator, so no result is ever held in memory), then the suffix.
// A fault can cut the body after N rows or alter the first row.

export type ResultFormat = 'json' | 'json_bi' | 'csv';

export const RESULT_FORMATS: readonly ResultFormat[] = ['json', 'json_bi', 'csv'];

export const CONTENT_TYPES: Record<ResultFormat, string> = {
  json: 'application/json; charset=utf-8',
  json_bi: 'application/json; charset=utf-8',
  // Looker's exact csv content type is unverified (reference §4 q5); text/* makes the SDK return a string.
  csv: 'text/csv; charset=utf-8',
};

export interface RowCorruption {
  mode: CorruptRowMode;
  field?: string;
}

export interface StreamOptions {
  /** Stream this many rows, then destroy the socket (the body never completes). */
  truncateAfterRows?: number;
  corruptFirstRow?: RowCorruption;
}

export type StreamOutcome = 'complete' | 'truncated' | 'aborted';

const CHUNK_BYTES = 64 * 1024;
const CONTROL_CHARS = 'ctl:\u0001\u0002\u0003\u0007\b\u000b\f\u001b\u001f\u007f\r\n\t';
const NON_BMP = '😀𝄞';

/** Characters JSON must escape, plus surrogates (JSON.stringify escapes lone ones): those take the slow path. */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

function encodeJson(value: JsonValue): string {
  if (value === null) return 'null';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : 'null';
  // Most values are plain ASCII: quoting them directly is several times faster than JSON.stringify.
  return NEEDS_ESCAPE.test(value) ? JSON.stringify(value) : `"${value}"`;
}

/** Times, yes/no and tier labels never need escaping: skip the check. */
function encodeSafe(value: JsonValue): string {
  if (value === null) return 'null';
  return typeof value === 'number' ? String(value) : `"${value}"`;
}

/**
 * String columns repeat a few values (sources, statuses, emails…): remember their encodings. The cache is per
 * query and bounded, so unique values (ids, messages) only cost a miss.
 */
function cachedStringEncoder(): (value: JsonValue) => string {
  const cache = new Map<string, string>();
  return (value) => {
    if (typeof value !== 'string') return encodeJson(value);
    let text = cache.get(value);
    if (text === undefined) {
      text = encodeJson(value);
      if (cache.size >= 10_000) cache.clear();
      cache.set(value, text);
    }
    return text;
  };
}

function columnEncoder(column: Column): (value: JsonValue) => string {
  const kind = column.dimension?.kind;
  if (kind === 'time' || kind === 'yesno' || kind === 'tier' || column.dimension?.timeframe)
    return encodeSafe;
  if (kind === 'string') return cachedStringEncoder();
  return encodeJson;
}

function encodeCsv(value: JsonValue): string {
  if (value === null) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

// ------------------------------------------------------------------------------------------ corruption

interface Cell {
  key: string;
  value: JsonValue;
}

function pickColumn(columns: Column[], wanted: string | undefined, prefer: (c: Column) => boolean): number {
  if (wanted) {
    const named = columns.findIndex((c) => c.name === wanted);
    if (named >= 0) return named;
  }
  const preferred = columns.findIndex(prefer);
  return Math.max(preferred, 0);
}

/**
 * The first row as Looker would never send it. Returns the cells to encode, plus whether the encoded text must be
 * broken afterwards (invalid-json). Unknown `field`s fall back to a column of a fitting type.
 */
function corruptCells(
  cells: Cell[],
  columns: Column[],
  explore: ExploreDef,
  corruption: RowCorruption,
): { cells: Cell[]; breakSyntax: boolean } {
  const out = cells.map((c) => ({ ...c }));
  const at = (index: number) => out[index] as Cell;
  switch (corruption.mode) {
    case 'invalid-json':
      return { cells: out, breakSyntax: true };
    case 'string-in-number':
      at(pickColumn(columns, corruption.field, (c) => c.type === 'number' || c.measure)).value = 'abc';
      break;
    case 'missing-field': {
      const index = corruption.field
        ? columns.findIndex((c) => c.name === corruption.field)
        : columns.length - 1;
      out.splice(index >= 0 ? index : columns.length - 1, 1);
      break;
    }
    case 'extra-field':
      out.push({ key: `${explore.baseView}.unexpected_field`, value: 'surprise' });
      break;
    case 'null-key': {
      // The explore's primary key (the base view's), else any selected primary key.
      const basePk = explore.joins[0]?.view.primaryKey;
      const target =
        corruption.field ??
        columns.find((c) => c.name === basePk)?.name ??
        columns.find((c) => c.dimension?.primaryKey)?.name ??
        basePk;
      const cell = out.find((c) => c.key === target);
      if (cell) cell.value = null;
      else if (target) out.push({ key: target, value: null });
      break;
    }
    case 'control-chars':
    case 'non-bmp':
    case 'huge-string': {
      const cell = at(
        pickColumn(columns, corruption.field, (c) => c.type === 'string' && !c.dimension?.primaryKey),
      );
      const original = cell.value === null ? '' : String(cell.value);
      if (corruption.mode === 'control-chars') cell.value = `${original}${CONTROL_CHARS}`;
      else if (corruption.mode === 'non-bmp') cell.value = `${original} ${NON_BMP}`;
      else cell.value = 'x'.repeat(1024 * 1024);
      break;
    }
  }
  return { cells: out, breakSyntax: false };
}

// ------------------------------------------------------------------------------------------ encoders

interface Encoder {
  prefix: string;
  row(values: JsonValue[], first: boolean): string;
  corruptRow(values: JsonValue[], corruption: RowCorruption): string;
  suffix: string;
}

function jsonBiField(column: Column) {
  const dim = column.dimension;
  const def = dim ?? column.measureDef;
  return {
    sql: null,
    view: def?.view ?? null,
    dimension_group: dim?.group ?? null,
    category: column.measure ? 'measure' : 'dimension',
    field_group_label: dim?.groupLabel ?? null,
    name: column.name,
    type: column.type,
    view_label: def?.viewLabel ?? null,
    label: column.label,
    field_group_variant: dim?.timeframe ? titleCase(dim.timeframe) : (def?.labelShort ?? column.label),
    hidden: dim?.hidden ?? false,
    description: def?.description ?? null,
  };
}

function makeEncoder(format: ResultFormat, query: PreparedQuery, filters: Record<string, string>): Encoder {
  const { columns, explore } = query;
  if (format === 'csv') {
    const line = (cells: JsonValue[]) => `${cells.map(encodeCsv).join(',')}\n`;
    return {
      // Looker's csv header is the field labels ("History ID"), not the field names.
      prefix: line(columns.map((c) => c.label)),
      row: (values) => line(values),
      corruptRow: (values, corruption) => {
        const { cells, breakSyntax } = corruptCells(
          columns.map((c, i) => ({ key: c.name, value: values[i] ?? null })),
          columns,
          explore,
          corruption,
        );
        const text = line(cells.map((c) => c.value));
        return breakSyntax ? `"${text}` : text; // an unbalanced quote swallows the rest of the file
      },
      suffix: '',
    };
  }
  // Each key pre-encoded with its separator: `{"a":`, `,"b":`.
  const keys = columns.map((c, i) => `${i === 0 ? '{' : ','}${JSON.stringify(c.name)}:`);
  const encoders = columns.map(columnEncoder);
  const objectOf = (values: JsonValue[]) => {
    let text = '';
    for (let i = 0; i < keys.length; i++) {
      text += (keys[i] as string) + (encoders[i] as (v: JsonValue) => string)(values[i] ?? null);
    }
    return `${text}}`;
  };
  const corruptRow = (values: JsonValue[], corruption: RowCorruption) => {
    const { cells, breakSyntax } = corruptCells(
      columns.map((c, i) => ({ key: c.name, value: values[i] ?? null })),
      columns,
      explore,
      corruption,
    );
    const text = `{${cells.map((c) => `${JSON.stringify(c.key)}:${encodeJson(c.value)}`).join(',')}}`;
    return breakSyntax ? `${text.slice(0, -1)},}` : text; // a trailing comma: invalid JSON
  };
  if (format === 'json') {
    return {
      prefix: '[',
      row: (values, first) => (first ? '' : ',') + objectOf(values),
      corruptRow,
      suffix: ']',
    };
  }
  const metadata = {
    fields: {
      dimensions: columns.filter((c) => !c.measure).map(jsonBiField),
      measures: columns.filter((c) => c.measure).map(jsonBiField),
      pivots: [],
      table_calculations: [],
    },
    pivots: [],
    has_subtotals: false,
    has_totals: false,
    columns_truncated: 'false',
    filter_expression: null,
    filters,
    sql: null,
  };
  return {
    prefix: `{"metadata":${JSON.stringify(metadata)},"rows":[`,
    row: (values, first) => (first ? '' : ',') + objectOf(values),
    corruptRow,
    suffix: ']}',
  };
}

// ------------------------------------------------------------------------------------------ streaming

function waitForDrain(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

function writeAndFlush(res: ServerResponse, text: string): Promise<void> {
  return new Promise((resolve) => {
    if (text === '') resolve();
    else res.write(text, () => resolve());
  });
}

/** Streams a prepared query as `format`. Resolves when the body is complete, cut by a fault, or the client left. */
export async function streamQueryResult(
  res: ServerResponse,
  format: ResultFormat,
  query: PreparedQuery,
  filters: Record<string, string>,
  options: StreamOptions = {},
): Promise<StreamOutcome> {
  const encoder = makeEncoder(format, query, filters);
  let closed = false;
  res.on('close', () => {
    closed = true;
  });
  res.writeHead(200, { 'content-type': CONTENT_TYPES[format] });
  // Rows collect in an array joined once per chunk: `+=` on a growing string builds a rope of thousands of nodes
  // that V8 must flatten, which doubled garbage collection in profiles.
  let parts: string[] = [encoder.prefix];
  let partsLength = encoder.prefix.length;
  const take = () => {
    const text = parts.join('');
    parts = [];
    partsLength = 0;
    return text;
  };
  let written = 0;
  let lastYield = Date.now();
  const truncateAfter = options.truncateAfterRows;
  const cut = async () => {
    await writeAndFlush(res, take());
    res.socket?.destroy();
    return 'truncated' as const;
  };
  if (truncateAfter !== undefined && truncateAfter <= 0) return cut();

  const flush = async () => {
    if (partsLength > 0) {
      const ok = res.write(take());
      if (!ok) await waitForDrain(res);
    }
    // Long synchronous runs would starve every other connection of this server.
    if (Date.now() - lastYield > 20) {
      await yieldToEventLoop();
      lastYield = Date.now();
    }
  };

  const rows = query.rows();
  try {
    for (let next = rows.next(); !next.done; next = rows.next()) {
      if (closed) return 'aborted';
      const values = next.value;
      if (values === null) {
        if (Date.now() - lastYield > 20) await flush();
        continue;
      }
      const text =
        written === 0 && options.corruptFirstRow
          ? encoder.corruptRow(values, options.corruptFirstRow)
          : encoder.row(values, written === 0);
      parts.push(text);
      partsLength += text.length;
      written++;
      if (truncateAfter !== undefined && written >= truncateAfter) return await cut();
      if (partsLength >= CHUNK_BYTES) await flush();
    }
    if (closed) return 'aborted';
    if (truncateAfter !== undefined) return await cut();
    parts.push(encoder.suffix);
    partsLength += encoder.suffix.length;
    await flush();
    res.end();
    return 'complete';
  } finally {
    rows.return(undefined);
  }
}

/** Looker answers a failed query with HTTP 200 and an error row. */
export function queryErrorBody(format: ResultFormat, message: string): { contentType: string; body: string } {
  if (format === 'csv')
    return { contentType: CONTENT_TYPES.csv, body: `looker_error\n${encodeCsv(message)}\n` };
  return { contentType: CONTENT_TYPES.json, body: JSON.stringify([{ looker_error: message }]) };
}
