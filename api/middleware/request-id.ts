// Every request gets the server's own id (hono/request-id, told to ignore the incoming header): it
// is what the response, the logs and the audit rows carry. A client's X-Request-Id is kept apart,
// as `clientRequestId`, so a caller can correlate its own logs but never choose the server's id.
import { randomIdText } from '../crypto/credentials.ts';
import type { MiddlewareHandler } from 'hono';
import { requestId } from 'hono/request-id';
import type { AppEnv } from '../app-env.ts';
import { routePath } from 'hono/route';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics/metrics.ts';

const CLIENT_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** W3C Trace Context: version 00, a trace id and a parent id that are not all zeros, flags. */
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/;

/** The trace id of a well-formed `traceparent` header, so logs can be joined with the caller's trace. */
export function traceIdOf(header: string | undefined): string | undefined {
  const m = header ? TRACEPARENT.exec(header.trim()) : null;
  if (!m || /^0+$/.test(m[1]) || /^0+$/.test(m[2])) return undefined;
  return m[1];
}

export const serverRequestId = (): MiddlewareHandler<AppEnv> =>
  requestId({ headerName: '', generator: () => `req_${randomIdText(9)}` });

/** Sets the response's X-Request-Id, records a well-formed client id, logs and counts the outcome. */
export function requestContext(logger: Logger, metrics?: Metrics): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const requestId = c.get('requestId');
    const incoming = c.req.header('x-request-id');
    if (incoming && CLIENT_ID.test(incoming)) c.set('clientRequestId', incoming);
    c.header('X-Request-Id', requestId);
    const traceId = traceIdOf(c.req.header('traceparent'));
    const started = performance.now();
    await next();
    const ms = performance.now() - started;
    // The path only: a query string could carry something a client should not have sent.
    logger.info({ requestId, clientRequestId: c.get('clientRequestId'), traceId, method: c.req.method, path: loggablePath(c.req.path), status: c.res.status,
      ms: Math.round(ms * 10) / 10, principalId: c.get('principal')?.id }, 'request');
    // The route pattern, never the path: labels must not carry what a caller typed.
    const end = performance.now();
    metrics?.request(routePath(c, -1), c.req.method, c.res.status, (end - started) / 1000);
    const marks = c.get('invocationMarks');
    if (marks && metrics) {
      metrics.stage('http_auth', (marks[0] - started) / 1000);
      metrics.stage('response', (end - marks[1]) / 1000);
    }
  };
}

/** A token-mode webhook's path ends in its credential (/hooks/{ws}/{executor}/{token}): never logged. */
export function loggablePath(path: string): string {
  const hook = /^\/hooks\/[^/]*\/[^/]*\//.exec(path);
  return (hook ? `${hook[0]}[token]` : path).slice(0, 512);
}
