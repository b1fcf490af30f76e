// Secrets (Looker client ids and secrets, the masking key) are never copied out of the environment into config
// objects, job data, Redis, logs or errors: config holds a reference, and the value is read at the moment of use.

/** `${ENV_VAR}`: how config names a secret (published in the JSON Schema as a pattern). */
export const SECRET_REFERENCE = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/;

export class SecretRef {
  constructor(readonly envVar: string) {}

  /** Reads the secret now. The error names the variable, never a value. */
  resolve(env: NodeJS.ProcessEnv = process.env): string {
    const value = env[this.envVar];
    if (value === undefined || value === '') {
      throw new Error(
        `environment variable ${this.envVar} is not set (it holds a secret named in the config)`,
      );
    }
    return value;
  }

  isSet(env: NodeJS.ProcessEnv = process.env): boolean {
    const value = env[this.envVar];
    return value !== undefined && value !== '';
  }

  // A secret reference must never print its value, whatever serialises it.
  toJSON(): string {
    return `\${${this.envVar}}`;
  }

  toString(): string {
    return `\${${this.envVar}}`;
  }
}

export function parseSecretReference(text: string): SecretRef | undefined {
  const match = SECRET_REFERENCE.exec(text.trim());
  return match ? new SecretRef(match[1]!) : undefined;
}
