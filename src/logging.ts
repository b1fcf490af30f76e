import { type Logger, pino } from 'pino';
import pretty from 'pino-pretty';

// Logs go to stderr (stdout is for what a command prints: summaries, tables, JSON). A person at a terminal gets
// pretty lines; anywhere else (NODE_ENV=production, a container, a pipe) one JSON object per line with the field
// names Google Cloud Logging reads: `severity` (DEBUG, INFO, WARNING, ERROR) and `message`. Secrets never reach a
// logger (they are resolved only at use), and redaction is a second guard.

export type { Logger };

/** pino's level labels → Cloud Logging's LogSeverity names. */
const SEVERITY: Record<string, string> = {
  trace: 'DEBUG',
  debug: 'DEBUG',
  info: 'INFO',
  warn: 'WARNING',
  error: 'ERROR',
  fatal: 'CRITICAL',
};

export function prettyByDefault(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.NODE_ENV !== 'production' && Boolean(process.stderr.isTTY);
}

export function createLogger(
  options: { level?: string; pretty?: boolean; destination?: NodeJS.WritableStream } = {},
): Logger {
  const level = options.level ?? process.env.LSA_LOG_LEVEL ?? 'info';
  const redact = {
    paths: ['*.clientSecret', '*.clientId', '*.password', '*.hashKey', 'password'],
    censor: '[secret]',
  };
  if (options.pretty ?? prettyByDefault()) {
    return pino(
      { level, redact },
      pretty({
        colorize: true,
        translateTime: 'SYS:HH:MM:ss',
        ignore: 'pid,hostname',
        sync: true,
        destination: options.destination ?? 2,
      }),
    );
  }
  return pino(
    {
      level,
      redact,
      messageKey: 'message',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ severity: SEVERITY[label] ?? 'DEFAULT' }) },
    },
    options.destination ?? pino.destination({ fd: 2, sync: true }),
  );
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/** When each throttled warning was last logged in this process, and how many repeats were held back since. */
const throttled = new Map<string, { at: number; suppressed: number }>();

/**
 * A warning that repeats (every Redis connection of a process retrying every few hundred milliseconds while Redis
 * is down) is logged at most once per `intervalMs` per key in the whole process, with the number of repeats it
 * stands for.
 */
export function warnThrottled(
  logger: Logger,
  key: string,
  fields: Record<string, unknown>,
  message: string,
  intervalMs = 10_000,
): void {
  const now = Date.now();
  const seen = throttled.get(key);
  if (seen && now - seen.at < intervalMs) {
    seen.suppressed++;
    return;
  }
  throttled.set(key, { at: now, suppressed: 0 });
  logger.warn(seen?.suppressed ? { ...fields, repeated: seen.suppressed } : fields, message);
}
