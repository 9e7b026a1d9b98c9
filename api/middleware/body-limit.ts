// The request body limit, decided from the Content-Length header where HTTP framing makes that the
// body's exact length. Hono's bodyLimit first asks for `c.req.raw.body`, and on @hono/node-server
// that builds the WHATWG Request and a web stream over Node's request stream for every request
// (about 7 % of the gateway's CPU at concurrency 16); without it, c.req.json() reads the body
// straight from Node's stream (node-server's own fast path).
import type { IncomingMessage } from 'node:http';
import type { Context, MiddlewareHandler } from 'hono';

/**
 * On Node's HTTP server: a body with a Content-Length is answered by `onTooLarge` when over
 * `maxBytes`, and a request with neither Content-Length nor Transfer-Encoding has no body.
 * Everything else (chunked bodies; requests not from Node's server, as in tests) goes to `streamed`,
 * the limit that counts the bytes as they arrive.
 */
export function bodyLimitFromHeaders(maxBytes: number, onTooLarge: (c: Context) => Response, streamed: MiddlewareHandler): MiddlewareHandler {
  return async (c, next) => {
    const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
    if (!incoming || incoming.headers['transfer-encoding'] !== undefined) return streamed(c, next);
    const length = incoming.headers['content-length'];
    if (length === undefined) return next();
    if (!/^\d{1,15}$/.test(length)) return streamed(c, next);
    return Number(length) > maxBytes ? onTooLarge(c) : next();
  };
}
