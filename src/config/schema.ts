import { CronExpressionParser } from 'cron-parser';
import { z } from 'zod';
import { SYSTEM_ACTIVITY_EDITIONS } from '../exports/freshness.ts';
import { LOAD_STRATEGIES } from '../exports/types.ts';
import { EXPORT_NAME_PATTERN, INSTANCE_ID_PATTERN } from '../names.ts';
import { SETTING_DESCRIPTIONS } from './descriptions.ts';
import { DURATION, parseDuration } from './duration.ts';
import { describeValue } from './errors.ts';
import { isClusterUrl } from './model.ts';
import { parseSecretReference, SECRET_REFERENCE } from './secrets.ts';

// The YAML config, as operators write it. Every refinement's message names the offending value; secrets are
// validated as references only, so no message ever echoes one. Each default is declared once, on its setting: a
// section left out is parsed from `{}` (`prefault`), so its settings' own defaults apply.

const LOOKER_FIELD_TYPES = ['number', 'string', 'yesno', 'date_time', 'date_date', 'tier'] as const;
const BIGQUERY_TYPES = ['STRING', 'INTEGER', 'FLOAT', 'BOOLEAN', 'TIMESTAMP', 'DATETIME', 'DATE'] as const;
const MASKING_RULES = ['hash', 'redact', 'drop', 'keep'] as const;

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}

