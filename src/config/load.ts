import { readFileSync } from 'node:fs';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { z } from 'zod';
import {
  DEFAULT_LAG_MS,
  defaultLookbackMs,
  refreshClassOfExplore,
  type SystemActivityEdition,
} from '../exports/freshness.ts';
import { BUILT_IN_EXPORTS, builtInExport, defaultBigQueryType } from '../exports/registry.ts';
import type { ExportDefinition, MaskingRule } from '../exports/types.ts';
import { parseDuration } from './duration.ts';
import { ConfigError, type ConfigProblem, describeValue } from './errors.ts';
import { interpolateEnv } from './interpolate.ts';
import type { ExportSettings, InstanceConfig, PipelineConfig, ResolvedExport } from './model.ts';
import { configSchema, exportName, isSecretPath, type RawConfig, type RawExportEntry } from './schema.ts';
import { parseSecretReference, type SecretRef } from './secrets.ts';

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** Check that every secret's environment variable is set (true at boot; `config validate --skip-env` turns it off). */
  requireSecrets?: boolean;
}

/**
 * Settings an export gets when config does not set them. `lookback` and `lag` are not here: they follow from the
 * export's refresh cadence on the instance's System Activity edition (exports/freshness.ts).
 */
const BUILT_IN_DEFAULTS = {
  window: '1d',
  horizon: '90d',
  /** Looker's own limit for a query with none; never above the instance's row cap. */
  pageSize: 5000,
} as const;

/** The original design loads every content_usage row on the first run, whatever its age. */
const BUILT_IN_HORIZON: Record<string, 'all'> = { content_usage: 'all' };

export function loadConfigFile(path: string, options: LoadOptions = {}): PipelineConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError(path, [
      {
        path: [],
        message: code === 'ENOENT' ? 'file not found' : `cannot be read (${code ?? String(error)})`,
      },
    ]);
  }
  return parseConfigText(text, path, options);
}

export function parseConfigText(text: string, source: string, options: LoadOptions = {}): PipelineConfig {
  let document: unknown;
  try {
    document = parseYaml(text, { prettyErrors: true });
  } catch (error) {
    const message = error instanceof YAMLParseError ? error.message.split('\n')[0]! : String(error);
    throw new ConfigError(source, [{ path: [], message: `is not valid YAML: ${message}` }]);
  }
  if (document === null || typeof document !== 'object' || Array.isArray(document)) {
    throw new ConfigError(source, [
      { path: [], message: `must be a YAML mapping, got ${describeValue(document)}` },
    ]);
  }
  return parseConfigObject(document, source, options);
}

export function parseConfigObject(
  document: unknown,
  source: string,
  options: LoadOptions = {},
): PipelineConfig {
  const env = options.env ?? process.env;
  const problems: ConfigProblem[] = [];
  const missingVars: { path: (string | number)[]; envVar: string }[] = [];
  const interpolated = interpolateEnv(document, env, isSecretPath, missingVars);
  for (const missing of missingVars) {
    problems.push({ path: missing.path, message: `environment variable ${missing.envVar} is not set` });
  }
  const parsed = configSchema.safeParse(interpolated, { reportInput: true });
  if (!parsed.success) {
    problems.push(...parsed.error.issues.flatMap(describeIssue));
    throw new ConfigError(source, problems);
  }
  const config = resolve(parsed.data, source, problems, options.requireSecrets ?? true, env);
  if (problems.length > 0) throw new ConfigError(source, problems);
  return deepFreeze(config);
}

