import { join } from 'node:path';
import type { IWriteQuery } from '@looker/sdk';
import type { InstanceConfig, ResolvedExport } from '../config/model.ts';
import { NonRetryableError } from '../errors.ts';
import type { SpoolManifest } from '../spool/manifest.ts';
import { SpoolWriter } from '../spool/writer.ts';
import { type CursorRange, describeWindow, type ExtractWindow, windowId } from '../window.ts';
import type { LookerClient } from './client.ts';
import { lookerDateTime, wallTimeToUtcMs, zoneOffsetMs } from './datetime.ts';
import { JsonArrayRowReader, JsonRowsError, parseRow } from './json-rows.ts';
import { type RowConverter, type RowLine, rowConverter } from './rows.ts';

// Extracts one window of one export from one instance into one NDJSON.gz spool file, streaming: rows go to
// the spool as they arrive, so memory stays flat whatever the size of a page or a window.
//
// Never a silent truncation: Looker caps rows per query, so a page that comes back with as many rows as its
// limit is never taken as complete. Pages are sorted by cursor then key; when a page is full, the rows of its
// last cursor second are dropped (they may continue on the next page) and the window continues from that
// second: the window is split at the last complete second. A second that alone fills a page, an open-start
// range, a snapshot and a reopen window are paged by key instead (`key > last`, sorted by key). Every row is
// written once. A page size is never above the instance's row cap (config refuses it); and since an admin may
// have set a lower cap than configured, each window's rows are first counted with a measure query
// (`rowCountCheck`): a window that then yields fewer rows than counted fails instead of loading short.
//
// Times: filters are written in the instance's system time zone, and each row's cursor is converted back to UTC
// and must fall in the window: around a DST change the local filter is widened by the change and the rows that
// belong to a neighbouring window are skipped, so every row lands in exactly one window.
//
// Rows are never parsed into objects here, nor, for the common row, decoded into text: the converter turns each
// row's bytes into its line's bytes (handed to the spool uncopied) and hands back the few values the paging needs
// (key, cursor, open field, a Looker error), see `rowPicks`.

export interface ExtractProgress {
  rows: number;
  queries: number;
}

export interface ExtractRequest {
  client: LookerClient;
  instance: InstanceConfig;
  export: ResolvedExport;
  window: ExtractWindow;
  spoolDir: string;
  hashKey: () => string;
  extractedAt?: Date;
  onProgress?: (progress: ExtractProgress) => void | Promise<void>;
}

export interface ExtractResult {
  /** null when the window had no rows: nothing to upload or load. */
  manifest: SpoolManifest | null;
  rows: number;
  /** Rows put in quarantine (included in `rows`): the load moves them to `_lsa_quarantine`. */
  quarantined: number;
  queries: number;
  /** Rows still open (see `openWhileNull`): they are read again, by key, by a later reopen window. */
  openRows: OpenRow[];
}

export interface OpenRow {
  key: number;
  cursorMs: number;
}

export function spoolFilePath(
  spoolDir: string,
  instanceId: string,
  exportName: string,
  window: ExtractWindow,
) {
  return join(spoolDir, instanceId, exportName, `${windowId(window)}.ndjson.gz`);
}

export async function extractWindow(request: ExtractRequest): Promise<ExtractResult> {
  const { instance, window } = request;
  const definition = request.export.definition;
  const context = `${instance.id}/${definition.name} ${describeWindow(window)}`;
  const extractedAt = request.extractedAt ?? new Date();
  const converter = rowConverter(
    request.export,
    {
      instanceId: instance.id,
      extractedAt,
      hashKey: request.hashKey,
      timezone: instance.timezone,
      apiUserId: definition.ownQueryUserField ? await request.client.apiUserId() : undefined,
    },
    rowPicks(definition),
  );
  const file = spoolFilePath(request.spoolDir, instance.id, definition.name, window);
  const writer = await SpoolWriter.open(file);
  const run = new ExtractRun(request, converter, writer);
  try {
    await run.extract();
  } catch (error) {
    await writer.abort();
    throw addContext(error, context);
  }
  if (writer.rowCount === 0) {
    await writer.abort();
    return { manifest: null, rows: 0, quarantined: 0, queries: run.queries, openRows: run.openRows };
  }
  const summary = await writer.finish();
  return {
    rows: summary.rows,
    quarantined: run.quarantined,
    queries: run.queries,
    openRows: run.openRows,
    manifest: {
      instanceId: instance.id,
      exportName: definition.name,
      window,
      file: summary.file,
      rows: summary.rows,
      bytes: summary.bytes,
      sha256: summary.sha256,
      uncompressedBytes: summary.uncompressedBytes,
      columns: converter.columns,
      quarantined: run.quarantined,
      extractedAt: extractedAt.toISOString(),
      cursorRange: run.cursorRange ?? null,
    },
  };
}