function isValidCron(pattern: string): boolean {
  try {
    CronExpressionParser.parse(pattern, { tz: 'UTC' });
    return pattern.trim().split(/\s+/).length >= 5;
  } catch {
    return false;
  }
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

const duration = z
  .string()
  .refine((text) => parseDuration(text) !== undefined, {
    error: (issue) => `${describeValue(issue.input)} is not a duration like 30s, 10m, 6h or 90d`,
  })
  .meta({ pattern: DURATION.source });

const httpUrl = z.string().refine(isHttpUrl, {
  error: (issue) => `${describeValue(issue.input)} is not an http(s) URL`,
});

/** A secret: only `${ENV_VAR}` is accepted, and the message never repeats what was written. */
const secret = z
  .string()
  .refine((text) => parseSecretReference(text) !== undefined, {
    error: () =>
      'must be an environment reference like ${MY_SECRET}; secrets are never written into the config file',
  })
  .meta({ pattern: SECRET_REFERENCE.source });

const cron = z.string().refine(isValidCron, {
  error: (issue) =>
    `${describeValue(issue.input)} is not a valid cron pattern (5 or 6 fields, e.g. "0 * * * *")`,
});

const timeZone = z.string().refine(isTimeZone, {
  error: (issue) => `${describeValue(issue.input)} is not an IANA time zone`,
});

/** A name with a fixed shape: the pattern is checked here and published in the JSON Schema for editors. */
const identifier = (what: string, pattern: RegExp, rule: string) =>
  z.string().regex(pattern, {
    error: (issue) => `${describeValue(issue.input)} is not a valid ${what} (${rule})`,
  });

const instanceId = identifier(
  'instance id',
  INSTANCE_ID_PATTERN,
  'lowercase letters, digits and dashes, at most 63 characters, starting and ending with a letter or digit',
);
const exportName = identifier('export name', EXPORT_NAME_PATTERN, 'lowercase letters, digits and _');
const lookerField = identifier(
  'Looker field name',
  /^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$/,
  'like "history.id"',
);
const columnName = identifier(
  'BigQuery column name',
  /^[A-Za-z_][A-Za-z0-9_]{0,299}$/,
  'letters, digits and _, not starting with a digit',
);

/** Per-export settings: in `defaults` for every export, or under `exports.<name>` for one. */
const exportSettingsShape = {
  window: duration.optional(),
  lookback: duration.optional(),
  lag: duration.optional(),
  horizon: z.union([z.literal('all'), duration]).optional(),
  pageSize: z.int().min(10).max(1_000_000).optional(),
  loadStrategy: z.enum(LOAD_STRATEGIES).optional(),
};

const customField = z.strictObject({
  field: lookerField,
  type: z.enum(LOOKER_FIELD_TYPES),
  column: columnName.optional(),
  bigqueryType: z.enum(BIGQUERY_TYPES).optional(),
});

/** An `exports.<name>` entry: settings for a built-in export, or a whole custom export. */
const exportEntry = z.strictObject({
  ...exportSettingsShape,
  description: z.string().optional(),
  model: z.string().min(1).optional(),
  explore: z.string().min(1).optional(),
  fields: z.array(customField).min(1).optional(),
  key: lookerField.optional(),
  cursor: lookerField.optional(),
  filters: z.record(z.string(), z.string()).optional(),
});

const instance = z.strictObject({
  id: instanceId,
  baseUrl: httpUrl,
  clientId: secret,
  clientSecret: secret,
  exports: z.array(z.string()).min(1).optional(),
  maxConcurrentQueries: z.int().min(1).max(50).default(2),
  queryTimeout: duration.default('10m'),
  /** Elite System Activity refreshes most tables every 10 min; standard caches everything for 12 h. */
  systemActivity: z.enum(SYSTEM_ACTIVITY_EDITIONS).default('elite'),
  /** The most rows Looker returns for one query (its default 5000, or the admin's row cap): silent above. */
  rowCap: z.int().min(10).max(1_000_000).default(5000),
  /** The instance's system time zone: System Activity times are in it (UTC on Looker-hosted instances). */
  timezone: timeZone.default('UTC'),
  /** Count each window's rows with a measure query and refuse a window that came back short (a lower cap). */
  rowCountCheck: z.boolean().default(true),
  schedule: z.strictObject({ cron }).optional(),
  /** Looker's monthly allowance of query-based API calls (Standard 1,000, Enterprise 100,000, Embed 500,000). */
  apiBudget: z.strictObject({ queriesPerMonth: z.int().min(1) }).optional(),
});

export const configSchema = z.strictObject({
  redis: z
    .strictObject({
      /** `redis+cluster://host:port` (or `rediss+cluster://`): any node, or the discovery endpoint, of a Redis Cluster. */
      url: z
        .string()
        .refine((text) => /^rediss?(\+cluster)?:\/\//.test(text), {
          error: (issue) =>
            `${describeValue(issue.input)} is not a redis:// or rediss:// URL (a Redis Cluster: redis+cluster:// or rediss+cluster://)`,
        })
        .refine((text) => !/^rediss?\+cluster:\/\/[^/]*\/0*[1-9]/.test(text), {
          error: () => 'selects a database other than 0, the only one a Redis Cluster has',
        }),
      prefix: z.string().min(1).default('{lsa}'),
    })
    // On a cluster, BullMQ's scripts and ours touch several keys at once: they must all hash to one slot.
    .refine((redis) => !isClusterUrl(redis.url) || /^\{[^{}]+\}/.test(redis.prefix), {
      path: ['prefix'],
      error: (issue) =>
        `${describeValue((issue.input as { prefix?: unknown }).prefix)} is not a hash tag like "{lsa}", which a Redis Cluster needs so that every key of the pipeline lives in one slot`,
    }),
  schedule: z
    .strictObject({ cron: cron.default('0 * * * *'), timezone: timeZone.default('UTC') })
    .prefault({}),
  spool: z.strictObject({ dir: z.string().min(1).default('./.lsa/spool') }).prefault({}),
  gcs: z.strictObject({
    bucket: identifier(
      'bucket name',
      /^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/,
      'lowercase letters, digits, -, _ and .',
    ),
    prefix: z.string().default('looker-activity'),
    projectId: z.string().min(1).optional(),
    apiEndpoint: httpUrl.optional(),
  }),
  bigquery: z.strictObject({
    projectId: z.string().min(1),
    dataset: identifier('dataset id', /^[A-Za-z0-9_]{1,1024}$/, 'letters, digits and _'),
    location: z.string().min(1).default('US'),
    apiEndpoint: httpUrl.optional(),
  }),
  masking: z
    .strictObject({
      hashKey: secret.optional(),
      rules: z.record(z.string(), z.enum(MASKING_RULES)).default({}),
    })
    .prefault({}),
  defaults: z.strictObject(exportSettingsShape).default({}),
  exports: z.record(z.string(), exportEntry).default({}),
  instances: z.array(instance).min(1, { error: 'at least one Looker instance is required' }),
  workers: z
    .strictObject({
      extractConcurrency: z.int().min(1).max(64).default(4),
      uploadConcurrency: z.int().min(1).max(64).default(4),
      loadConcurrency: z.int().min(1).max(64).default(2),
      shutdownGrace: duration.default('30s'),
      /** A job's lock; a worker killed mid-job is noticed after at most lockDuration + stalledInterval. */
      lockDuration: duration.default('30s'),
      stalledInterval: duration.default('30s'),
      heartbeat: duration.default('5s'),
      /** A node silent this long is presumed dead; its pending uploads are extracted again elsewhere. */
      deadNodeAfter: duration.default('60s'),
      /** Base delay of the retry backoff (exponential, with jitter; scaled per queue in the job catalog). */
      backoff: duration.default('5s'),
      /** Optional: a small HTTP server answering /healthz for container health checks of worker processes. */
      healthPort: z.int().min(1).max(65535).optional(),
    })
    .prefault({}),
  /** Where operators hear about trouble: a Slack-compatible incoming webhook (JSON `{ text, blocks }`). */
  notify: z
    .strictObject({
      webhook: httpUrl,
      /** An export whose last load is older than this is reported stale (once, until it loads again). */
      staleAfter: duration.default('3h'),
      /** How often the scheduler role looks for stale exports. */
      checkInterval: duration.default('1m'),
    })
    .optional(),
  /** Loads: windows of one target table ready close together share one load job and one MERGE. */
  load: z
    .strictObject({
      batch: z
        .strictObject({
          /**
           * The longest a batch stays open: it waits for the windows its table's fan-out planned and closes when
           * the last one joins, or at maxWait (a window still extracting, or retrying, then loads in the next).
           */
          maxWait: duration.default('5m'),
          /** With no planned window still expected, a batch closes once no window joined it for this long. */
          quiet: duration.default('2s'),
          /** 1 loads every window alone (one load job and one MERGE per window). At most 10,000 objects a job. */
          maxWindows: z.int().min(1).max(10_000).default(500),
          /** Gzipped bytes of a batch's objects: `500MB`, `10GB`, `1TB` (or a number of bytes). */
          maxBytes: z
            .union([z.int().min(1), z.string().regex(/^\d+(\.\d+)?\s*(B|KB|MB|GB|TB)$/i)])
            .default('10GB'),
        })
        .prefault({}),
    })
    .prefault({}),
  dashboard: z
    .strictObject({ host: z.string().default('0.0.0.0'), port: z.int().min(0).max(65535).default(3000) })
    .prefault({}),
});

