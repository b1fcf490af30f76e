// The two names every layer carries (config, job payloads, Redis keys, GCS paths, BigQuery rows): declared once,
// so a value the config accepts is a value every job schema accepts, and the other way round.

/** A Looker instance id: DNS-label shaped, safe in job ids, Redis keys, object names and BigQuery job ids. */
export const INSTANCE_ID_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** An export name: also a BigQuery table name, so letters, digits and underscores. */
export const EXPORT_NAME_PATTERN = /^[a-z][a-z0-9_]{0,62}$/;
