import { readFileSync } from 'node:fs';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { z } from 'zod';
import { ConfigError, type ConfigProblem, describeValue } from './errors.ts';
import { interpolateEnv } from './interpolate.ts';
import type { PipelineConfig } from './model.ts';
import { resolve } from './resolve.ts';
import { configSchema, isSecretPath } from './schema.ts';

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** Check that every secret's environment variable is set (true at boot; `config validate --skip-env` turns it off). */
  requireSecrets?: boolean;
}

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
    // One round: the cross-field checks still run on what is valid. Each invalid value is dropped (its default
    // applies, or it is missing) and the rest is checked, so a user fixes everything at once.
    const rest = configSchema.safeParse(withoutInvalid(interpolated, parsed.error.issues));
    if (rest.success) {
      const crossField: ConfigProblem[] = [];
      resolve(rest.data, source, crossField, options.requireSecrets ?? true, env);
      const seen = new Set(problems.map((p) => JSON.stringify(p)));
      problems.push(...crossField.filter((p) => !seen.has(JSON.stringify(p))));
    }
    throw new ConfigError(source, problems);
  }
  const config = resolve(parsed.data, source, problems, options.requireSecrets ?? true, env);
  if (problems.length > 0) throw new ConfigError(source, problems);
  return deepFreeze(config);
}

/** A copy of `document` without the values the schema refused (and without the keys it does not know). */
function withoutInvalid(document: unknown, issues: z.core.$ZodIssue[]): unknown {
  const copy = structuredClone(document) as Record<string | number, unknown>;
  for (const issue of issues) {
    const path = issue.path as (string | number)[];
    const keys = issue.code === 'unrecognized_keys' ? issue.keys.map((k) => [...path, k]) : [path];
    for (const at of keys) {
      if (at.length === 0) continue;
      let node: unknown = copy;
      for (const step of at.slice(0, -1))
        node = (node as Record<string | number, unknown> | undefined)?.[step];
      if (node && typeof node === 'object') delete (node as Record<string | number, unknown>)[at.at(-1)!];
    }
  }
  return copy;
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

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const item of Object.values(value)) deepFreeze(item);
  }
  return value;
}
