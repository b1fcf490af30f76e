import { invalid } from './errors.ts';

// Identifier rules from the REST reference (DatasetReference, TableReference, JobReference).

export interface TableReference {
  projectId: string;
  datasetId: string;
  tableId: string;
}

const DATASET_ID = /^[A-Za-z0-9_]{1,1024}$/;
const TABLE_ID = /^[\p{L}\p{M}\p{N}\p{Pc}\p{Pd}\p{Zs}]{1,1024}$/u;
const JOB_ID = /^[A-Za-z0-9_-]{1,1024}$/;

export function checkDatasetId(datasetId: unknown): string {
  if (typeof datasetId !== 'string' || !DATASET_ID.test(datasetId)) {
    throw invalid(
      `Invalid dataset ID "${String(datasetId)}". Dataset IDs must be alphanumeric (plus underscores) and must be at most 1024 characters long.`,
    );
  }
  return datasetId;
}

export function checkTableId(tableId: unknown): string {
  if (typeof tableId !== 'string' || !TABLE_ID.test(tableId)) {
    throw invalid(
      `Invalid table ID "${String(tableId)}". Table IDs must be alphanumeric (plus underscores) and must be at most 1024 characters long. Also, Table decorators cannot be used.`,
    );
  }
  return tableId;
}

export function checkJobId(jobId: unknown): string {
  if (typeof jobId !== 'string' || !JOB_ID.test(jobId)) {
    throw invalid(
      `Invalid job ID "${String(jobId)}". Job IDs must be alphanumeric (plus underscores and dashes) and must be at most 1024 characters long.`,
    );
  }
  return jobId;
}

/** `t$20240101` → `{tableId: 't', decorator: '20240101'}`. */
export function splitPartitionDecorator(tableId: string): { tableId: string; decorator?: string } {
  const dollar = tableId.indexOf('$');
  if (dollar < 0) return { tableId };
  return { tableId: tableId.slice(0, dollar), decorator: tableId.slice(dollar + 1) };
}

export function tableLabel(ref: TableReference): string {
  return `${ref.projectId}:${ref.datasetId}.${ref.tableId}`;
}
