// The body of a hot-path JSON request, read straight from Node's request stream. Hono reads a body
// through a WHATWG Request, which @hono/node-server only builds when something asks for it: for an
// invocation that was the Request, a web stream over the Node stream and undici's body reader, about
// 7 % of the gateway's CPU at concurrency 16. Only for routes whose handlers read the body through
// c.req.json() (nothing else may read it after this: the Node stream is consumed).
import type { IncomingMessage } from 'node:http';
import type { Context, MiddlewareHandler } from 'hono';

const BOM = '\uFEFF';

/**
 * Reads the body of a request with a Content-Length within `maxBytes` into Hono's body cache, so
 * c.req.json() parses it without a Request. Anything else (no Node request, chunked, too large) goes
 * to `otherwise`, the general body limit, which refuses what is too large.
 */
export function preReadJsonBody(maxBytes: number, otherwise: MiddlewareHandler): MiddlewareHandler {
  return async (c, next) => {
    const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
    const length = incoming?.headers['content-length'];
    if (!incoming || length === undefined || incoming.headers['transfer-encoding'] !== undefined || !/^\d{1,9}$/.test(length) || Number(length) > maxBytes) {
      return otherwise(c, next);
    }
    setCachedText(c, readText(incoming, Number(length)));
    return next();
  };
}

function setCachedText(c: Context, text: Promise<string>): void {
  // Caught here so an aborted upload is the validator's error, never an unhandled rejection.
  text.catch(() => {});
  (c.req.bodyCache as { text?: Promise<string> }).text = text;
}

/** The body as UTF-8 text (invalid bytes replaced, a leading BOM dropped: what Request.text() does). */
function readText(incoming: IncomingMessage, length: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    incoming.on('data', (chunk: Buffer) => {
      size += chunk.length;
      // Node stops at Content-Length; this only guards against a stream that does not.
      if (size > length) { incoming.destroy(); reject(new Error('the body is longer than its Content-Length')); return; }
      chunks.push(chunk);
    });
    incoming.once('end', () => {
      const text = (chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)).toString('utf8');
      resolve(text.startsWith(BOM) ? text.slice(1) : text);
    });
    incoming.once('error', reject);
    incoming.once('aborted', () => reject(new Error('the request was aborted')));
  });
}
