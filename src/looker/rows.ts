import type { ResolvedExport } from '../config/model.ts';
import { bytePath } from './row-bytes.ts';
import { LineBuffer, type RowLine } from './row-line-buffer.ts';
import { objectPath } from './row-object.ts';
import { onePass } from './row-one-pass.ts';
import { compileExport, type RowContext } from './row-plan.ts';
import { type ConvertedRow, textPath } from './row-text.ts';

export type { RowLine } from './row-line-buffer.ts';
export type { RowContext } from './row-plan.ts';
export type { ConvertedRow } from './row-text.ts';
export { BadRowError } from './row-values.ts';

// Turns one Looker JSON row into one NDJSON line for BigQuery: registry column names, BigQuery types, masking
// applied, times moved from the instance's system time zone to UTC. A value that cannot be converted losslessly
// makes the row bad (BadRowError names the column and the value): nothing is guessed. A bad row does not fail
// its window: it becomes a quarantine line (the raw row, masked, and the reason), which the load puts in the
// `_lsa_quarantine` table instead of the export's, so one bad row never blocks an export. Fields Looker adds
// beyond the ones we asked for (LookML `required_fields`) are ignored: we never promised them a column.
//
// Four paths to the same line, each in its own module, all reading one compiled export (row-plan.ts: the column
// plans, built once per converter):
// - the object path (row-object.ts), `toLine` on a parsed row (JSON.parse): the reference, and the way for any
//   row that is unusual or bad;
// - the text path (row-text.ts), `fromJson` on the row's JSON text: for the common row it never builds an object,
//   copying the value text BigQuery takes as it is; anything else goes to the object path. Its lines parse to
//   what `toLine`'s parse to (test/unit/rows-from-json.test.ts);
// - the byte path (row-bytes.ts), `fromBytes` on the row's bytes, for the extract: a printable ASCII row in any
//   order (FlatRowBytes) never becomes a string; its line is written as bytes into buffers handed on to the spool
//   as they are (row-line-buffer.ts). Any other row is decoded and goes to the text path;
// - the one pass (row-one-pass.ts), `rowAt`, the byte path before the row's end is known, for the common row
//   (the fields asked in order, no escapes, valid UTF-8). Any other row comes whole to `fromBytes`.
// The byte paths' lines are `fromJson`'s, byte for byte (test/unit/rows-from-bytes.test.ts).

export interface RowConverter {
  /** The Looker fields to ask for (dropped fields are never requested). */
  queryFields: string[];
  /** BigQuery column names, in file order. */
  columns: string[];
  /** One NDJSON line (without newline) for a Looker row; throws BadRowError for a row BigQuery cannot take. */
  toLine(row: Record<string, unknown>): string;
  /** The line that puts a bad row in quarantine: the row as Looker sent it, masked, and why it is bad. */
  quarantineLine(row: Record<string, unknown>, reason: string): string;
  /**
   * The line of one row's JSON text (as JsonArrayRowReader hands it; `index` counts from 0 for error messages),
   * its quarantine line if it is bad, and the values of the `pick` fields. Throws JsonRowsError for invalid JSON.
   */
  fromJson(json: string, index: number): ConvertedRow;
  /** `fromJson` on the row's bytes `bytes[start, end)` (valid only during the call): its line, newline included. */
  fromBytes(bytes: Buffer, start: number, end: number, index: number): RowLine;
  /**
   * The common row whose `{` is at `bytes[start]`, found and turned into its line in one pass (the fields asked,
   * in order, no escapes, valid UTF-8, values BigQuery takes): its line and where the row ends (after `}`), or undefined
   * for any other row (or one that runs past `limit`), which then goes to `fromBytes` once its end is known.
   */
  rowAt(bytes: Buffer, start: number, limit: number): { line: RowLine; end: number } | undefined;
}

/**
 * `pick`: Looker fields whose values `fromJson` hands back with each line (the extract's cursor, key and open
 * field), so the caller needs no parsed row either.
 */
export function rowConverter(
  resolved: ResolvedExport,
  context: RowContext,
  pick: readonly string[] = [],
): RowConverter {
  const compiled = compileExport(resolved, context, pick);
  const object = objectPath(compiled);
  const fromJson = textPath(compiled, object);
  // The byte paths write into the same buffers: a line starts where the last one, whichever path wrote it, ended.
  const lines = new LineBuffer();
  const pass = onePass(compiled, lines);
  return {
    queryFields: compiled.queryFields,
    columns: compiled.columns,
    toLine: object.toLine,
    quarantineLine: object.quarantineLine,
    fromJson,
    fromBytes: bytePath(compiled, lines, pass, fromJson),
    rowAt: pass.rowAt,
  };
}