/** Prefixes an error's message with the instance, export and window, keeping its class (retryable or not). */
function addContext(error: unknown, context: string): Error {
  if (error instanceof JsonRowsError) {
    const message = `${context}: ${error.message}`;
    // A body cut off mid-stream is transient (retry); a complete body with invalid JSON is bad data (do not).
    return error.truncated ? new Error(message) : new NonRetryableError(message);
  }
  if (error instanceof Error) {
    if (!error.message.startsWith(context)) error.message = `${context}: ${error.message}`;
    return error;
  }
  return new Error(`${context}: ${String(error)}`);
}

type Page = { filters: Record<string, string>; sorts: string[] };

/** Where the values the extract reads from a row are in `RowLine.picked` (see `rowPicks`). */
const PICKED_KEY = 0;
const PICKED_LOOKER_ERROR = 1;
const PICKED_CURSOR = 2;
const PICKED_OPEN = 3;

/** The fields whose values come with each row's line: key, Looker's error field, cursor, open field (an export
 * without a cursor or an open field asks for its key again in that place, and never reads it). */
function rowPicks(definition: ResolvedExport['definition']): string[] {
  const cursor = definition.mode.kind === 'incremental' ? definition.mode.cursor : definition.key;
  return [definition.key, 'looker_error', cursor, definition.openWhileNull ?? definition.key];
}

interface PageOutcome {
  rows: number;
  /** The last key seen (key paging). */
  lastKey: unknown;
}

/** Rows within one window: the cursor's UTC instant must fall in [startMs, endMs). */
interface CursorBounds {
  startMs: number;
  endMs: number;
}

/** The Looker queries of one export on one instance: bodies, window filters in the system zone, row counts. */
class WindowQueries {
  readonly key: string;
  readonly cursor: string | undefined;
  readonly zone: string;

  constructor(
    private readonly definition: ResolvedExport['definition'],
    readonly pageSize: number,
    zone: string,
  ) {
    this.key = definition.key;
    this.cursor = definition.mode.kind === 'incremental' ? definition.mode.cursor : undefined;
    this.zone = zone;
  }

  /** The filters that select a window's rows, or undefined for a window of nothing. */
  windowFilters(window: ExtractWindow): Record<string, string> {
    if (window.kind === 'reopen') return { [this.key]: window.keys.join(',') };
    // A snapshot, and the initial load of everything (horizon "all"), read without a cursor filter, so rows
    // whose cursor is null come too, as in the original design's first run.
    if (window.kind === 'snapshot' || this.cursor === undefined || window.startMs === null) return {};
    return this.rangeFilter(window.startMs, window.endMs);
  }

  /** The cursor filter for [startMs, endMs) in the system zone, widened by a DST change inside the range. */
  rangeFilter(startMs: number, endMs: number): Record<string, string> {
    const widen = Math.abs(zoneOffsetMs(endMs, this.zone) - zoneOffsetMs(startMs, this.zone));
    const from = lookerDateTime(startMs - widen, this.zone);
    const to = lookerDateTime(endMs + widen, this.zone);
    return { [this.cursor!]: `${from} to ${to}` };
  }