function describeIssue(issue: z.core.$ZodIssue): ConfigProblem[] {
  const path = issue.path as (string | number)[];
  switch (issue.code) {
    case 'invalid_type':
      return [
        {
          path,
          message:
            issue.input === undefined
              ? 'is required'
              : `expected ${issue.expected === 'int' ? 'a whole number' : `a ${issue.expected}`}, got ${describeValue(issue.input)}`,
        },
      ];
    case 'unrecognized_keys':
      return issue.keys.map((key) => ({ path: [...path, key], message: 'is not a known setting' }));
    case 'invalid_value':
      return [
        {
          path,
          message: `${describeValue(issue.input)} is not one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`,
        },
      ];
    case 'too_small':
    case 'too_big':
      return [{ path, message: `${describeValue(issue.input)}: ${issue.message}` }];
    case 'invalid_union':
      return [{ path, message: `${describeValue(issue.input)} is not valid here` }];
    default:
      return [{ path, message: issue.message }];
  }
}

/** The settings config sets explicitly for an export (from `defaults`, then `exports.<name>`), and where. */
type SettingsOverride = Partial<ExportSettings> & { pageSizeFrom?: string };

function overrideFrom(entry: Partial<RawExportEntry>, at: string): SettingsOverride {
  const override: SettingsOverride = {};
  if (entry.window) override.windowMs = parseDuration(entry.window)!;
  if (entry.lookback) override.lookbackMs = parseDuration(entry.lookback)!;
  if (entry.lag) override.lagMs = parseDuration(entry.lag)!;
  if (entry.horizon) override.horizon = entry.horizon === 'all' ? 'all' : parseDuration(entry.horizon)!;
  if (entry.pageSize !== undefined) {
    override.pageSize = entry.pageSize;
    override.pageSizeFrom = `${at}.pageSize`;
  }
  if (entry.loadStrategy) override.loadStrategy = entry.loadStrategy;
  return override;
}

/** An export's settings on one instance: what config sets, else what its refresh cadence and row cap imply. */
function instanceSettings(
  definition: ExportDefinition,
  override: SettingsOverride,
  instance: { systemActivity: SystemActivityEdition; rowCap: number },
): ExportSettings {
  return {
    windowMs: override.windowMs ?? parseDuration(BUILT_IN_DEFAULTS.window)!,
    lookbackMs: override.lookbackMs ?? defaultLookbackMs(definition, instance.systemActivity),
    lagMs: override.lagMs ?? DEFAULT_LAG_MS,
    horizon:
      override.horizon ?? BUILT_IN_HORIZON[definition.name] ?? parseDuration(BUILT_IN_DEFAULTS.horizon)!,
    pageSize: override.pageSize ?? Math.min(BUILT_IN_DEFAULTS.pageSize, instance.rowCap),
    loadStrategy: override.loadStrategy ?? 'merge',
  };
}

