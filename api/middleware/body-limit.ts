// The request body limit, decided from the Content-Length header where HTTP framing makes that the
// body's exact length. Hono's bodyLimit first asks for `c.req.raw.body`, and on @hono/node-server
// that builds the WHATWG Request and a web stream over Node's request stream for every request
// (about 7 % of the gateway's CPU at concurrency 16); without it, c.req.json() reads the body
// straight from Node's stream (node-server's own fast path).
import type { IncomingMessage } from 'node:http';
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit as streamedBodyLimit } from 'hono/body-limit';

/**
 * Hono's bodyLimit, with its options. On Node's HTTP server a body with a Content-Length is
 * answered by `onError` when over `maxSize`, and a request with neither Content-Length nor
 * Transfer-Encoding has no body; everything else (chunked bodies; requests not from Node's server,
 * as in tests) goes to Hono's, which counts the bytes as they arrive.
 */
export function bodyLimit(options: { maxSize: number; onError: (c: Context) => Response }): MiddlewareHandler {
  const streamed = streamedBodyLimit(options);
  return async (c, next) => {
    const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
    if (!incoming || incoming.headers['transfer-encoding'] !== undefined) return streamed(c, next);
    const length = incoming.headers['content-length'];
    if (length === undefined) return next();
    if (!/^\d{1,15}$/.test(length)) return streamed(c, next);
    return Number(length) > options.maxSize ? options.onError(c) : next();
  };
}
