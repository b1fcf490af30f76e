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

/** How often Looker refreshes the export's table (see freshness.ts for the intervals per edition). */
export type RefreshClass = 'frequent' | 'hourly' | 'daily';

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
  refresh: RefreshClass;
  /** The measure that counts the export's rows (row-cap check); default `<key's view>.count`. */
  countMeasure?: string;
  /**
   * A field that is null while the row may still change (a running query's completed_time, a job in progress'
   * finalized_time). Such rows are read again, by key, until it is set, however old their cursor.
   */
  openWhileNull?: string;
  /**
   * The field holding the Looker user who ran the activity: rows of the pipeline's own API user are the
   * pipeline's own queries, flagged in the column `_lsa_own_query` so reports can leave them out.
   */
  ownQueryUserField?: string;
}

/** BigQuery column flagging the pipeline's own extract queries in exports with `ownQueryUserField`. */
export const OWN_QUERY_COLUMN = '_lsa_own_query';

/**
 * A quarantined row's spool line carries only these two (with looker_instance and _extracted_at): why the row
 * could not be loaded, and the row as Looker sent it, masked. The load moves such lines to `_lsa_quarantine`.
 */
export const QUARANTINE_REASON_COLUMN = '_lsa_quarantine_reason';
export const QUARANTINE_RAW_COLUMN = '_lsa_raw';

export const LOAD_STRATEGIES = ['merge', 'append'] as const;
export type LoadStrategy = (typeof LOAD_STRATEGIES)[number];