function customExport(
  name: string,
  entry: RawExportEntry,
  problems: ConfigProblem[],
): ExportDefinition | undefined {
  const at = ['exports', name];
  const required = ['explore', 'fields', 'key'] as const;
  const missing = required.filter((key) => entry[key] === undefined);
  if (missing.length > 0) {
    problems.push({
      path: at,
      message: `"${name}" is not a built-in export (${BUILT_IN_EXPORTS.map((e) => e.name).join(', ')}); a custom export needs ${missing.join(', ')}`,
    });
    return undefined;
  }
  const fields = entry.fields!.map((f) => {
    const [view, field] = f.field.split('.') as [string, string];
    return {
      field: f.field,
      column: f.column ?? (view === entry.explore ? field : `${view}_${field}`),
      lookerType: f.type,
      bigqueryType: f.bigqueryType ?? defaultBigQueryType(f.type),
    };
  });
  const before = problems.length;
  const seenFields = new Map<string, number>();
  const seenColumns = new Map<string, number>();
  fields.forEach((f, index) => {
    const firstField = seenFields.get(f.field);
    if (firstField !== undefined) {
      problems.push({
        path: [...at, 'fields', index, 'field'],
        message: `"${f.field}" is also fields[${firstField}]`,
      });
    }
    seenFields.set(f.field, index);
    const firstColumn = seenColumns.get(f.column);
    if (firstColumn !== undefined) {
      problems.push({
        path: [...at, 'fields', index],
        message: `column "${f.column}" is also the column of fields[${firstColumn}]; set a distinct column`,
      });
    }
    seenColumns.set(f.column, index);
  });
  const key = fields.find((f) => f.field === entry.key);
  if (!key)
    problems.push({ path: [...at, 'key'], message: `"${entry.key}" is not one of this export's fields` });
  else if (key.lookerType !== 'number') {
    problems.push({
      path: [...at, 'key'],
      message: `"${entry.key}" must be a number field (it is ${key.lookerType})`,
    });
  }
  if (entry.cursor !== undefined) {
    const cursor = fields.find((f) => f.field === entry.cursor);
    if (!cursor)
      problems.push({
        path: [...at, 'cursor'],
        message: `"${entry.cursor}" is not one of this export's fields`,
      });
    else if (cursor.lookerType !== 'date_time') {
      problems.push({
        path: [...at, 'cursor'],
        message: `"${entry.cursor}" must be a date_time field (it is ${cursor.lookerType})`,
      });
    }
  }
  if (problems.length > before) return undefined;
  return {
    name,
    description: entry.description ?? `Custom export of the ${entry.explore} explore`,
    explore: entry.explore!,
    model: entry.model ?? 'system__activity',
    fields,
    key: entry.key!,
    mode: entry.cursor ? { kind: 'incremental', cursor: entry.cursor } : { kind: 'snapshot' },
    masking: {},
    filters: entry.filters ?? {},
    refresh: refreshClassOfExplore(entry.explore!),
  };
}

const BUILT_IN_SETTING_KEYS = new Set(['window', 'lookback', 'lag', 'horizon', 'pageSize', 'loadStrategy']);

