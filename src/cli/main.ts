import { ConfigError } from '../config/errors.ts';
import { errorMessage } from '../errors.ts';
import { type Command, runCommand, UsageError } from './command.ts';
import { configCommand } from './config-command.ts';
import { demoCommand } from './demo-command.ts';
import { emulatorsCommand } from './emulators-command.ts';
import { resetCommand } from './reset-command.ts';
import { runCommand as runNowCommand } from './run-command.ts';
import { startCommand } from './start-command.ts';
import { statusCommand } from './status-command.ts';

const COMMANDS: Command[] = [
  demoCommand,
  startCommand,
  runNowCommand,
  statusCommand,
  resetCommand,
  configCommand,
  emulatorsCommand,
];

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  return [
    'lsa — export Looker System Activity from many instances into BigQuery, through Cloud Storage, on BullMQ.',
    '',
    'Usage: lsa <command> [options]   (lsa <command> --help for its options)',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${overview()}\n`);
    return name ? 0 : 2;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    process.stderr.write(`lsa: unknown command "${name}"\n\n${overview()}\n`);
    return 2;
  }
  try {
    return await runCommand(command, rest);
  } catch (error) {
    if (error instanceof ConfigError) process.stderr.write(`${error.message}\n`);
    else if (error instanceof UsageError) process.stderr.write(`lsa ${name}: ${error.message}\n`);
    else process.stderr.write(`lsa ${name}: ${errorMessage(error)}\n`);
    return 1;
  }
}
