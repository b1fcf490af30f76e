import type { BigQuery } from '@google-cloud/bigquery';
import { NonRetryableError } from '../errors.ts';
import { type ColumnSchema, schemaDifferences, type TableSpec } from './schema.ts';

// Creates the dataset and target tables when missing, and refuses to load into a table whose schema disagrees
// with the registry (naming each column that differs) rather than guessing a migration.

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
  const problems = schemaDifferences(spec.columns, fields);
  if (problems.length > 0) {
    throw new NonRetryableError(
      `table ${datasetId}.${spec.tableId} does not match the export's schema: ${problems.join('; ')}`,
    );
  }
}
