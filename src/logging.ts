import { type Logger, pino } from 'pino';
import pretty from 'pino-pretty';

// Structured logs (JSON, one line per event) for machines; pretty lines when a person watches a terminal.
// Secrets never reach a logger (they are resolved only at use), and redaction is a second guard.

export type { Logger };

export function createLogger(
  options: { level?: string; pretty?: boolean; destination?: NodeJS.WritableStream } = {},
): Logger {
  const level = options.level ?? process.env.LSA_LOG_LEVEL ?? 'info';
  const redact = {
    paths: ['*.clientSecret', '*.clientId', '*.password', '*.hashKey', 'password'],
    censor: '[secret]',
  };
  const usePretty = options.pretty ?? Boolean(process.stdout.isTTY);
  if (usePretty) {
    return pino(
      { level, redact },
      pretty({
        colorize: true,
        translateTime: 'SYS:HH:MM:ss',
        ignore: 'pid,hostname',
        sync: true,
        destination: options.destination ?? 1,
      }),
    );
  }
  return pino({ level, redact }, options.destination ?? process.stdout);
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
