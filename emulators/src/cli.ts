import { parseArgs } from 'node:util';
import { demoInstances, startEmulatorStack } from './stack.ts';

// `lsa-emulators`: the three emulators standalone, for anyone pointing the Google and Looker clients (or the
// pipeline, through `lsa emulators`) at them. Prints the endpoints and the seeded Looker credentials.

const HELP = `Usage: lsa-emulators [--host 127.0.0.1] [--looker-port 0] [--gcs-port 0] [--bigquery-port 0] [--gcs-dir DIR]

Starts the Looker API 4.0, Cloud Storage and BigQuery emulators with three seeded Looker instances, prints their
URLs and the instances' credentials (the emulator's own, random per start), and runs until SIGINT/SIGTERM.

  --host H            address to listen on (default 127.0.0.1)
  --looker-port N     port of the Looker emulator (default: a free port); same for --gcs-port, --bigquery-port
  --gcs-dir DIR       keep Cloud Storage objects on disk under DIR (default: in memory)

Exit codes: 0 after a signal, 2 on a bad option.`;

function port(value: string | undefined, name: string): number {
  if (value === undefined) return 0;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65_535)
    throw new Error(`--${name} must be a port number, not ${value}`);
  return n;
}

export async function main(argv: string[]): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        host: { type: 'string' },
        'looker-port': { type: 'string' },
        'gcs-port': { type: 'string' },
        'bigquery-port': { type: 'string' },
        'gcs-dir': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
    if (values.help) {
      process.stdout.write(`${HELP}\n`);
      return 0;
    }
    const stack = await startEmulatorStack({
      instances: demoInstances(),
      host: typeof values.host === 'string' ? values.host : '127.0.0.1',
      ...(typeof values['gcs-dir'] === 'string' ? { gcsDir: values['gcs-dir'] } : {}),
      ports: {
        looker: port(values['looker-port'] as string | undefined, 'looker-port'),
        gcs: port(values['gcs-port'] as string | undefined, 'gcs-port'),
        bigquery: port(values['bigquery-port'] as string | undefined, 'bigquery-port'),
      },
    });
    const lines = [
      `looker    ${stack.looker.url}`,
      `gcs       ${stack.gcs.url}`,
      `bigquery  ${stack.bigquery.url}`,
      '',
      'Looker instances (base URL, client id, client secret):',
      ...stack.instances.map(
        (i) => `  ${i.id}  ${stack.looker.baseUrl(i.id)}  ${i.clientId}  ${i.clientSecret}`,
      ),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
    await stack.close();
    return 0;
  } catch (error) {
    process.stderr.write(
      `lsa-emulators: ${error instanceof Error ? error.message : String(error)}\n${HELP}\n`,
    );
    return 2;
  }
}
