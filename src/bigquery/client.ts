import { BigQuery } from '@google-cloud/bigquery';
import { PassThroughClient } from 'google-auth-library';
import type { PipelineConfig } from '../config/model.ts';

// Production: Application Default Credentials. Against the local emulator: an explicit http:// apiEndpoint and
// PassThroughClient. Without it the client looks for credentials, probes the GCE metadata server for seconds
// and then sends unauthenticated requests. BIGQUERY_EMULATOR_HOST is
// deliberately not used.

export function createBigQuery(bigquery: PipelineConfig['bigquery']): BigQuery {
  if (bigquery.apiEndpoint) {
    return new BigQuery({
      apiEndpoint: bigquery.apiEndpoint,
      projectId: bigquery.projectId,
      location: bigquery.location,
      authClient: new PassThroughClient(),
    });
  }
  return new BigQuery({ projectId: bigquery.projectId, location: bigquery.location });
}
