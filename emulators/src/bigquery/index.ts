// The BigQuery REST v2 emulator: datasets, tables, load jobs from the GCS emulator's objects (validated as
// BigQuery validates NDJSON) and query jobs (MERGE included) executed by DuckDB, for @google-cloud/bigquery.

export * from './server.ts';
