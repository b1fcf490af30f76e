import { ConfigError } from '../config/errors.ts';
import { packageVersion } from '../dashboard/build-info.ts';
import { errorMessage } from '../errors.ts';
import { type Command, runCommand, UsageError } from './command.ts';
import { COMMAND_SUMMARIES, type CommandName } from './summaries.ts';

// Commands are loaded on demand: `lsa --help` and `lsa status` need not load the emulators, DuckDB or Express.
const COMMANDS: Record<CommandName, () => Promise<Command>> = {
  demo: async () => (await import('./demo-command.ts')).demoCommand,
  start: async () => (await import('./start-command.ts')).startCommand,
  run: async () => (await import('./run-command.ts')).runCommand,
  status: async () => (await import('./status-command.ts')).statusCommand,
  plan: async () => (await import('./plan-command.ts')).planCommand,
  reset: async () => (await import('./reset-command.ts')).resetCommand,
  backfill: async () => (await import('./backfill-command.ts')).backfillCommand,
  config: async () => (await import('./config-command.ts')).configCommand,
  emulators: async () => (await import('./emulators-command.ts')).emulatorsCommand,
  doctor: async () => (await import('./doctor-command.ts')).doctorCommand,
  report: async () => (await import('./report-command.ts')).reportCommand,
  reports: async () => (await import('./reports-command.ts')).reportsCommand,
};

/** `lsa demo` and `lsa emulators` import the emulators workspace, which a production install does not have. */
function isMissingEmulators(error: unknown): boolean {
  return (
    error instanceof Error &&
    (error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' &&
    error.message.includes("'lsa-emulators")
  );
}

function overview(): string {
  const names = Object.keys(COMMAND_SUMMARIES) as CommandName[];
  const width = Math.max(...names.map((n) => n.length)) + 2;
  return [
    'lsa — export Looker System Activity from many instances into BigQuery, through Cloud Storage, on BullMQ.',
    '',
    'Usage: lsa <command> [options]   (lsa help <command> or lsa <command> --help for its options)',
    '       lsa --version',
    '',
    'Commands:',
    ...names.map((n) => `  ${n.padEnd(width)}${COMMAND_SUMMARIES[n]}`),
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  if (argv[0] === '--version' || argv[0] === '-V' || argv[0] === 'version') {
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  // `lsa help <command>` is `lsa <command> --help`.
  const [name, ...rest] = argv[0] === 'help' && argv[1] ? [argv[1], '--help'] : argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${overview()}\n`);
    return name ? 0 : 2;
  }
  if (!(name in COMMANDS)) {
    process.stderr.write(`lsa: unknown command "${name}"\n\n${overview()}\n`);
    return 2;
  }
  try {
    const command = await COMMANDS[name as CommandName]();
    return await runCommand(command, rest);
  } catch (error) {
    if (isMissingEmulators(error)) {
      process.stderr.write(
        `lsa ${name}: needs the emulators package (lsa-emulators), a development dependency that production installs and images leave out. Run it from a source checkout after \`npm ci\`, or use the image's demo target.\n`,
      );
      return 1;
    }
    if (error instanceof ConfigError) process.stderr.write(`${error.message}\n`);
    else if (error instanceof UsageError) process.stderr.write(`lsa ${name}: ${error.message}\n`);
    else process.stderr.write(`lsa ${name}: ${errorMessage(error)}\n`);
    return 1;
  }
}