  body(fields: string[], filters: Record<string, string>, sorts: string[], limit: number): IWriteQuery {
    return {
      model: this.definition.model,
      view: this.definition.explore,
      fields,
      // A null key is never loadable (the dashboard explore's base view is layout components, for one): keys
      // are number fields, on which Looker honours NOT NULL. A page filter on the key replaces it.
      filters: { [this.key]: 'NOT NULL', ...this.definition.filters, ...filters },
      sorts,
      limit: String(limit),
      // System Activity times stay in the system zone whatever this says; it is set for the other fields.
      query_timezone: this.zone,
    };
  }

  /** The rows `filters` selects, by the key view's count measure. */
  async count(client: LookerClient, filters: Record<string, string>): Promise<number> {
    const measure = this.definition.countMeasure ?? `${this.key.split('.')[0]}.count`;
    let counted: number | undefined;
    const reader = new JsonArrayRowReader();
    await client.streamQuery(this.body([measure], filters, [], 1), async (chunk) => {
      reader.push(chunk, (json) => {
        const row = parseRow(json, reader.rows - 1);
        if ('looker_error' in row) {
          // A query error may pass (a database timeout): retryable, like a page's. The hint covers the other cause.
          throw new Error(
            `Looker reported a query error: ${String(row.looker_error)} (counting the window's rows with ${measure}; if the explore has no such measure, set the instance's rowCountCheck: false)`,
          );
        }
        counted = Number(row[measure] ?? 0);
      });
    });
    reader.finish();
    return counted ?? 0;
  }
}

/** How many rows a window holds in Looker now (one count query): what `lsa plan --count` shows. */
export async function countWindowRows(
  client: LookerClient,
  instance: InstanceConfig,
  resolved: ResolvedExport,
  window: ExtractWindow,
): Promise<number> {
  const queries = new WindowQueries(resolved.definition, resolved.settings.pageSize, instance.timezone);
  return queries.count(client, queries.windowFilters(window));
}

class ExtractRun {
  queries = 0;
  quarantined = 0;
  readonly openRows: OpenRow[] = [];
  /** The cursor range of the good rows written: undefined before the first, null once one had no cursor. */
  cursorRange: CursorRange | null | undefined;
  /** Rows Looker returned that were kept (written, quarantined, or skipped as another window's). */
  private rowsSeen = 0;
  private readonly definition;
  private readonly lookerQueries: WindowQueries;
  private readonly key: string;
  private readonly cursor: string | undefined;
  private readonly pageSize: number;
  private readonly zone: string;

  constructor(
    private readonly request: ExtractRequest,
    private readonly converter: RowConverter,
    private readonly writer: SpoolWriter,
  ) {
    this.definition = request.export.definition;
    this.lookerQueries = new WindowQueries(
      this.definition,
      request.export.settings.pageSize,
      request.instance.timezone,
    );
    this.key = this.lookerQueries.key;
    this.cursor = this.lookerQueries.cursor;
    this.pageSize = this.lookerQueries.pageSize;
    this.zone = this.lookerQueries.zone;
  }

  async extract(): Promise<void> {
    const { window } = this.request;
    if (window.kind === 'reopen' && window.keys.length === 0) return;
    const filters = this.lookerQueries.windowFilters(window);
    if (window.kind === 'range' && window.startMs !== null && this.cursor !== undefined) {
      const bounds = { startMs: window.startMs, endMs: window.endMs };
      return this.counted(filters, () => this.extractRange(bounds));
    }
    return this.counted(filters, (f) => this.pageByKey(f, undefined));
  }

  /**
   * Counts the rows of `filters` first (when the instance checks counts), then reads them: fewer rows read than
   * counted means a page was capped below its limit, which a configured row cap above the real one causes.
   * Counting first means rows that arrive in between only make the read larger, never a false alarm.
   */
  private async counted(
    filters: Record<string, string>,
    read: (filters: Record<string, string>) => Promise<void>,
  ): Promise<void> {
    const expected = this.request.instance.rowCountCheck ? await this.count(filters) : undefined;
    await read(filters);
    await this.reportProgress();
    if (expected !== undefined && this.rowsSeen < expected) {
      throw new Error(
        `Looker counted ${expected} rows but returned ${this.rowsSeen} with pages of ${this.pageSize}: a page was cut short, which a row cap below the configured rowCap (${this.request.instance.rowCap}) does; set the instance's rowCap and the page size to Looker's real cap (lsa doctor measures it). Rows deleted in Looker meanwhile (event pruning) also cause this; the retry will tell.`,
      );
    }
  }

