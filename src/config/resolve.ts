import {
  DEFAULT_LAG_MS,
  defaultLookbackMs,
  refreshClassOfExplore,
  type SystemActivityEdition,
} from '../exports/freshness.ts';
import { BUILT_IN_EXPORTS, builtInExport, defaultBigQueryType } from '../exports/registry.ts';
import type { ExportDefinition, MaskingRule } from '../exports/types.ts';
import { parseDuration } from './duration.ts';
import type { ConfigProblem } from './errors.ts';
import type { ExportSettings, InstanceConfig, PipelineConfig, ResolvedExport } from './model.ts';
import { exportName, type RawConfig, type RawExportEntry } from './schema.ts';
import { parseSecretReference, type SecretRef } from './secrets.ts';

// From the parsed YAML to the config every part of the pipeline reads: the export catalog (built-ins and custom
// exports, with their settings per instance), masking rules, instances, and the masking key. Each concern is a
// function of its own; all report cross-field problems into one list, so the user sees them all at once.

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

/** Every export instances may name: the built-ins, then the custom ones from `exports:`, with their overrides. */
interface ExportCatalog {
  definitions: Map<string, ExportDefinition>;
  overrides: Map<string, SettingsOverride>;
}

function resolveExports(raw: RawConfig, problems: ConfigProblem[]): ExportCatalog {
  const globalOverride = overrideFrom(raw.defaults, 'defaults');
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
  return { definitions, overrides };
}

/** Config rules override each export's defaults; a rule must name a field some export selects, maskably. */
function checkMaskingRules(
  rules: RawConfig['masking']['rules'],
  catalog: ExportCatalog,
  problems: ConfigProblem[],
) {
  const allFields = new Map<string, { lookerType: string; keyOrCursorOf?: string }>();
  for (const definition of catalog.definitions.values()) {
    for (const field of definition.fields) {
      const entry = allFields.get(field.field) ?? { lookerType: field.lookerType };
      const cursor = definition.mode.kind === 'incremental' ? definition.mode.cursor : undefined;
      if (field.field === definition.key || field.field === cursor) entry.keyOrCursorOf = definition.name;
      allFields.set(field.field, entry);
    }
  }
  for (const [field, rule] of Object.entries(rules)) {
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
}

/** Secret references, checked against the environment when the caller needs them resolvable. */
class SecretChecker {
  constructor(
    private readonly problems: ConfigProblem[],
    private readonly requireSecrets: boolean,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  ref(text: string, path: (string | number)[]): SecretRef {
    const ref = parseSecretReference(text)!;
    if (this.requireSecrets && !ref.isSet(this.env)) {
      this.problems.push({ path, message: `environment variable ${ref.envVar} is not set` });
    }
    return ref;
  }
}

function resolveInstances(
  raw: RawConfig,
  catalog: ExportCatalog,
  secrets: SecretChecker,
  problems: ConfigProblem[],
): InstanceConfig[] {
  const { definitions, overrides } = catalog;
  const resolveExport = (name: string, instance: RawConfig['instances'][number]): ResolvedExport => {
    const definition = definitions.get(name)!;
    const masking: ResolvedExport['masking'] = {};
    for (const field of definition.fields) {
      const rule: MaskingRule | undefined = raw.masking.rules[field.field] ?? definition.masking[field.field];
      if (rule && rule !== 'keep') masking[field.field] = rule;
    }
    return { definition, settings: instanceSettings(definition, overrides.get(name)!, instance), masking };
  };

  const seenIds = new Map<string, number>();
  return raw.instances.map((instance, index) => {
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
    return {
      id: instance.id,
      baseUrl: instance.baseUrl.replace(/\/+$/, ''),
      clientId: secrets.ref(instance.clientId, ['instances', index, 'clientId']),
      clientSecret: secrets.ref(instance.clientSecret, ['instances', index, 'clientSecret']),
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
}

/** The masking key: required as soon as any export of any instance hashes a field. */
function resolveHashKey(
  raw: RawConfig,
  instances: InstanceConfig[],
  secrets: SecretChecker,
  problems: ConfigProblem[],
): SecretRef | undefined {
  const hashKey = raw.masking.hashKey ? secrets.ref(raw.masking.hashKey, ['masking', 'hashKey']) : undefined;
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
  return hashKey;
}

/**
 * The parsed config, resolved: exports, masking rules, instances and the hash key each checked by their own
 * function; every cross-field problem goes to `problems` (all of them, not the first).
 */
export function resolve(
  raw: RawConfig,
  source: string,
  problems: ConfigProblem[],
  requireSecrets: boolean,
  env: NodeJS.ProcessEnv,
): PipelineConfig {
  const catalog = resolveExports(raw, problems);
  checkMaskingRules(raw.masking.rules, catalog, problems);
  const secrets = new SecretChecker(problems, requireSecrets, env);
  const instances = resolveInstances(raw, catalog, secrets, problems);
  const hashKey = resolveHashKey(raw, instances, secrets, problems);
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
