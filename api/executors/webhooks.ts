// Incoming webhooks: /hooks/{ws}/{executor}[/{token}]. Everything a caller can learn before it
// proves itself is one 404 (unknown, disabled and wrong token look the same); a bad or stale
// signature is 401 and counted like a failed login; a sync failure is 502 with only a code and the
// request id (the caller is not a Coffer user), a timeout 504.
import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { AppEnv } from '../app-env.ts';
import type { Authenticator } from '../middleware/auth.ts';
import { CofferError } from '../errors.ts';
import { errorBody } from '../error-handler.ts';
import { createRouter, ErrorSchema, jsonResponse } from '../routes/openapi.ts';
import { WEBHOOK_METHODS } from './schemas.ts';
import { DEPTH_HEADER, visibleHeaders, type ExecutorService, type HookRequest } from './service.ts';

const MAX_IDEMPOTENCY_KEY = 255;
const SIGNATURE_FAILURES = {
  missing_signature: 'the request carries no signature in this scheme\'s format',
  bad_signature: 'the request signature does not verify',
  stale_timestamp: 'the signature timestamp is outside the 5 minute window',
  replayed: 'this signed request was already delivered',
} as const;

const HttpResult = z.strictObject({
  status: z.number().int().min(200).max(599),
  headers: z.record(z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$/), z.string().max(8192).regex(/^[^\r\n\0]*$/)).optional(),
  body: z.unknown().optional(),
});
/** Headers a function may not set: they belong to the transport. */
const TRANSPORT_HEADERS = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'trailer']);

export function hookRoutes(executors: ExecutorService, authenticators: Authenticator[]) {
  const r = createRouter();
  const notFoundBody = (c: Context<AppEnv>) => c.json(errorBody('not_found', 'no such webhook', c.get('requestId')), 404);

  async function handle(c: Context<AppEnv>) {
    const { ws, executor: name, token } = c.req.param() as { ws: string; executor: string; token?: string };
    const target = await executors.hookTarget(ws, name);
    if (!target) return notFoundBody(c);
    const { workspace, executor, trigger } = target;

    const auth = trigger.auth;
    if (auth.mode === 'token') {
      if (!executors.tokenMatches(executor, token)) return notFoundBody(c);
    } else if (token !== undefined) {
      return notFoundBody(c);
    } else if (auth.mode === 'bearer') {
      const m = /^Bearer[ ]+([A-Za-z0-9._~+/=-]+)\s*$/i.exec(c.req.header('authorization') ?? '');
      let principal;
      if (m) for (const a of authenticators) { const res = await a(m[1]); if (res) { if ('principal' in res) principal = res.principal; break; } }
      if (!principal) throw new CofferError('unauthenticated', 'an API key or access token of a workspace invoker is required', { headers: { 'WWW-Authenticate': 'Bearer realm="coffer"' } });
      const allowed = await executors.bearerAllowed(workspace, principal);
      if (allowed === 'not_member') return notFoundBody(c);
      if (allowed === 'forbidden') throw new CofferError('forbidden', 'invoking this webhook needs the invoker role on the workspace');
    }

    // Counted only once the caller is past the checks that answer 404, so the headers cannot tell
    // an existing executor from an unknown one.
    const budget = executors.rateLimit(workspace.id);
    c.header('RateLimit-Limit', String(budget.limit));
    c.header('RateLimit-Remaining', String(budget.remaining));
    c.header('RateLimit-Reset', String(budget.resetS));
    c.header('RateLimit-Policy', `${budget.limit};w=1`);
    if (!budget.ok) {
      throw new CofferError('rate_limited', 'too many webhook requests for this workspace', { headers: { 'Retry-After': String(budget.resetS) } });
    }
    if (auth.mode === 'hmac') {
      const wait = executors.signatureRetryAfter(sourceOf(c));
      if (wait > 0) throw new CofferError('rate_limited', 'too many failed signature checks; try again later', { headers: { 'Retry-After': String(wait) } });
    }

    const method = c.req.method.toUpperCase();
    if (!(trigger.methods as string[]).includes(method)) {
      throw new CofferError('method_not_allowed', `this webhook accepts ${trigger.methods.join(', ')}`, { headers: { Allow: trigger.methods.join(', ') } });
    }

    const raw = await readBody(c.req.raw, trigger.maxBodyBytes);
    const headers = Object.fromEntries([...c.req.raw.headers.entries()].map(([k, v]) => [k.toLowerCase(), v]));
    let deliveryId: string | undefined;
    if (auth.mode === 'hmac') {
      const verdict = await executors.verifyHmac(workspace, executor, trigger, headers, raw, { requestId: c.get('requestId'), source: sourceOf(c) });
      if (!verdict.ok) throw new CofferError('invalid_signature', SIGNATURE_FAILURES[verdict.reason]);
      deliveryId = verdict.deliveryId;
    }

    const url = new URL(c.req.url);
    const rawBody = raw.toString('utf8');
    const request: HookRequest = {
      method, path: `/hooks/${workspace.name}/${executor.name}`,
      query: Object.fromEntries(url.searchParams.entries()),
      headers: visibleHeaders(Object.entries(headers)),
      body: parseBody(headers['content-type'], rawBody), rawBody,
    };
    const depth = c.req.header(DEPTH_HEADER);

    if (trigger.mode === 'async') {
      const key = c.req.header('idempotency-key') ?? deliveryId;
      if (key !== undefined && (key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY)) {
        throw new CofferError('invalid_request', `Idempotency-Key must be 1-${MAX_IDEMPOTENCY_KEY} characters`);
      }
      const accepted = await executors.accept(workspace, executor, request, { idempotencyKey: key, depth });
      if (accepted.replayed) c.header('Idempotent-Replayed', 'true');
      return c.json({ jobId: accepted.jobId }, 202);
    }

    let out;
    try {
      out = await executors.runNow(workspace, executor, request, { requestId: c.get('requestId'), depth });
    } catch (err) {
      if (!(err instanceof CofferError) || ['overloaded', 'unavailable', 'recursion_limit', 'invalid_request'].includes(err.code)) throw err;
      const status = err.code === 'timeout' ? 504 : 502;
      return c.json({ error: { code: err.code === 'not_found' ? 'function_error' : err.code, requestId: c.get('requestId') } }, status);
    }
    c.header('Cache-Control', 'no-store');
    if (trigger.response === 'result') return c.json(out.result ?? null, 200);
    const shaped = HttpResult.safeParse(out.result);
    if (!shaped.success) return c.json({ error: { code: 'invalid_result', requestId: c.get('requestId') } }, 502);
    const { status, headers: h = {}, body } = shaped.data;
    const outHeaders = new Headers();
    for (const [k, v] of Object.entries(h)) if (!TRANSPORT_HEADERS.has(k.toLowerCase())) outHeaders.set(k, v);
    let payload: string | null = null;
    if (typeof body === 'string') {
      payload = body;
      if (!outHeaders.has('content-type')) outHeaders.set('content-type', 'text/plain; charset=utf-8');
    } else if (body !== undefined && body !== null) {
      payload = JSON.stringify(body);
      if (!outHeaders.has('content-type')) outHeaders.set('content-type', 'application/json');
    }
    for (const [k, v] of outHeaders) c.header(k, v);
    return c.body(payload as string, status as 200);
  }

  r.on([...WEBHOOK_METHODS], ['/hooks/:ws/:executor', '/hooks/:ws/:executor/:token'], handle);

  const tags = ['Incoming webhooks'];
  const err = (description: string) => ({ description, content: { 'application/json': { schema: ErrorSchema } } });
  const responses = {
    200: { description: 'Sync mode: the function\'s result as JSON (response "result"), or the response it shaped (response "http")' },
    202: jsonResponse(z.object({ jobId: z.string() }), 'Async mode: accepted as a job'),
    401: err('invalid_signature (hmac) or unauthenticated (bearer)'),
    404: err('Unknown executor, disabled executor, or wrong token: all the same'),
    405: err('Method not in the executor\'s methods'),
    413: err('Body larger than the executor\'s maxBodyBytes (1 MiB by default)'),
    429: err('rate_limited (per workspace; Retry-After and RateLimit-* headers) or overloaded'),
    502: err('Sync mode: the function failed. Only {error: {code, requestId}}'),
    504: err('Sync mode: the function timed out. Only {error: {code, requestId}}'),
    508: err('recursion_limit: a chain of executors more than 10 deep'),
  };
  const hookParams = z.object({ ws: z.string(), executor: z.string() });
  for (const path of ['/hooks/{ws}/{executor}/{token}', '/hooks/{ws}/{executor}']) {
    r.openAPIRegistry.registerPath({
      method: 'post', path, tags, responses,
      summary: path.endsWith('{token}') ? 'Deliver to a webhook executor with auth mode "token"' : 'Deliver to a webhook executor with auth mode "bearer" or "hmac"',
      request: { params: path.endsWith('{token}') ? hookParams.extend({ token: z.string() }) : hookParams },
    });
  }
  return r;
}