  private async count(filters: Record<string, string>): Promise<number> {
    this.queries++;
    return this.lookerQueries.count(this.request.client, filters);
  }

  private rangeFilter(startMs: number, endMs: number): Record<string, string> {
    return this.lookerQueries.rangeFilter(startMs, endMs);
  }

  private lastCursor: unknown;
  private lastCursorMs = Number.NaN;

  /** The UTC instant of a row's cursor value (rows come sorted by cursor: the last one is remembered). */
  private cursorMs(value: unknown): number {
    if (value === this.lastCursor && typeof value === 'string') return this.lastCursorMs;
    const ms = typeof value === 'string' ? wallTimeToUtcMs(value, this.zone) : Number.NaN;
    if (Number.isNaN(ms)) {
      throw new NonRetryableError(
        `the cursor ${this.cursor} of a row in the window is ${JSON.stringify(value)}`,
      );
    }
    this.lastCursor = value;
    this.lastCursorMs = ms;
    return ms;
  }

  private async extractRange(bounds: CursorBounds): Promise<void> {
    const cursor = this.cursor!;
    let from = bounds.startMs;
    while (from < bounds.endMs) {
      // Rows of the newest second seen so far are held back: if the page turns out full, that second may be
      // incomplete and is read again by the next page.
      let heldSecond: string | undefined;
      let held: RowLine[] = [];
      let secondsSeen = 0;
      const page = await this.runPage(
        { filters: this.rangeFilter(from, bounds.endMs), sorts: [cursor, this.key] },
        (row) => {
          const second = row.picked[PICKED_CURSOR];
          if (typeof second !== 'string') this.cursorMs(second);
          if (second !== heldSecond) {
            const release = held;
            heldSecond = second as string;
            held = [row];
            secondsSeen++;
            return release;
          }
          held.push(row);
          return undefined;
        },
        bounds,
      );
      if (page.rows < this.pageSize) {
        await this.writeRows(held, bounds);
        return;
      }
      const lastSecondMs = wallTimeToUtcMs(heldSecond!, this.zone);
      if (secondsSeen === 1 || lastSecondMs <= from) {
        // One second fills a whole page (or, in a repeated DST hour, the page's last second maps before its
        // first): page through what is left by key, then the window is done.
        const rest =
          secondsSeen === 1
            ? this.rangeFilter(lastSecondMs, lastSecondMs + 1000)
            : this.rangeFilter(from, bounds.endMs);
        await this.pageByKey(rest, bounds);
        from = secondsSeen === 1 ? lastSecondMs + 1000 : bounds.endMs;
      } else {
        from = lastSecondMs;
      }
      await this.reportProgress();
    }
  }

  /** Pages through `filters` by key: `key > last`, sorted by key, until a page comes back short. */
  private async pageByKey(filters: Record<string, string>, bounds: CursorBounds | undefined): Promise<void> {
    let last: number | undefined;
    for (;;) {
      const pageFilters = last === undefined ? filters : { ...filters, [this.key]: `>${last}` };
      const page = await this.runPage({ filters: pageFilters, sorts: [this.key] }, (row) => [row], bounds);
      await this.reportProgress();
      if (page.rows < this.pageSize) return;
      const lastKey = page.lastKey;
      if (typeof lastKey !== 'number' || (last !== undefined && lastKey <= last)) {
        throw new NonRetryableError(
          `cannot page by key ${this.key}: the last row of a full page has key ${JSON.stringify(lastKey)}`,
        );
      }
      last = lastKey;
    }
  }

