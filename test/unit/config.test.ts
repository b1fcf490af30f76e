import { describe, expect, it } from 'vitest';
import { SETTING_DESCRIPTIONS } from '../../src/config/descriptions.ts';
import { ConfigError } from '../../src/config/errors.ts';
import { parseConfigText } from '../../src/config/load.ts';
import { configJsonSchema, settingPaths } from '../../src/config/schema.ts';

const ENV = {
  LOOKER_A_ID: 'id-a',
  LOOKER_A_SECRET: 'secret-a',
  LSA_HASH_KEY: 'hash-key-value',
  REDIS_URL: 'redis://127.0.0.1:6379',
};

const VALID = `
redis: { url: "\${REDIS_URL}" }
gcs: { bucket: my-bucket }
bigquery: { projectId: my-project, dataset: looker_activity }
masking: { hashKey: "\${LSA_HASH_KEY}" }
instances:
  - id: prod-eu
    baseUrl: https://prod-eu.looker.com/
    clientId: "\${LOOKER_A_ID}"
    clientSecret: "\${LOOKER_A_SECRET}"
`;

function problemsOf(yaml: string, env: NodeJS.ProcessEnv = ENV): string[] {
  try {
    parseConfigText(yaml, 'lsa.yaml', { env });
  } catch (error) {
    if (error instanceof ConfigError)
      return error.message
        .split('\n')
        .slice(1)
        .map((l) => l.replace(/^ {2}- /, ''));
    throw error;
  }
  return [];
}

/** Replaces one line of the valid config (matched by its start) with another. */
function withLine(match: string, replacement: string): string {
  const lines = VALID.split('\n');
  const index = lines.findIndex((l) => l.trim().startsWith(match));
  if (index < 0) throw new Error(`no line starts with ${match}`);
  lines[index] = replacement;
  return lines.join('\n');
}

