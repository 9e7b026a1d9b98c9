// Structured logs. Secret values never reach a log call in the first place; the redact list is a
// second line of defence for credential-shaped fields should one ever be passed by mistake.
import pino, { type Logger, type DestinationStream } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export const REDACTED_LOG_PATHS = [
  'value', '*.value', 'secret', '*.secret', 'password', '*.password', 'token', '*.token',
  'authorization', '*.authorization', 'headers.authorization', 'req.headers.authorization',
  'client_secret', '*.client_secret', 'clientSecret', '*.clientSecret', 'apiKey', '*.apiKey', 'key', '*.key',
];

export interface LogOptions {
  /** JSON lines, or readable ones; absent: readable when stdout is a terminal. */
  format?: 'json' | 'pretty';
  destination?: DestinationStream;
  /** Whether the output is a terminal (defaults to stdout's). */
  isTTY?: boolean;
}

export function createLogger(level: string, options: DestinationStream | LogOptions = {}): Logger {
  const opts: LogOptions = 'write' in options ? { destination: options as DestinationStream } : options as LogOptions;
  const format = opts.format ?? ((opts.isTTY ?? process.stdout.isTTY) ? 'pretty' : 'json');
  // pino-pretty as a stream in this thread (not a transport worker), so a line is written before exit.
  const destination = format === 'pretty'
    ? pretty({ destination: opts.destination ?? 1, colorize: (opts.isTTY ?? process.stdout.isTTY) === true && !process.env.NO_COLOR, sync: true, ignore: 'pid,hostname,service', translateTime: 'SYS:HH:MM:ss.l' })
    : opts.destination;
  return pino({ level, base: { service: 'coffer' }, redact: { paths: REDACTED_LOG_PATHS, censor: '[REDACTED]' } }, destination);
}