function sourceOf(c: Context<AppEnv>): string {
  try { return getConnInfo(c).remote.address ?? 'unknown'; } catch { return 'unknown'; }
}

function parseBody(contentType: string | undefined, text: string): unknown {
  const type = (contentType ?? '').split(';')[0].trim().toLowerCase();
  try {
    if (type === 'application/json' || type.endsWith('+json')) return text ? JSON.parse(text) : null;
    if (type === 'application/x-www-form-urlencoded') return Object.fromEntries(new URLSearchParams(text).entries());
  } catch { /* not what it says it is: the function still has rawBody */ }
  return null;
}

/** Reads the body, refusing it as soon as it passes `limit` (Content-Length or not). */
async function readBody(req: Request, limit: number): Promise<Buffer> {
  const declared = Number(req.headers.get('content-length') ?? NaN);
  const tooLarge = () => new CofferError('payload_too_large', `the body is larger than this webhook's ${limit} byte limit`);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge();
  // With a length declared (and within the limit), read in one go: on Node's server that is
  // @hono/node-server's direct read of the request, where `req.body` first builds a WHATWG Request
  // and a web stream over it (0.36-0.41 ms of an async webhook's accept). The size is checked again,
  // for a Request that did not come from Node's server.
  if (Number.isFinite(declared)) {
    const whole = Buffer.from(await req.arrayBuffer());
    if (whole.byteLength > limit) throw tooLarge();
    return whole;
  }
  if (!req.body) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let size = 0;
  const reader = req.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) { await reader.cancel().catch(() => {}); throw tooLarge(); }
    chunks.push(Buffer.from(value));
  }
  return Buffer.concat(chunks);
}
