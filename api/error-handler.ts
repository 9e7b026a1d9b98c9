// The one place errors become responses: {"error": {"code", "message", "requestId"}}.
// Unexpected errors are logged in full and answered with a bare 500; database outages are 503.
import type { Context, ErrorHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { AppEnv } from './app-env.ts';
import { CofferError, ERROR_CODES, type ErrorCode } from './errors.ts';
import type { Logger } from './logger.ts';

const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'CONNECTION_CLOSED', 'CONNECTION_ENDED',
  'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT', '57P01', '57P02', '57P03', '53300']);

export function isDatabaseUnavailable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (UNAVAILABLE_CODES.has(code) || code.startsWith('08'))) return true;
    if (e instanceof Error && /PGlite is closed|database is closed/i.test(e.message)) return true;
  }
  return false;
}

export function errorBody(code: ErrorCode | string, message: string, requestId: string | undefined, details?: Record<string, unknown>) {
  return { error: { code, message, requestId: requestId ?? null, ...(details ? { details } : {}) } };
}

function fromHttpException(err: HTTPException): CofferError {
  if (err.status === 413) return new CofferError('payload_too_large', 'request body is larger than the 1 MiB limit');
  if (err.status === 400) return new CofferError('invalid_json', 'request body is not valid JSON');
  if (err.status === 401) return new CofferError('unauthenticated', 'authentication required');
  const code = (Object.keys(ERROR_CODES) as ErrorCode[]).find((k) => ERROR_CODES[k] === err.status) ?? 'invalid_request';
  return new CofferError(code, err.message || 'request refused');
}

export function createErrorHandler(logger: Logger): ErrorHandler<AppEnv> {
  return (err: Error, c: Context<AppEnv>) => {
    const requestId = c.get('requestId');
    let coded: CofferError;
    if (err instanceof CofferError) coded = err;
    else if (err instanceof HTTPException) coded = fromHttpException(err);
    else if (isDatabaseUnavailable(err)) {
      logger.warn({ requestId, err: { message: err.message, code: (err as { code?: string }).code } }, 'database unavailable');
      coded = new CofferError('unavailable', 'the database is unavailable; nothing was changed, try again', { headers: { 'Retry-After': '5' } });
    } else {
      logger.error({ requestId, err }, 'unhandled error');
      coded = new CofferError('internal', 'internal error');
    }
    for (const [k, v] of Object.entries(coded.headers ?? {})) c.header(k, v);
    return c.json(errorBody(coded.code, coded.message, requestId, coded.details), coded.status as 400);
  };
}
