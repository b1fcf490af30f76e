import { join } from 'node:path';
import type { IWriteQuery } from '@looker/sdk';
import type { InstanceConfig, ResolvedExport } from '../config/model.ts';
import { NonRetryableError } from '../errors.ts';
import type { SpoolManifest } from '../spool/manifest.ts';
import { SpoolWriter } from '../spool/writer.ts';
import { describeWindow, type ExtractWindow, windowId } from '../window.ts';
import type { LookerClient } from './client.ts';
import { lookerDateTime } from './datetime.ts';
import { JsonArrayRowReader, JsonRowsError, parseRow } from './json-rows.ts';
import { type RowConverter, rowConverter } from './rows.ts';

// Extracts one window of one export from one instance into one NDJSON.gz spool file, streaming: rows go to
// the spool as they arrive, so memory stays flat whatever the size of a page or a window.
//
// Never a silent truncation: Looker caps rows per query, so a page that comes back with as many rows as its
// limit is never taken as complete. Pages are sorted by cursor then key; when a page is full, the rows of its
// last cursor second are dropped (they may continue on the next page) and the window continues from that
// second: the window is split at the last complete second. A second that alone fills a page, an open-start
// range and a snapshot are paged by key instead (`key > last`, sorted by key). Every row is written once.

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
  queries: number;
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
  const converter = rowConverter(request.export, {
    instanceId: instance.id,
    extractedAt,
    hashKey: request.hashKey,
  });
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
    return { manifest: null, rows: 0, queries: run.queries };
  }
  const summary = await writer.finish();
  return {
    rows: summary.rows,
    queries: run.queries,
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
      extractedAt: extractedAt.toISOString(),
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

interface PageOutcome {
  rows: number;
  /** The last key seen (key paging). */
  lastKey: unknown;
}

const parseLookerDateTime = (text: string) => Date.parse(`${text.replace(' ', 'T')}Z`);

class ExtractRun {
  queries = 0;
  private readonly definition;
  private readonly key: string;
  private readonly cursor: string | undefined;
  private readonly pageSize: number;

  constructor(
    private readonly request: ExtractRequest,
    private readonly converter: RowConverter,
    private readonly writer: SpoolWriter,
  ) {
    this.definition = request.export.definition;
    this.key = this.definition.key;
    this.cursor = this.definition.mode.kind === 'incremental' ? this.definition.mode.cursor : undefined;
    this.pageSize = request.export.settings.pageSize;
  }

  async extract(): Promise<void> {
    const { window } = this.request;
    // A snapshot, and the initial load of everything (horizon "all"), read without a cursor filter, so rows
    // whose cursor is null come too, as in the original design's first run.
    if (window.kind === 'snapshot' || this.cursor === undefined || window.startMs === null) {
      return this.pageByKey({});
    }
    return this.extractRange(window.startMs, window.endMs);
  }

  private rangeFilter(startMs: number, endMs: number): Record<string, string> {
    return { [this.cursor!]: `${lookerDateTime(startMs)} to ${lookerDateTime(endMs)}` };
  }

  private async extractRange(startMs: number, endMs: number): Promise<void> {
    const cursor = this.cursor!;
    let from = startMs;
    while (from < endMs) {
      // Rows of the newest second seen so far are held back: if the page turns out full, that second may be
      // incomplete and is read again by the next page.
      let heldSecond: string | undefined;
      let held: string[] = [];
      let secondsSeen = 0;
      const page = await this.runPage(
        { filters: this.rangeFilter(from, endMs), sorts: [cursor, this.key] },
        (row, line) => {
          const second = row[cursor];
          if (typeof second !== 'string') {
            throw new NonRetryableError(
              `the cursor ${cursor} of a row in the window is ${JSON.stringify(second)}`,
            );
          }
          if (second !== heldSecond) {
            const release = held;
            heldSecond = second;
            held = [line];
            secondsSeen++;
            return release;
          }
          held.push(line);
          return undefined;
        },
      );
      if (page.rows < this.pageSize) {
        await this.writeLines(held);
        return this.reportProgress();
      }
      const lastSecondMs = parseLookerDateTime(heldSecond!);
      if (secondsSeen === 1) {
        // One second fills a whole page: page through that second by key, then move past it.
        await this.pageByKey(this.rangeFilter(lastSecondMs, lastSecondMs + 1000));
        from = lastSecondMs + 1000;
      } else {
        from = lastSecondMs;
      }
      await this.reportProgress();
    }
  }

  /** Pages through `filters` by key: `key > last`, sorted by key, until a page comes back short. */
  private async pageByKey(filters: Record<string, string>): Promise<void> {
    let last: number | undefined;
    for (;;) {
      const pageFilters = last === undefined ? filters : { ...filters, [this.key]: `>${last}` };
      const page = await this.runPage({ filters: pageFilters, sorts: [this.key] }, (_row, line) => [line]);
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
   * Runs one query and streams its rows: `accept` sees each row with its NDJSON line and returns the lines to
   * write now (or nothing to hold them back).
   */
  private async runPage(
    page: Page,
    accept: (row: Record<string, unknown>, line: string) => string[] | undefined,
  ): Promise<PageOutcome> {
    const body: IWriteQuery = {
      model: this.definition.model,
      view: this.definition.explore,
      fields: this.converter.queryFields,
      filters: { ...this.definition.filters, ...page.filters },
      sorts: page.sorts,
      limit: String(this.pageSize),
      query_timezone: 'UTC',
    };
    const reader = new JsonArrayRowReader();
    let lastKey: unknown;
    this.queries++;
    await this.request.client.streamQuery(body, async (chunk) => {
      const ready: string[] = [];
      reader.push(chunk, (json) => {
        const row = parseRow(json, reader.rows - 1);
        if ('looker_error' in row) {
          throw new Error(`Looker reported a query error: ${String(row.looker_error)}`);
        }
        lastKey = row[this.key];
        const release = accept(row, this.converter.toLine(row));
        if (release) for (const line of release) ready.push(line);
      });
      await this.writeLines(ready);
    });
    reader.finish();
    return { rows: reader.rows, lastKey };
  }

  private async writeLines(lines: string[]): Promise<void> {
    for (const line of lines) await this.writer.writeLine(line);
  }

  private async reportProgress(): Promise<void> {
    await this.request.onProgress?.({ rows: this.writer.rowCount, queries: this.queries });
  }
}
