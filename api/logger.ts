// Structured logs. Secret values never reach a log call in the first place; the redact list is a
// second line of defence for credential-shaped fields should one ever be passed by mistake.
import pino, { type Logger, type DestinationStream } from 'pino';

export type { Logger };

export const REDACTED_LOG_PATHS = [
  'value', '*.value', 'secret', '*.secret', 'password', '*.password', 'token', '*.token',
  'authorization', '*.authorization', 'headers.authorization', 'req.headers.authorization',
  'client_secret', '*.client_secret', 'clientSecret', '*.clientSecret', 'apiKey', '*.apiKey', 'key', '*.key',
];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino({ level, base: { service: 'coffer' }, redact: { paths: REDACTED_LOG_PATHS, censor: '[REDACTED]' } }, destination);
}
