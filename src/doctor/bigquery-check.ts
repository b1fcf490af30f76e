import { randomUUID } from 'node:crypto';
import type { BigQuery } from '@google-cloud/bigquery';
import type { PipelineConfig } from '../config/model.ts';
import { errorMessage } from '../errors.ts';
import { type Check, fail, pass } from './report.ts';

// BigQuery: what a load needs. The dataset exists (or is created, as a worker would), jobs may run (a dry-run
// query: it costs nothing), tables may be created and dropped (a probe table). Each failure names the role
// that grants the missing permission.

const FIX_DATA_EDITOR = 'grant the service account roles/bigquery.dataEditor on the dataset (or project)';
const FIX_JOB_USER = 'grant the service account roles/bigquery.jobUser on the project';

async function datasetCheck(bigquery: BigQuery, config: PipelineConfig['bigquery']): Promise<Check> {
  const label = `${config.projectId}.${config.dataset}`;
  const dataset = bigquery.dataset(config.dataset);
  try {
    const [exists] = await dataset.exists();
    if (exists) return pass('bigquery', 'dataset', `${label} is reachable`);
  } catch (error) {
    return fail(
      'bigquery',
      'dataset',
      `${label}: could not be read: ${errorMessage(error)}`,
      FIX_DATA_EDITOR,
    );
  }
  try {
    await dataset.create({ location: config.location });
    return pass('bigquery', 'dataset', `${label} did not exist: created it in ${config.location}`);
  } catch (error) {
    if ((error as { code?: number }).code === 409)
      return pass('bigquery', 'dataset', `${label} is reachable`);
    return fail(
      'bigquery',
      'dataset',
      `${label} does not exist and could not be created: ${errorMessage(error)}`,
      `create the dataset ${label} in ${config.location}, or ${FIX_DATA_EDITOR}`,
    );
  }
}

async function jobsCheck(bigquery: BigQuery, config: PipelineConfig['bigquery']): Promise<Check> {
  try {
    await bigquery.createQueryJob({ query: 'SELECT 1 AS probe', dryRun: true, location: config.location });
    return pass('bigquery', 'query jobs', `a dry-run query job in project ${config.projectId} was accepted`);
  } catch (error) {
    return fail('bigquery', 'query jobs', `dry-run query refused: ${errorMessage(error)}`, FIX_JOB_USER);
  }
}

async function tablesCheck(bigquery: BigQuery, config: PipelineConfig['bigquery']): Promise<Check> {
  const tableId = `_lsa_doctor_probe_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const table = bigquery.dataset(config.dataset).table(tableId);
  let step: 'create' | 'delete' = 'create';
  try {
    await table.create({ schema: { fields: [{ name: 'probe', type: 'STRING', mode: 'NULLABLE' }] } });
    step = 'delete';
    await table.delete();
    return pass('bigquery', 'tables', `created and dropped ${config.dataset}.${tableId}`);
  } catch (error) {
    return fail(
      'bigquery',
      'tables',
      `${config.dataset}.${tableId}: ${step} failed: ${errorMessage(error)}`,
      FIX_DATA_EDITOR,
    );
  }
}

export async function checkBigQuery(
  bigquery: BigQuery,
  config: PipelineConfig['bigquery'],
): Promise<Check[]> {
  const dataset = await datasetCheck(bigquery, config);
  const jobs = jobsCheck(bigquery, config);
  if (dataset.status === 'fail') return [dataset, await jobs];
  return [dataset, await jobs, await tablesCheck(bigquery, config)];
}