function resolve(
  raw: RawConfig,
  source: string,
  problems: ConfigProblem[],
  requireSecrets: boolean,
  env: NodeJS.ProcessEnv,
): PipelineConfig {
  const globalOverride = overrideFrom(raw.defaults, 'defaults');

  // Every export available to instances: the built-ins, then the custom ones from `exports:`.
  const definitions = new Map<string, ExportDefinition>(BUILT_IN_EXPORTS.map((e) => [e.name, e]));
  const overrides = new Map<string, SettingsOverride>();
  for (const definition of BUILT_IN_EXPORTS) overrides.set(definition.name, globalOverride);
  for (const [name, entry] of Object.entries(raw.exports)) {
    const nameCheck = exportName.safeParse(name);
    if (!nameCheck.success) {
      problems.push({ path: ['exports', name], message: nameCheck.error.issues[0]!.message });
      continue;
    }
    if (builtInExport(name)) {
      const extra = Object.keys(entry).filter(
        (key) => !BUILT_IN_SETTING_KEYS.has(key) && entry[key as keyof RawExportEntry] !== undefined,
      );
      for (const key of extra) {
        problems.push({
          path: ['exports', name, key],
          message: `"${name}" is a built-in export: only ${[...BUILT_IN_SETTING_KEYS].join(', ')} can be set`,
        });
      }
      overrides.set(name, { ...globalOverride, ...overrideFrom(entry, `exports.${name}`) });
      continue;
    }
    const definition = customExport(name, entry, problems);
    if (definition) {
      definitions.set(name, definition);
      overrides.set(name, { ...globalOverride, ...overrideFrom(entry, `exports.${name}`) });
    }
  }

  // Masking: config rules override each export's defaults; a rule must name a field some export selects.
  const configRules = raw.masking.rules;
  const allFields = new Map<string, { lookerType: string; keyOrCursorOf?: string }>();
  for (const definition of definitions.values()) {
    for (const field of definition.fields) {
      const entry = allFields.get(field.field) ?? { lookerType: field.lookerType };
      const cursor = definition.mode.kind === 'incremental' ? definition.mode.cursor : undefined;
      if (field.field === definition.key || field.field === cursor) entry.keyOrCursorOf = definition.name;
      allFields.set(field.field, entry);
    }
  }
  for (const [field, rule] of Object.entries(configRules)) {
    const known = allFields.get(field);
    if (!known) {
      problems.push({ path: ['masking', 'rules', field], message: 'no export selects this field' });
      continue;
    }
    if (rule !== 'keep' && known.keyOrCursorOf) {
      problems.push({
        path: ['masking', 'rules', field],
        message: `cannot ${rule} "${field}": it is the key or cursor of export "${known.keyOrCursorOf}"`,
      });
    }
    if ((rule === 'hash' || rule === 'redact') && known.lookerType !== 'string') {
      problems.push({
        path: ['masking', 'rules', field],
        message: `cannot ${rule} "${field}": only string fields can be hashed or redacted (it is ${known.lookerType}); use drop`,
      });
    }
  }

  const resolveExport = (name: string, instance: RawConfig['instances'][number]): ResolvedExport => {
    const definition = definitions.get(name)!;
    const masking: ResolvedExport['masking'] = {};
    for (const field of definition.fields) {
      const rule: MaskingRule | undefined = configRules[field.field] ?? definition.masking[field.field];
      if (rule && rule !== 'keep') masking[field.field] = rule;
    }
    return { definition, settings: instanceSettings(definition, overrides.get(name)!, instance), masking };
  };

  const secretRef = (text: string): SecretRef => parseSecretReference(text)!;
  const checkSecret = (ref: SecretRef, path: (string | number)[]) => {
    if (requireSecrets && !ref.isSet(env)) {
      problems.push({ path, message: `environment variable ${ref.envVar} is not set` });
    }
  };

  const seenIds = new Map<string, number>();
  const instances: InstanceConfig[] = raw.instances.map((instance, index) => {
    const firstIndex = seenIds.get(instance.id);
    if (firstIndex !== undefined) {
      problems.push({
        path: ['instances', index, 'id'],
        message: `"${instance.id}" is also the id of instances[${firstIndex}]`,
      });
    }
    seenIds.set(instance.id, index);
    const names = instance.exports ?? [...definitions.keys()];
    const exports: ResolvedExport[] = [];
    names.forEach((name, exportIndex) => {
      if (!definitions.has(name)) {
        problems.push({
          path: ['instances', index, 'exports', exportIndex],
          message: `"${name}" is not an export (known: ${[...definitions.keys()].join(', ')})`,
        });
      } else if (exports.some((e) => e.definition.name === name)) {
        problems.push({
          path: ['instances', index, 'exports', exportIndex],
          message: `"${name}" is listed twice`,
        });
      } else {
        exports.push(resolveExport(name, instance));
      }
    });
    // A page larger than the row cap would be capped silently by Looker: refuse it here, naming both.
    const tooLarge = exports.filter((e) => e.settings.pageSize > instance.rowCap);
    if (tooLarge.length > 0) {
      const sources = [...new Set(tooLarge.map((e) => overrides.get(e.definition.name)?.pageSizeFrom))];
      problems.push({
        path: ['instances', index, 'rowCap'],
        message: `${instance.rowCap} is below the page size ${tooLarge[0]!.settings.pageSize} (${sources.join(', ')}) of ${tooLarge.map((e) => e.definition.name).join(', ')}: Looker would cut every page at ${instance.rowCap} rows silently. Set the page size to at most the row cap.`,
      });
    }
    const clientId = secretRef(instance.clientId);
    const clientSecret = secretRef(instance.clientSecret);
    checkSecret(clientId, ['instances', index, 'clientId']);
    checkSecret(clientSecret, ['instances', index, 'clientSecret']);
    return {
      id: instance.id,
      baseUrl: instance.baseUrl.replace(/\/+$/, ''),
      clientId,
      clientSecret,
      exports,
      maxConcurrentQueries: instance.maxConcurrentQueries,
      queryTimeoutMs: parseDuration(instance.queryTimeout)!,
      cron: instance.schedule?.cron,
      systemActivity: instance.systemActivity,
      rowCap: instance.rowCap,
      timezone: instance.timezone,
      rowCountCheck: instance.rowCountCheck,
      ...apiBudgetSetting(instance),
    };
  });

  const hashKey = raw.masking.hashKey ? secretRef(raw.masking.hashKey) : undefined;
  if (hashKey) checkSecret(hashKey, ['masking', 'hashKey']);
  const hashed = new Set<string>();
  for (const instance of instances) {
    for (const e of instance.exports) {
      for (const [field, rule] of Object.entries(e.masking)) if (rule === 'hash') hashed.add(field);
    }
  }
  if (!hashKey && hashed.size > 0) {
    problems.push({
      path: ['masking', 'hashKey'],
      message: `is required because ${[...hashed].join(', ')} ${hashed.size === 1 ? 'is' : 'are'} hashed (set it to \${LSA_HASH_KEY}, or set the rule to keep/drop)`,
    });
  }

  return {
    source,
    redis: raw.redis,
    schedule: raw.schedule,
    spool: raw.spool,
    gcs: {
      bucket: raw.gcs.bucket,
      prefix: raw.gcs.prefix.replace(/^\/+|\/+$/g, ''),
      projectId: raw.gcs.projectId,
      apiEndpoint: raw.gcs.apiEndpoint,
    },
    bigquery: { ...raw.bigquery, apiEndpoint: raw.bigquery.apiEndpoint },
    masking: { hashKey },
    instances,
    workers: {
      extractConcurrency: raw.workers.extractConcurrency,
      uploadConcurrency: raw.workers.uploadConcurrency,
      loadConcurrency: raw.workers.loadConcurrency,
      shutdownGraceMs: parseDuration(raw.workers.shutdownGrace)!,
      lockDurationMs: parseDuration(raw.workers.lockDuration)!,
      stalledIntervalMs: parseDuration(raw.workers.stalledInterval)!,
      heartbeatMs: parseDuration(raw.workers.heartbeat)!,
      deadNodeAfterMs: parseDuration(raw.workers.deadNodeAfter)!,
      backoffMs: parseDuration(raw.workers.backoff)!,
      healthPort: raw.workers.healthPort,
    },
    notify: raw.notify && {
      webhook: raw.notify.webhook,
      staleAfterMs: parseDuration(raw.notify.staleAfter)!,
      checkIntervalMs: parseDuration(raw.notify.checkInterval)!,
    },
    load: {
      batch: {
        maxWaitMs: parseDuration(raw.load.batch.maxWait)!,
        quietMs: parseDuration(raw.load.batch.quiet)!,
        maxWindows: raw.load.batch.maxWindows,
        maxBytes: parseByteSize(raw.load.batch.maxBytes),
      },
    },
    dashboard: raw.dashboard,
  };
}

/** The instance's Looker query budget, only when configured (absent: unlimited). */
function apiBudgetSetting(instance: RawConfig['instances'][number]): Pick<InstanceConfig, 'apiBudget'> {
  return instance.apiBudget ? { apiBudget: { queriesPerMonth: instance.apiBudget.queriesPerMonth } } : {};
}

const BYTE_UNITS: Record<string, number> = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12 };

/** `10GB` → 10,000,000,000 (decimal units, as BigQuery's quotas are stated); a number is bytes already. */
function parseByteSize(value: number | string): number {
  if (typeof value === 'number') return value;
  const [, amount, unit] = /^(\d+(?:\.\d+)?)\s*([A-Za-z]+)$/.exec(value)!;
  return Math.round(Number(amount) * BYTE_UNITS[unit!.toUpperCase()]!);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const item of Object.values(value)) deepFreeze(item);
  }
  return value;
}