  /**
   * Runs one query and streams its rows: `accept` sees each row and returns the rows to write now (or nothing
   * to hold them back).
   */
  private async runPage(
    page: Page,
    accept: (row: RowLine) => RowLine[] | undefined,
    bounds: CursorBounds | undefined,
  ): Promise<PageOutcome> {
    const body = this.lookerQueries.body(this.converter.queryFields, page.filters, page.sorts, this.pageSize);
    const reader = new JsonArrayRowReader();
    let lastKey: unknown;
    this.queries++;
    await this.request.client.streamQuery(body, async (chunk) => {
      // Each released row is written as it is converted, so its RowLine dies young (V8's young generation stays
      // small); the writer keeps lines in order without waiting, and gzip's back-pressure is awaited per chunk.
      const waits: Promise<void>[] = [];
      try {
        const take = (row: RowLine) => {
          const lookerError = row.picked[PICKED_LOOKER_ERROR];
          if (lookerError !== undefined) {
            throw new Error(`Looker reported a query error: ${String(lookerError)}`);
          }
          lastKey = row.picked[PICKED_KEY];
          const release = accept(row);
          if (release) {
            for (const r of release) {
              const wait = this.writeRow(r, bounds);
              if (wait) waits.push(wait);
            }
          }
        };
        reader.pushBytes(
          chunk,
          (bytes, start, end) => take(this.converter.fromBytes(bytes, start, end, reader.rows - 1)),
          // The common row is found and converted in one pass; any other comes whole to fromBytes.
          (bytes, start, limit) => {
            const found = this.converter.rowAt(bytes, start, limit);
            if (!found) return -1;
            take(found.line);
            return found.end;
          },
        );
      } catch (error) {
        for (const wait of waits) wait.catch(() => undefined); // the error that stopped the page is the one told
        throw error;
      }
      if (waits.length > 0) await Promise.all(waits);
    });
    reader.finish();
    return { rows: reader.rows, lastKey };
  }

  private async writeRows(rows: RowLine[], bounds: CursorBounds | undefined): Promise<void> {
    for (const row of rows) {
      const wait = this.writeRow(row, bounds);
      if (wait) await wait;
    }
  }

  /**
   * Writes a row whose cursor falls in the window: a good row as its line, a bad one as its quarantine line.
   * A promise only when the writer asks to wait (gzip's back-pressure): most rows cost none.
   */
  private writeRow(row: RowLine, bounds: CursorBounds | undefined): Promise<void> | undefined {
    const openField = this.definition.openWhileNull;
    this.rowsSeen++;
    let cursorMs: number | undefined;
    if (bounds) {
      cursorMs = this.cursorMs(row.picked[PICKED_CURSOR]);
      if (cursorMs < bounds.startMs || cursorMs >= bounds.endMs) return undefined;
    }
    if (row.badReason !== undefined) this.quarantined++;
    else this.widenCursorRange(row.picked[PICKED_CURSOR], cursorMs);
    const key = row.picked[PICKED_KEY];
    if (openField && row.picked[PICKED_OPEN] === null && typeof key === 'number') {
      const cursor = row.picked[PICKED_CURSOR];
      cursorMs ??= this.cursor && typeof cursor === 'string' ? this.cursorMs(cursor) : 0;
      this.openRows.push({ key, cursorMs });
    }
    return this.writer.writeLineBytes(row.bytes, row.start, row.end);
  }

  /** A good row's cursor joins the range; a good row without one (or an export without a cursor) voids it. */
  private widenCursorRange(cursor: unknown, knownMs: number | undefined): void {
    if (this.cursorRange === null) return;
    if (this.cursor === undefined || typeof cursor !== 'string') {
      this.cursorRange = null;
      return;
    }
    const ms = knownMs ?? this.cursorMs(cursor);
    if (this.cursorRange === undefined) this.cursorRange = { minMs: ms, maxMs: ms };
    else if (ms < this.cursorRange.minMs) this.cursorRange.minMs = ms;
    else if (ms > this.cursorRange.maxMs) this.cursorRange.maxMs = ms;
  }

  private async reportProgress(): Promise<void> {
    await this.request.onProgress?.({ rows: this.writer.rowCount, queries: this.queries });
  }
}
