// The one place errors become responses: {"error": {"code", "message", "requestId"}}.
// Unexpected errors are logged and answered with a bare 500. Database errors are translated here
// and nowhere else, the same on both drivers: a unique-constraint conflict (a race two requests ran)
// is 409 already_exists, an outage is 503 unavailable.
import type { Context, ErrorHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { AppEnv } from './app-env.ts';
import { CofferError, ERROR_CODES, type ErrorCode } from './errors.ts';
import type { Logger } from './logger.ts';

import { isDatabaseUnavailable, uniqueViolation } from './database-errors.ts';

export { isDatabaseUnavailable };

/** What each unique constraint protects, for the 409 message (see db/schema.ts). */
const UNIQUE_CONSTRAINTS: Record<string, string> = {
  principals_kind_name_uq: 'a user or service account with that name already exists',
  vaults_name_uq: 'a vault with that name already exists',
  vault_name_tombstones_pkey: 'that vault name is reserved',
  workspaces_name_uq: 'a workspace with that name already exists',
  secrets_vault_name_uq: 'a secret with that name already exists',
  functions_workspace_name_uq: 'a function with that name already exists',
};

/** A database error as a coded error, or undefined when it is not one we translate (a bug: 500). */
export function translateDatabaseError(err: unknown): CofferError | undefined {
  const unique = uniqueViolation(err);
  if (unique) {
    const message = (unique.constraint && UNIQUE_CONSTRAINTS[unique.constraint]) ?? 'it already exists';
    return new CofferError('already_exists', `${message} (created by a concurrent request)`);
  }
  if (isDatabaseUnavailable(err)) {
    return new CofferError('unavailable', 'the database is unavailable; nothing was changed, try again', { headers: { 'Retry-After': '5' } });
  }
  return undefined;
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

function codeOf(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

export function createErrorHandler(logger: Logger): ErrorHandler<AppEnv> {
  return (err: Error, c: Context<AppEnv>) => {
    const requestId = c.get('requestId');
    let coded: CofferError;
    if (err instanceof CofferError) coded = err;
    else if (err instanceof HTTPException) coded = fromHttpException(err);
    else {
      const translated = translateDatabaseError(err);
      // Only the driver's code: drizzle's message repeats the query's parameters.
      const message = err.name === 'DrizzleQueryError' && err.cause instanceof Error ? err.cause.message : err.message;
      const summary = { message: translated ? undefined : message, code: codeOf(err), name: err.name };
      if (translated?.code === 'unavailable') logger.warn({ requestId, err: summary }, 'database unavailable');
      else if (translated) logger.info({ requestId, err: summary }, 'unique constraint conflict');
      else logger.error({ requestId, err: { ...summary, stack: err.stack?.split('\n').slice(1, 8).join('\n') } }, 'unhandled error');
      coded = translated ?? new CofferError('internal', 'internal error');
    }
    for (const [k, v] of Object.entries(coded.headers ?? {})) c.header(k, v);
    return c.json(errorBody(coded.code, coded.message, requestId, coded.details), coded.status as 400);
  };
}
