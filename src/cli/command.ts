import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfigFile } from '../config/load.ts';
import { type PipelineConfig, seedNodeUrl } from '../config/model.ts';

// The small frame every `lsa` command shares: option parsing with --help, --config and --env-file, and errors
// printed as one clear message (never a stack trace) with a non-zero exit.

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  description: string;
  default?: string | boolean;
  valueName?: string;
}

export interface Command {
  name: string;
  summary: string;
  usage: string;
  options: Record<string, OptionSpec>;
  /** Command lines an operator can copy, each with what it does: `--help` always shows them. */
  examples: { command: string; does: string }[];
  /** Exit codes beyond the ones every command shares (0 success, 1 failure, 2 bad usage). */
  exitCodes?: Record<number, string>;
  run(values: Record<string, string | boolean | undefined>, positionals: string[]): Promise<number>;
}

export const CONFIG_OPTIONS: Record<string, OptionSpec> = {
  config: {
    type: 'string',
    short: 'c',
    valueName: 'file',
    description: 'pipeline config (default: $LSA_CONFIG or ./lsa.yaml)',
  },
  'env-file': {
    type: 'string',
    valueName: 'file',
    description: 'load environment variables (secrets) from this file first',
  },
};

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** What every command's exit code means unless the command says more precisely. */
export const COMMON_EXIT_CODES: Record<number, string> = {
  0: 'success',
  1: 'failure (the message says what failed)',
  2: 'bad usage: unknown option or missing argument',
};

export function helpText(command: Command): string {
  const lines = [`${command.summary}`, '', `Usage: lsa ${command.usage}`, '', 'Options:'];
  const entries = Object.entries({
    ...command.options,
    help: { type: 'boolean', short: 'h', description: 'show this help' } as OptionSpec,
  });
  const left = entries.map(([name, spec]) => {
    const short = spec.short ? `-${spec.short}, ` : '    ';
    return `  ${short}--${name}${spec.type === 'string' ? ` <${spec.valueName ?? 'value'}>` : ''}`;
  });
  const width = Math.max(...left.map((l) => l.length)) + 2;
  entries.forEach(([, spec], i) => {
    lines.push(`${left[i]!.padEnd(width)}${spec.description}`);
  });
  lines.push('', 'Examples:');
  for (const example of command.examples) lines.push(`  ${example.command}`, `      ${example.does}`);
  lines.push('', 'Exit codes:');
  for (const [code, meaning] of Object.entries({ ...COMMON_EXIT_CODES, ...command.exitCodes })) {
    lines.push(`  ${code}  ${meaning}`);
  }
  return lines.join('\n');
}

export async function runCommand(command: Command, argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        ...Object.fromEntries(
          Object.entries(command.options).map(([name, spec]) => [
            name,
            {
              type: spec.type,
              ...(spec.short ? { short: spec.short } : {}),
              ...(spec.default !== undefined ? { default: spec.default } : {}),
            },
          ]),
        ),
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    process.stderr.write(`lsa ${command.name}: ${(error as Error).message}\n\n${helpText(command)}\n`);
    return 2;
  }
  if (parsed.values.help) {
    process.stdout.write(`${helpText(command)}\n`);
    return 0;
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (typeof values['env-file'] === 'string') {
    const file = values['env-file'];
    if (!existsSync(file)) {
      process.stderr.write(`lsa ${command.name}: --env-file ${file}: file not found\n`);
      return 2;
    }
    process.loadEnvFile(file);
  }
  return command.run(values, parsed.positionals);
}

export function configPath(values: Record<string, string | boolean | undefined>): string {
  const given = values.config;
  if (typeof given === 'string') return given;
  return process.env.LSA_CONFIG ?? './lsa.yaml';
}

/**
 * The config of the file the options name. Commands that only read state from Redis pass
 * `requireSecrets: false`: an operator reading status needs no Looker credentials in their environment.
 */
export function loadConfig(
  values: Record<string, string | boolean | undefined>,
  options: { requireSecrets?: boolean } = {},
): PipelineConfig {
  return loadConfigFile(configPath(values), options);
}

/** The Redis URL without its password, for messages. */
export function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable Redis URL)';
  }
}

/**
 * Fails fast, with a message that says what to check, when Redis cannot be reached: the pipeline's own
 * connections wait for Redis forever (right for workers, wrong for an operator's one-off command).
 */
export async function ensureRedisReachable(config: PipelineConfig, timeoutMs = 3_000): Promise<void> {
  const { Redis } = await import('ioredis');
  // A cluster URL is probed at the node it names: it answers PING whichever slots it serves.
  const probe = new Redis(seedNodeUrl(config.redis.url), {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  // The connection's own error says why (ECONNREFUSED, ENOTFOUND, NOAUTH); the rejected promise only says "closed".
  let cause = '';
  probe.on('error', (error) => {
    cause ||= error.message;
  });
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([probe.connect().then(() => probe.ping()), deadline]);
  } catch (error) {
    throw new UsageError(
      `Redis at ${redactedUrl(config.redis.url)} is unreachable (${cause || (error as Error).message}): check that it runs and that redis.url in ${config.source} points at it`,
    );
  } finally {
    clearTimeout(timer);
    // Disconnecting a connection that already ended keeps the process alive for seconds.
    if (probe.status !== 'end') probe.disconnect();
  }
}
