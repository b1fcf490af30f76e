// The vocabulary of an export: one System Activity dataset we extract from Looker and load into BigQuery.

/** Looker dimension types we read (`GET /lookml_models/.../explores/...` → `fields.dimensions[].type`). */
export type LookerFieldType = 'number' | 'string' | 'yesno' | 'date_time' | 'date_date' | 'tier';

/** BigQuery column types we write. */
export type BigQueryType = 'STRING' | 'INTEGER' | 'FLOAT' | 'BOOLEAN' | 'TIMESTAMP' | 'DATETIME' | 'DATE';

export type MaskingRule = 'hash' | 'redact' | 'drop' | 'keep';

export interface ExportField {
  /** Looker field name, `view.field`. */
  field: string;
  /** BigQuery column name. */
  column: string;
  lookerType: LookerFieldType;
  bigqueryType: BigQueryType;
}

export type ExportMode =
  /** Closed UTC windows on a cursor field, from a watermark. */
  | { kind: 'incremental'; cursor: string }
  /** The whole explore every run. */
  | { kind: 'snapshot' };

export interface ExportDefinition {
  name: string;
  description: string;
  /** Explore name in the `system__activity` model (the `view` of a WriteQuery). */
  explore: string;
  model: string;
  fields: ExportField[];
  /** Looker field of the natural key (a number dimension: it is also how full pages are paged). */
  key: string;
  mode: ExportMode;
  /** Default masking per Looker field; config rules override it. */
  masking: Record<string, MaskingRule>;
  /** Static filters added to every query of this export (Looker filter expressions). */
  filters: Record<string, string>;
}

export const LOAD_STRATEGIES = ['merge', 'append'] as const;
export type LoadStrategy = (typeof LOAD_STRATEGIES)[number];
