import { OWN_QUERY_COLUMN, QUARANTINE_RAW_COLUMN, QUARANTINE_REASON_COLUMN } from '../exports/types.ts';
import { REDACTED, type StringMask } from './masking.ts';
import { type ColumnPlan, type CompiledExport, valueText } from './row-plan.ts';
import { BadRowError } from './row-values.ts';

// The object path of a row converter (rows.ts): a row JSON.parse gave, column by column. The reference every
// other path must agree with, and the one that says why a row is bad and writes its quarantine line.

export interface ObjectPath {
  /** One NDJSON line (without newline) for a Looker row; throws BadRowError for a row BigQuery cannot take. */
  toLine(row: Record<string, unknown>): string;
  /** The line that puts a bad row in quarantine: the row as Looker sent it, masked, and why it is bad. */
  quarantineLine(row: Record<string, unknown>, reason: string): string;
}

export function objectPath(compiled: CompiledExport): ObjectPath {
  const { plans, head, tail, zone, apiUserId, ownQueryField } = compiled;

  /** The JSON text of one column's converted value, or a BadRowError. */
  const columnText = (plan: ColumnPlan, row: Record<string, unknown>): string => {
    if (plan.dropped) return 'null';
    const raw = row[plan.field.field];
    if (raw === undefined) {
      throw new BadRowError(
        plan.field.column,
        `column ${plan.field.column}: Looker's row has no field ${plan.field.field}`,
      );
    }
    if (raw === null) {
      if (plan.isKey) {
        throw new BadRowError(
          plan.field.column,
          `column ${plan.field.column}: the key ${plan.field.field} is null`,
        );
      }
      return 'null';
    }
    return valueText(plan, raw, zone);
  };
  const isOwnQuery = (row: Record<string, unknown>) =>
    apiUserId !== undefined && Number(row[ownQueryField!]) === apiUserId;
  const ownQuery = (row: Record<string, unknown>) => `,"${OWN_QUERY_COLUMN}":${isOwnQuery(row)}`;

  return {
    toLine(row) {
      let line = head;
      for (const plan of plans) line += plan.prefix + columnText(plan, row);
      if (ownQueryField) line += ownQuery(row);
      return line + tail;
    },
    quarantineLine(row, reason) {
      const raw: Record<string, unknown> = {};
      for (const plan of plans) {
        if (plan.dropped || !(plan.field.field in row)) continue;
        const value = row[plan.field.field];
        raw[plan.field.field] = plan.mask && value !== null ? maskAny(plan.mask, value) : value;
      }
      return `${head},"${QUARANTINE_REASON_COLUMN}":${JSON.stringify(reason)},"${QUARANTINE_RAW_COLUMN}":${JSON.stringify(JSON.stringify(raw))}${tail}`;
    },
  };
}

/** A masked field of a bad row: strings masked as usual, anything else (the reason it is bad) redacted. */
function maskAny(mask: StringMask, value: unknown): unknown {
  return typeof value === 'string' ? mask(value) : REDACTED;
}
