// `${VAR}` and `${VAR:-default}` in non-secret config values are replaced when the file is loaded. Secret fields
// are left as references (see secrets.ts) and never interpolated here.

const PLACEHOLDER = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

export interface InterpolationProblem {
  path: (string | number)[];
  envVar: string;
}

/** Returns a copy of `value` with placeholders replaced, skipping the paths for which `isSecretPath` is true. */
export function interpolateEnv(
  value: unknown,
  env: NodeJS.ProcessEnv,
  isSecretPath: (path: (string | number)[]) => boolean,
  problems: InterpolationProblem[],
  path: (string | number)[] = [],
): unknown {
  if (typeof value === 'string') {
    if (isSecretPath(path)) return value;
    return value.replace(PLACEHOLDER, (_whole, name: string, fallback: string | undefined) => {
      const found = env[name];
      if (found !== undefined && found !== '') return found;
      if (fallback !== undefined) return fallback;
      problems.push({ path, envVar: name });
      return '';
    });
  }
  if (Array.isArray(value)) {
    return value.map((item, index) => interpolateEnv(item, env, isSecretPath, problems, [...path, index]));
  }
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      out[key] = interpolateEnv(item, env, isSecretPath, problems, [...path, key]);
    }
    return out;
  }
  return value;
}