describe('config', () => {
  it('loads a valid config with defaults, every built-in export, and secrets kept as references', () => {
    const config = parseConfigText(VALID, 'lsa.yaml', { env: ENV });
    expect(config.redis).toEqual({ url: 'redis://127.0.0.1:6379', prefix: '{lsa}' });
    expect(config.schedule).toEqual({ cron: '0 * * * *', timezone: 'UTC' });
    const instance = config.instances[0]!;
    expect(instance.baseUrl).toBe('https://prod-eu.looker.com');
    expect(instance.maxConcurrentQueries).toBe(2);
    expect(instance.exports.map((e) => e.definition.name)).toHaveLength(10);
    expect(instance.clientSecret.resolve(ENV)).toBe('secret-a');
    // the secret value never appears in the resolved config, whatever serialises it
    expect(JSON.stringify(config)).not.toContain('secret-a');
    expect(JSON.stringify(config)).toContain('${LOOKER_A_SECRET}');
    const history = instance.exports.find((e) => e.definition.name === 'history')!;
    expect(history.masking['user.email']).toBe('hash');
    expect(history.settings.horizon).toBe(90 * 86_400_000);
    const contentUsage = instance.exports.find((e) => e.definition.name === 'content_usage')!;
    expect(contentUsage.settings.horizon).toBe('all');
    expect(Object.isFrozen(config.instances)).toBe(true);
  });

  it("derives look-back and lag from each table's refresh cadence and edition, unless config sets them", () => {
    const config = parseConfigText(
      `${VALID}  - id: standard-one
    baseUrl: https://std.looker.com
    clientId: "\${LOOKER_A_ID}"
    clientSecret: "\${LOOKER_A_SECRET}"
    systemActivity: standard
    rowCap: 1000
    timezone: America/New_York
exports:
  event: { lookback: 3h }
`,
      'lsa.yaml',
      { env: ENV },
    );
    const settings = (instance: number, name: string) =>
      config.instances[instance]!.exports.find((e) => e.definition.name === name)!.settings;
    const HOUR = 3_600_000;
    // Elite: history every 10 min, user hourly, content_usage daily; each re-read one refresh plus an hour.
    expect(settings(0, 'history')).toMatchObject({ lookbackMs: HOUR + 10 * 60_000, lagMs: 5 * 60_000 });
    expect(settings(0, 'user').lookbackMs).toBe(2 * HOUR);
    expect(settings(0, 'content_usage')).toMatchObject({ lookbackMs: 25 * HOUR, horizon: 'all' });
    expect(settings(0, 'history').pageSize).toBe(5000);
    // Standard: cached 12 h; an explicit look-back wins; the page size follows a lower row cap.
    expect(settings(1, 'history').lookbackMs).toBe(13 * HOUR);
    expect(settings(1, 'scheduled_job').lookbackMs).toBe(25 * HOUR);
    expect(settings(1, 'event').lookbackMs).toBe(3 * HOUR);
    expect(settings(1, 'history').pageSize).toBe(1000);
    expect(config.instances[1]).toMatchObject({
      systemActivity: 'standard',
      rowCap: 1000,
      timezone: 'America/New_York',
    });
    expect(config.instances[0]).toMatchObject({ systemActivity: 'elite', rowCap: 5000, timezone: 'UTC' });
  });

  it('accepts a custom export and per-export overrides', () => {
    const config = parseConfigText(
      `${VALID}
    exports: [history, recent_queries]
    maxConcurrentQueries: 3
    rowCap: 20000
exports:
  history: { window: 6h, lookback: 1h, lag: 0s, pageSize: 20000 }
  recent_queries:
    explore: history
    fields:
      - { field: history.id, type: number }
      - { field: history.created_time, type: date_time }
      - { field: query.model, type: string }
    key: history.id
    cursor: history.created_time
`,
      'lsa.yaml',
      { env: ENV },
    );
    const [history, custom] = config.instances[0]!.exports;
    expect(history!.settings).toMatchObject({
      windowMs: 6 * 3_600_000,
      lookbackMs: 3_600_000,
      lagMs: 0,
      pageSize: 20000,
    });
    expect(custom!.definition.fields.map((f) => f.column)).toEqual(['id', 'created_time', 'query_model']);
    expect(custom!.definition.mode).toEqual({ kind: 'incremental', cursor: 'history.created_time' });
    expect(config.instances[0]!.maxConcurrentQueries).toBe(3);
  });

  const BAD: [string, string, string][] = [
    [
      'a page size above the row cap',
      `${VALID}    rowCap: 3000\ndefaults: { pageSize: 4000 }\n`,
      'instances[0].rowCap: 3000 is below the page size 4000 (defaults.pageSize)',
    ],
    [
      'an unknown System Activity edition',
      `${VALID}    systemActivity: premium\n`,
      'instances[0].systemActivity: "premium" is not one of "elite", "standard"',
    ],
    [
      'a bad instance time zone',
      `${VALID}    timezone: Mars/Olympus\n`,
      'instances[0].timezone: "Mars/Olympus" is not an IANA time zone',
    ],
    [
      'a base URL without a scheme',
      withLine('baseUrl', '    baseUrl: prod.looker.com'),
      'instances[0].baseUrl: "prod.looker.com" is not an http(s) URL',
    ],
    [
      'a literal client secret',
      withLine('clientSecret', '    clientSecret: hunter2'),
      'instances[0].clientSecret: must be an environment reference',
    ],
    [
      'an unset secret variable',
      withLine('clientSecret', '    clientSecret: "${NOT_SET_ANYWHERE}"'),
      'instances[0].clientSecret: environment variable NOT_SET_ANYWHERE is not set',
    ],
    [
      'an unset variable in a plain value',
      withLine('redis', 'redis: { url: "${NO_SUCH_REDIS}" }'),
      'redis.url: environment variable NO_SUCH_REDIS is not set',
    ],
    [
      'a non-redis URL',
      withLine('redis', 'redis: { url: "http://localhost:6379" }'),
      'redis.url: "http://localhost:6379" is not a redis:// or rediss:// URL',
    ],
    [
      'a bad cron',
      `${VALID}schedule: { cron: "61 * * * *" }\n`,
      'schedule.cron: "61 * * * *" is not a valid cron pattern',
    ],
    [
      'a bad time zone',
      `${VALID}schedule: { timezone: Mars/Olympus }\n`,
      'schedule.timezone: "Mars/Olympus" is not an IANA time zone',
    ],
    ['an unknown top-level key', `${VALID}scheduler: {}\n`, 'scheduler: is not a known setting'],
    [
      'an instance id with a colon',
      withLine('- id:', '  - id: "prod:eu"'),
      'instances[0].id: "prod:eu" is not a valid instance id',
    ],
    [
      'an unknown export',
      `${VALID}    exports: [history, histroy]\n`,
      'instances[0].exports[1]: "histroy" is not an export',
    ],
    [
      'a duration without a unit',
      `${VALID}defaults: { window: "6" }\n`,
      'defaults.window: "6" is not a duration like 30s, 10m, 6h or 90d',
    ],
    [
      'a zero concurrency cap',
      `${VALID}    maxConcurrentQueries: 0\n`,
      'instances[0].maxConcurrentQueries: 0:',
    ],
    [
      'a string where a number goes',
      `${VALID}    maxConcurrentQueries: two\n`,
      'instances[0].maxConcurrentQueries: expected a number, got "two"',
    ],
    ['a missing bucket', withLine('gcs:', 'gcs: { prefix: x }'), 'gcs.bucket: is required'],
    [
      'a bad dataset id',
      withLine('bigquery:', 'bigquery: { projectId: p, dataset: "looker-activity" }'),
      'bigquery.dataset: "looker-activity" is not a valid dataset id',
    ],
    ['no instances', VALID.split('instances:')[0]!.concat('instances: []\n'), 'instances: '],
    [
      'a masking rule on an unknown field',
      VALID.replace(
        'masking: { hashKey: "${LSA_HASH_KEY}" }',
        'masking: { hashKey: "${LSA_HASH_KEY}", rules: { user.emial: hash } }',
      ),
      'masking.rules["user.emial"]: no export selects this field',
    ],
    [
      'hashing a number field',
      `${VALID}`.replace(
        'masking: { hashKey: "${LSA_HASH_KEY}" }',
        'masking: { hashKey: "${LSA_HASH_KEY}", rules: { history.user_id: hash } }',
      ),
      'masking.rules["history.user_id"]: cannot hash "history.user_id": only string fields',
    ],
    [
      'masking a key',
      VALID.replace(
        'masking: { hashKey: "${LSA_HASH_KEY}" }',
        'masking: { hashKey: "${LSA_HASH_KEY}", rules: { history.id: drop } }',
      ),
      'masking.rules["history.id"]: cannot drop "history.id": it is the key or cursor of export "history"',
    ],
    [
      'hashing without a key',
      VALID.replace('masking: { hashKey: "${LSA_HASH_KEY}" }', ''),
      'masking.hashKey: is required because user.email is hashed',
    ],
    [
      'duplicate instance ids',
      `${VALID}  - id: prod-eu\n    baseUrl: https://b.looker.com\n    clientId: "\${LOOKER_A_ID}"\n    clientSecret: "\${LOOKER_A_SECRET}"\n`,
      'instances[1].id: "prod-eu" is also the id of instances[0]',
    ],
    [
      'a custom export without fields',
      `${VALID}exports:\n  my_export: { explore: history, key: history.id }\n`,
      'exports.my_export: "my_export" is not a built-in export',
    ],
    [
      'a custom export whose key is not a field',
      `${VALID}exports:\n  my_export:\n    explore: history\n    key: history.id\n    fields: [{ field: history.created_time, type: date_time }]\n`,
      'exports.my_export.key: "history.id" is not one of this export\'s fields',
    ],
    [
      'a custom export with a string cursor',
      `${VALID}exports:\n  my_export:\n    explore: history\n    key: history.id\n    cursor: history.status\n    fields: [{ field: history.id, type: number }, { field: history.status, type: string }]\n`,
      'exports.my_export.cursor: "history.status" must be a date_time field',
    ],
    [
      'a custom field with a bad type',
      `${VALID}exports:\n  my_export:\n    explore: history\n    key: history.id\n    fields: [{ field: history.id, type: integer }]\n`,
      'exports.my_export.fields[0].type: "integer" is not one of "number"',
    ],
    [
      'setting fields on a built-in export',
      `${VALID}exports:\n  history: { explore: other }\n`,
      'exports.history.explore: "history" is a built-in export',
    ],
    ['invalid YAML', 'redis: [unclosed', 'is not valid YAML'],
  ];

  it.each(BAD)('rejects %s with a message naming the path and value', (_what, yaml, expected) => {
    const problems = problemsOf(yaml);
    expect(problems.join('\n')).toContain(expected);
  });

  it('reports every problem at once, never a stack trace', () => {
    const yaml = withLine('baseUrl', '    baseUrl: prod.looker.com').replace(
      'bucket: my-bucket',
      'bucket: X',
    );
    const problems = problemsOf(yaml);
    expect(problems.length).toBeGreaterThanOrEqual(2);
    expect(problems.join('\n')).not.toMatch(/\bat .*\.ts:\d+/);
  });

  it('reports schema errors and cross-field errors in one round', () => {
    // a bad cron (schema) and a page size above the row cap (cross-field), a masking rule on an unknown field
    const yaml = `${VALID}    rowCap: 3000
schedule: { cron: "every hour" }
defaults: { pageSize: 4000 }
`.replace(
      'masking: { hashKey: "${LSA_HASH_KEY}" }',
      'masking: { hashKey: "${LSA_HASH_KEY}", rules: { user.nickname: drop } }',
    );
    const problems = problemsOf(yaml);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^schedule\.cron: "every hour" is not a valid cron pattern/),
        expect.stringMatching(
          /^instances\[0\]\.rowCap: 3000 is below the page size 4000 \(defaults\.pageSize\)/,
        ),
        'masking.rules["user.nickname"]: no export selects this field',
      ]),
    );
  });

  it('never echoes a literal secret in an error', () => {
    const problems = problemsOf(withLine('clientSecret', '    clientSecret: sup3r-s3cret-value'));
    expect(problems.join('\n')).not.toContain('sup3r-s3cret-value');
  });

  it('can skip the environment check for secrets (config validate --skip-env)', () => {
    expect(() =>
      parseConfigText(VALID, 'lsa.yaml', { env: { REDIS_URL: 'redis://x:1' }, requireSecrets: false }),
    ).not.toThrow();
  });

  it('prints a JSON Schema describing the top-level settings', () => {
    const schema = configJsonSchema() as { properties: Record<string, unknown>; required: string[] };
    expect(Object.keys(schema.properties)).toEqual(
      expect.arrayContaining(['redis', 'gcs', 'bigquery', 'instances', 'masking']),
    );
    expect(schema.required).toEqual(expect.arrayContaining(['redis', 'gcs', 'bigquery', 'instances']));
  });

  it('is draft-07 for editors, describes every setting and publishes the patterns of names and durations', () => {
    const schema = configJsonSchema() as Record<string, unknown> & {
      properties: Record<string, { properties: Record<string, { pattern?: string; description?: string }> }>;
    };
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    const undocumented = settingPaths().filter((path) => !SETTING_DESCRIPTIONS[path]);
    expect(undocumented).toEqual([]);
    const instance = (
      schema.properties.instances as unknown as {
        items: { properties: Record<string, { pattern?: string; description?: string }> };
      }
    ).items.properties;
    expect(new RegExp(instance.id!.pattern!).test('prod-eu')).toBe(true);
    expect(new RegExp(instance.id!.pattern!).test('Prod:EU')).toBe(false);
    expect(new RegExp(instance.clientSecret!.pattern!).test('${LOOKER_SECRET}')).toBe(true);
    expect(new RegExp(instance.clientSecret!.pattern!).test('hunter2')).toBe(false);
    expect(new RegExp(instance.queryTimeout!.pattern!).test('10m')).toBe(true);
    expect(instance.rowCap!.description).toMatch(/cap/);
  });
});
