import type { BigQuery } from '@google-cloud/bigquery';
import { NonRetryableError } from '../errors.ts';
import { type ColumnSchema, schemaDifferences, type TableSpec } from './schema.ts';

// Creates the dataset and target tables when missing, and refuses to load into a table whose schema disagrees
// with the registry (naming each column that differs) rather than guessing a migration. The one migration made
// is the one BigQuery allows in place: NULLABLE columns missing at the end (e.g. `_deleted_at` on a snapshot
// table created by an earlier version) are appended.

export async function ensureDataset(bigquery: BigQuery, datasetId: string, location: string): Promise<void> {
  const dataset = bigquery.dataset(datasetId);
  const [exists] = await dataset.exists();
  if (exists) return;
  try {
    await dataset.create({ location });
  } catch (error) {
    if ((error as { code?: number }).code !== 409) throw error; // another worker created it first
  }
}

export function schemaFields(columns: ColumnSchema[]) {
  return columns.map((c) => ({ name: c.name, type: c.type, mode: c.mode }));
}

export async function ensureTable(bigquery: BigQuery, datasetId: string, spec: TableSpec): Promise<void> {
  const table = bigquery.dataset(datasetId).table(spec.tableId);
  const [exists] = await table.exists();
  if (!exists) {
    try {
      await table.create({
        schema: { fields: schemaFields(spec.columns) },
        ...(spec.partitionColumn ? { timePartitioning: { type: 'DAY', field: spec.partitionColumn } } : {}),
        clustering: { fields: spec.clustering },
      });
      return;
    } catch (error) {
      if ((error as { code?: number }).code !== 409) throw error;
    }
  }
  const [metadata] = await table.getMetadata();
  const fields = (metadata.schema?.fields ?? []) as { name: string; type?: string; mode?: string }[];
  const missing = appendableColumns(spec.columns, fields);
  if (missing.length > 0) {
    await table.setMetadata({ schema: { fields: [...fields, ...schemaFields(missing)] } });
    fields.push(...schemaFields(missing));
  }
  const problems = schemaDifferences(spec.columns, fields);
  if (problems.length > 0) {
    throw new NonRetryableError(
      `table ${datasetId}.${spec.tableId} does not match the export's schema: ${problems.join('; ')}`,
    );
  }
}

/** Expected NULLABLE columns absent from the table, when every column the table has comes first in order. */
function appendableColumns(expected: ColumnSchema[], actual: { name: string }[]): ColumnSchema[] {
  const prefixMatches = actual.every((c, i) => expected[i]?.name === c.name);
  if (!prefixMatches) return [];
  const missing = expected.slice(actual.length);
  return missing.every((c) => c.mode === 'NULLABLE') ? missing : [];
}