export type RawConfig = z.output<typeof configSchema>;
export type RawExportEntry = z.output<typeof exportEntry>;

export { exportName };

/** Paths whose values are secrets: they keep their `${VAR}` text and are resolved only at use. */
export function isSecretPath(path: (string | number)[]): boolean {
  const last = path[path.length - 1];
  if (path[0] === 'instances' && (last === 'clientId' || last === 'clientSecret') && path.length === 3)
    return true;
  return path.length === 2 && path[0] === 'masking' && last === 'hashKey';
}

type JsonSchemaNode = {
  properties?: Record<string, JsonSchemaNode>;
  items?: JsonSchemaNode;
  additionalProperties?: JsonSchemaNode | boolean;
  anyOf?: JsonSchemaNode[];
  description?: string;
};

/** Adds each setting's description (descriptions.ts) to its node, walking properties, items and map values. */
function describe(node: JsonSchemaNode, path: string): void {
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    const childPath = path ? `${path}.${key}` : key;
    const description = SETTING_DESCRIPTIONS[childPath];
    if (description) child.description = description;
    describe(child, childPath);
  }
  if (node.items) describe(node.items, `${path}[]`);
  if (node.additionalProperties && typeof node.additionalProperties === 'object') {
    describe(node.additionalProperties, `${path}.*`);
  }
  for (const option of node.anyOf ?? []) describe(option, path);
}

/** The config's JSON Schema, draft-07 (what YAML and JSON editors read), with a description per setting. */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema, {
    io: 'input',
    target: 'draft-7',
    unrepresentable: 'any',
  }) as Record<string, unknown> & JsonSchemaNode;
  describe(schema, '');
  return { ...schema, title: 'looker-activity-pipeline config (lsa.yaml)' };
}

/** Setting paths the schema has (`[]` array items, `*` map values): each must have a description. */
export function settingPaths(): string[] {
  const paths: string[] = [];
  const walk = (node: JsonSchemaNode, path: string) => {
    for (const [key, child] of Object.entries(node.properties ?? {})) {
      const childPath = path ? `${path}.${key}` : key;
      paths.push(childPath);
      walk(child, childPath);
    }
    if (node.items) walk(node.items, `${path}[]`);
    if (node.additionalProperties && typeof node.additionalProperties === 'object') {
      walk(node.additionalProperties, `${path}.*`);
    }
    for (const option of node.anyOf ?? []) walk(option, path);
  };
  walk(
    z.toJSONSchema(configSchema, {
      io: 'input',
      target: 'draft-7',
      unrepresentable: 'any',
    }) as JsonSchemaNode,
    '',
  );
  return paths;
}
