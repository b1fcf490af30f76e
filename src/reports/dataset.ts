// Where the report views live: the pipeline's BigQuery project and dataset. Both are spliced into SQL text
// (view DDL cannot take query parameters), so they are checked against BigQuery's naming rules first.

export interface ReportDataset {
  projectId: string;
  dataset: string;
}

// Project ids: letters, digits, hyphens; domain-scoped ids (`example.com:project`) add dots and one colon.
const PROJECT_ID = /^[A-Za-z0-9][A-Za-z0-9.:-]{0,126}[A-Za-z0-9]$/;
const DATASET_ID = /^[A-Za-z0-9_]{1,1024}$/;

export function checkReportDataset(target: ReportDataset): ReportDataset {
  if (!PROJECT_ID.test(target.projectId)) {
    throw new Error(`bigquery.projectId "${target.projectId}" is not a valid BigQuery project id`);
  }
  if (!DATASET_ID.test(target.dataset)) {
    throw new Error(`bigquery.dataset "${target.dataset}" is not a valid dataset id (letters, digits and _)`);
  }
  return target;
}

/** `project.dataset.name` quoted for GoogleSQL. */
export function qualifiedName(target: ReportDataset, name: string): string {
  return `\`${target.projectId}.${target.dataset}.${name}\``;
}

export function renderTemplate(template: string, target: ReportDataset): string {
  const { projectId, dataset } = checkReportDataset(target);
  return template.replaceAll('{{project}}', projectId).replaceAll('{{dataset}}', dataset);
}
