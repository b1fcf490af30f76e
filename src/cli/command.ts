import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfigFile } from '../config/load.ts';
import type { PipelineConfig } from '../config/model.ts';

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

export function loadConfig(values: Record<string, string | boolean | undefined>): PipelineConfig {
  return loadConfigFile(configPath(values));
}
