// Every request gets the server's own id (hono/request-id, told to ignore the incoming header): it
// is what the response, the logs and the audit rows carry. A client's X-Request-Id is kept apart,
// as `clientRequestId`, so a caller can correlate its own logs but never choose the server's id.
import crypto from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { requestId } from 'hono/request-id';
import type { AppEnv } from '../app-env.ts';
import type { Logger } from '../logger.ts';

const CLIENT_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export const serverRequestId = (): MiddlewareHandler<AppEnv> =>
  requestId({ headerName: '', generator: () => `req_${crypto.randomBytes(9).toString('base64url')}` });

/** Sets the response's X-Request-Id, records a well-formed client id, and logs the outcome. */
export function requestContext(logger: Logger): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const requestId = c.get('requestId');
    const incoming = c.req.header('x-request-id');
    if (incoming && CLIENT_ID.test(incoming)) c.set('clientRequestId', incoming);
    c.header('X-Request-Id', requestId);
    const started = performance.now();
    await next();
    // The path only: a query string could carry something a client should not have sent.
    logger.info({ requestId, clientRequestId: c.get('clientRequestId'), method: c.req.method, path: loggablePath(c.req.path), status: c.res.status,
      ms: Math.round((performance.now() - started) * 10) / 10, principalId: c.get('principal')?.id }, 'request');
  };
}

/** A token-mode webhook's path ends in its credential (/hooks/{ws}/{executor}/{token}): never logged. */
export function loggablePath(path: string): string {
  const hook = /^\/hooks\/[^/]*\/[^/]*\//.exec(path);
  return (hook ? `${hook[0]}[token]` : path).slice(0, 512);
}
