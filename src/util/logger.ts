import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger } from 'pino';

/**
 * Field names whose values are never written to a log, wherever they appear in a logged
 * object. Secrets are also kept out of messages by construction; this is the safety net.
 */
const SECRET_KEYS = ['password', 'replPassword', 'masterPassword', 'token', 'authorization', 'secret', 'sql'];

/** The paths pino redacts: every secret key at any of the first four levels of a logged object. */
export function redactPaths(): string[] {
  const paths: string[] = [];
  for (const k of SECRET_KEYS) {
    paths.push(k, `*.${k}`, `*.*.${k}`, `*.*.*.${k}`);
  }
  return paths;
}

/** A logger named `name` at `level` (default `info`), secrets redacted, to `destination` or standard output. */
export function createLogger(name: string, options?: { level?: string; destination?: DestinationStream }): Logger {
  const opts = {
    name,
    level: options?.level ?? 'info',
    redact: { paths: redactPaths(), censor: '[redacted]' },
  };
  return options?.destination ? pino(opts, options.destination) : pino(opts);
}

/** A logger that writes nothing, for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
