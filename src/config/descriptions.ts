// What each setting means, for the JSON Schema editors read (`lsa config schema`): hover text and completion.
// Keyed by the setting's path (`[]` an array item, `*` any key of a map). A test checks that every setting of the
// schema has its line here, so a new setting cannot ship undocumented.

export const SETTING_DESCRIPTIONS: Record<string, string> = {
  redis: 'The Redis that holds the queues and the pipeline state.',
  'redis.url':
    'redis://, rediss:// (TLS), or redis+cluster:// / rediss+cluster:// for a Redis Cluster; usually "${REDIS_URL}".',
  'redis.prefix':
    'Every key lives under this prefix; a hash tag like {lsa} keeps them in one Redis Cluster slot.',
  schedule: 'When the fan-out runs for instances without a schedule of their own.',
  'schedule.cron': 'Cron pattern (5 or 6 fields), e.g. "0 * * * *" for hourly.',
  'schedule.timezone': 'IANA time zone the cron pattern is read in.',
  spool: 'Local staging of extracted NDJSON.gz files, per node.',
  'spool.dir': 'Folder for spool files; each node keeps its own subfolder.',
  gcs: 'Cloud Storage, where windows are staged before BigQuery loads them.',
  'gcs.bucket': 'Bucket name (the service account needs roles/storage.objectAdmin on it).',
  'gcs.prefix': 'Object name prefix inside the bucket.',
  'gcs.projectId': 'Project of the bucket, when not the credentials’ own.',
  'gcs.apiEndpoint': 'Another Cloud Storage endpoint (the local emulator); unset for Google Cloud.',
  bigquery: 'The BigQuery dataset the exports load into.',
  'bigquery.projectId': 'Project of the dataset.',
  'bigquery.dataset': 'Dataset id (created when missing).',
  'bigquery.location': 'Location of the dataset and its jobs.',
  'bigquery.apiEndpoint': 'Another BigQuery endpoint (the local emulator); unset for Google Cloud.',
  masking: 'Personal data masked before it leaves the worker.',
  'masking.hashKey': 'HMAC key for `hash` rules, as an environment reference like "${LSA_HASH_KEY}".',
  'masking.rules': 'Per Looker field (e.g. user.email): hash, redact, drop or keep.',
  defaults: 'Settings every export gets unless exports.<name> says otherwise.',
  exports: 'Per built-in export: its settings; or a custom export (explore, fields, key, cursor).',
  'exports.*.description': 'Custom export: what it holds.',
  'exports.*.model': 'Custom export: LookML model (default system__activity).',
  'exports.*.explore': 'Custom export: the explore to query.',
  'exports.*.fields': 'Custom export: the fields to select, with their Looker type.',
  'exports.*.fields[].field': 'Looker field name, like history.id.',
  'exports.*.fields[].type': 'Looker type of the field.',
  'exports.*.fields[].column':
    'BigQuery column name (default: the field name, prefixed by its view when joined).',
  'exports.*.fields[].bigqueryType': 'BigQuery type (default follows the Looker type).',
  'exports.*.key': 'Custom export: the number field that identifies a row (MERGE key).',
  'exports.*.cursor': 'Custom export: the date_time field windows are cut on; without one it is a snapshot.',
  'exports.*.filters': 'Custom export: Looker filter expressions added to every query.',
  instances: 'The Looker instances to export from.',
  'instances[].id': 'Short id (lowercase letters, digits, dashes): in every row, key, job and object name.',
  'instances[].baseUrl': 'The instance’s API URL, e.g. https://mycompany.looker.com.',
  'instances[].clientId': 'API client id, as an environment reference like "${LOOKER_PROD_CLIENT_ID}".',
  'instances[].clientSecret':
    'API client secret, as an environment reference like "${LOOKER_PROD_CLIENT_SECRET}".',
  'instances[].exports': 'The exports of this instance (default: all).',
  'instances[].maxConcurrentQueries':
    'At most this many extracts run on the instance at once, across all workers.',
  'instances[].queryTimeout': 'A Looker query taking longer is aborted and retried.',
  'instances[].systemActivity':
    'elite: tables refresh every 10 min / 1 h / 24 h; standard: cached 12 h. Sets the default look-back.',
  'instances[].rowCap': 'The most rows Looker returns for one query (its default 5000, or the admin’s cap).',
  'instances[].timezone':
    'The instance’s system time zone, which System Activity times are in (UTC when hosted).',
  'instances[].rowCountCheck':
    'Count each window’s rows first; a window read short (a lower cap) then fails.',
  'instances[].schedule': 'A schedule of this instance’s own, instead of the global one.',
  'instances[].schedule.cron': 'Cron pattern for this instance.',
  'instances[].apiBudget':
    'Keep the month’s Looker query calls within a budget (Standard: 1,000; Enterprise: 100,000).',
  'instances[].apiBudget.queriesPerMonth':
    'Query-based API calls the pipeline may make in a calendar month (UTC).',
  workers: 'Worker processes: concurrency, liveness, retries.',
  'workers.extractConcurrency': 'Extract jobs per worker process.',
  'workers.uploadConcurrency': 'Upload jobs per worker process.',
  'workers.loadConcurrency': 'Load jobs per worker process.',
  'workers.shutdownGrace': 'On SIGTERM, how long running jobs may finish before they are handed back.',
  'workers.lockDuration':
    'A job’s lock: a killed worker’s job is picked up after at most this plus stalledInterval.',
  'workers.stalledInterval': 'How often workers look for jobs whose worker died.',
  'workers.heartbeat': 'How often a node says it is alive.',
  'workers.deadNodeAfter':
    'A node silent this long is presumed dead; its pending windows are extracted again.',
  'workers.backoff': 'Base delay of the exponential retry backoff (with jitter; scaled per queue).',
  'workers.healthPort': 'Optional: a worker process answers GET /healthz on this port.',
  notify: 'Where operators hear about trouble.',
  'notify.webhook': 'A Slack-compatible incoming webhook URL.',
  'notify.staleAfter': 'An export not loaded for this long is reported stale (once, until it loads again).',
  'notify.checkInterval': 'How often the scheduler looks for stale exports.',
  load: 'Loading into BigQuery.',
  'load.batch': 'Windows of one table ready close together share one load job and one MERGE.',
  'load.batch.maxWait':
    'The longest a batch stays open waiting for the windows its table’s fan-out planned (it closes when the last one joins).',
  'load.batch.quiet':
    'With no planned window still expected, a batch closes once no window joined it for this long.',
  'load.batch.maxWindows': 'Windows per batch; 1 loads every window alone.',
  'load.batch.maxBytes': 'Gzipped bytes of a batch’s objects: 500MB, 10GB, 1TB, or a number of bytes.',
  dashboard: 'Bull Board, status page, reports, health and metrics.',
  'dashboard.host': 'Address to listen on (credentials are required beyond loopback).',
  'dashboard.port': 'Port to listen on.',
};

/** Per-export settings, the same under `defaults` and `exports.<name>`. */
const EXPORT_SETTINGS: Record<string, string> = {
  window: 'Size of one extract window, cut on UTC multiples: 1d, 6h, 30m.',
  lookback: 'Re-read this much behind the watermark (default: the table’s refresh interval plus an hour).',
  lag: 'Stop this far before now (clock skew between Looker and the workers; default 5m).',
  horizon: 'How far back the first run starts: a duration, or all (everything Looker still holds).',
  pageSize: 'Rows per Looker query; never above the instance’s rowCap.',
  loadStrategy: 'merge (upsert on looker_instance + key, no duplicates) or append (every observation).',
};
for (const [name, text] of Object.entries(EXPORT_SETTINGS)) {
  SETTING_DESCRIPTIONS[`defaults.${name}`] = text;
  SETTING_DESCRIPTIONS[`exports.*.${name}`] = text;
}
