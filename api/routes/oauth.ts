// /oauth2/token, /.well-known/oauth-authorization-server, /.well-known/jwks.json (public, outside
// the /v1 auth middleware) and /v1/admin/signing-keys/rotate. The token endpoint answers in
// RFC 6749 §5.2's own error format, not Coffer's error envelope, because OAuth clients parse it.
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { sourceAddress } from '../middleware/source-address.ts';
import type { AppEnv } from '../app-env.ts';
import { createRouter, commonErrors, jsonResponse, BEARER } from './openapi.ts';
import { actorOf } from '../middleware/auth.ts';
import { OAuthError, invalidRequest, SCOPES, type OAuthTokens, type TokenRequest, type TokenRequestContext } from '../services/oauth-tokens.ts';
import type { SigningKeys } from '../services/signing-keys.ts';

const FORM = 'application/x-www-form-urlencoded';
const NO_STORE = { 'Cache-Control': 'no-store', Pragma: 'no-cache' };
const BASIC_CHALLENGE = 'Basic realm="coffer"';
const TOKEN_PARAMS = ['grant_type', 'client_id', 'client_secret', 'scope'] as const;

/** RFC 6749 appendix B: Basic credentials are form-urlencoded before base64 (so '+' is a space). */
function formDecode(value: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    throw new OAuthError(401, 'invalid_client', 'malformed Basic credentials', 'malformed_basic');
  }
}

function parseBasic(header: string): { clientId: string; clientSecret: string } {
  const match = /^Basic[ ]+([A-Za-z0-9+/]+={0,2})[ ]*$/i.exec(header);
  if (!match) throw new OAuthError(401, 'invalid_client', 'unsupported client authentication method; use HTTP Basic or client_secret_post', 'unsupported_auth_scheme');
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw new OAuthError(401, 'invalid_client', 'malformed Basic credentials', 'malformed_basic');
  return { clientId: formDecode(decoded.slice(0, colon)), clientSecret: formDecode(decoded.slice(colon + 1)) };
}

/** Reads the token request; fills ctx with the claimed client id and method as soon as they are known. */
async function readTokenRequest(c: Context<AppEnv>, ctx: TokenRequestContext): Promise<TokenRequest> {
  // §3.2/§2.3.1: parameters, credentials above all, never travel in the URL (it ends up in logs).
  if (new URL(c.req.url).search.length > 1) {
    const q = new URL(c.req.url).searchParams;
    throw invalidRequest('send parameters in the form-encoded request body, not in the URL', q.has('client_secret') ? 'credentials_in_query' : 'parameters_in_query');
  }
  const mediaType = (c.req.header('content-type') ?? '').split(';')[0].trim().toLowerCase();
  if (mediaType !== FORM) throw invalidRequest(`the request body must be ${FORM}`, 'wrong_content_type');

  const form = new URLSearchParams(await c.req.text());
  const params: Partial<Record<(typeof TOKEN_PARAMS)[number], string>> = {};
  for (const name of TOKEN_PARAMS) {
    const values = form.getAll(name);
    if (values.length > 1) throw invalidRequest(`"${name}" was given more than once`, 'repeated_parameter');
    // §3.2: a parameter sent without a value is treated as omitted.
    if (values[0]) params[name] = values[0];
  }

  const authorization = c.req.header('authorization');
  if (authorization) {
    ctx.via = 'client_secret_basic';
    const basic = parseBasic(authorization);
    ctx.clientId = basic.clientId;
    // §2.3: one authentication method per request. A body client_id naming the same client is harmless.
    if (params.client_secret || (params.client_id && params.client_id !== basic.clientId)) {
      throw invalidRequest('use either HTTP Basic or client_id/client_secret in the body, not both', 'both_methods');
    }
    return { grantType: params.grant_type, scope: params.scope, ...basic };
  }
  if (params.client_id || params.client_secret) ctx.via = 'client_secret_post';
  ctx.clientId = params.client_id;
  return { grantType: params.grant_type, scope: params.scope, clientId: params.client_id, clientSecret: params.client_secret };
}

function oauthError(c: Context<AppEnv>, err: OAuthError, ctx: TokenRequestContext) {
  const headers: Record<string, string> = { ...NO_STORE };
  // §5.2: a client that tried the Authorization header gets 401 with a challenge for that scheme.
  if (err.error === 'invalid_client' && ctx.via === 'client_secret_basic') headers['WWW-Authenticate'] = BASIC_CHALLENGE;
  return c.json({ error: err.error, error_description: err.message }, err.status as 400, headers);
}

const TokenResponse = z.object({
  access_token: z.string(), token_type: z.literal('Bearer'), expires_in: z.number().int(), scope: z.string(),
}).openapi('TokenResponse');
const OAuthErrorSchema = z.object({ error: z.string(), error_description: z.string().optional() }).openapi('OAuthError');

export function oauthRoutes(tokens: OAuthTokens, signingKeys: SigningKeys) {
  const r = createRouter();
  const tags = ['OAuth'];

  r.openAPIRegistry.registerPath({
    method: 'post', path: '/oauth2/token', tags,
    summary: 'Exchange service-account client credentials for an access token (RFC 6749 §4.4)',
    description: `Form-encoded body with grant_type=client_credentials; client authentication by HTTP Basic or client_id/client_secret in the body (not both). Scopes: ${Object.entries(SCOPES).map(([k, v]) => `${k} (${v})`).join('; ')}. Default scope: coffer. No refresh token is issued.`,
    request: { body: { required: true, content: { [FORM]: { schema: z.object({ grant_type: z.literal('client_credentials'), scope: z.string().optional(), client_id: z.string().optional(), client_secret: z.string().optional() }) } } } },
    responses: {
      200: jsonResponse(TokenResponse, 'Issued'),
      400: jsonResponse(OAuthErrorSchema, 'invalid_request, unsupported_grant_type, invalid_scope'),
      401: jsonResponse(OAuthErrorSchema, 'invalid_client'),
      429: jsonResponse(OAuthErrorSchema, 'Too many failed attempts (see Retry-After)'),
    },
  });

  r.post('/oauth2/token', async (c) => {
    const ctx: TokenRequestContext = { source: sourceAddress(c), requestId: c.get('requestId'), clientRequestId: c.get('clientRequestId') };
    // Addresses with too many recent failures are turned away before anything is checked, and not
    // audited (their failures already were); other addresses, and so the real client, are not affected.
    const tooMany = (wait: number) => c.json({ error: 'temporarily_unavailable', error_description: 'too many failed attempts; try again later' },
      429, { ...NO_STORE, 'Retry-After': String(wait) });
    try {
      const wait = tokens.retryAfter(ctx);
      if (wait > 0) return tooMany(wait);
      const request = await readTokenRequest(c, ctx);
      return c.json(await tokens.issue(request, ctx), 200, NO_STORE);
    } catch (err) {
      if (!(err instanceof OAuthError)) throw err;
      await tokens.refuse(ctx, err);
      return oauthError(c, err, ctx);
    }
  });

  r.openapi(createRoute({ method: 'get', path: '/.well-known/oauth-authorization-server', tags, summary: 'Authorization server metadata (RFC 8414)',
    responses: { 200: jsonResponse(z.object({}).passthrough(), 'Metadata') } }),
  (c) => c.json(tokens.metadata(), 200));

  r.openapi(createRoute({ method: 'get', path: '/.well-known/jwks.json', tags, summary: 'Public keys that verify access tokens (RFC 7517)',
    responses: { 200: jsonResponse(z.object({ keys: z.array(z.object({}).passthrough()) }), 'Key set') } }),
  async (c) => {
    // Short caching: a new key signs right after rotation, and verifiers refetch on an unknown kid.
    c.header('Cache-Control', 'public, max-age=300');
    return c.json(await signingKeys.jwks(), 200);
  });

  return r;
}

export function signingKeyAdminRoutes(tokens: OAuthTokens) {
  const r = createRouter();
  r.openapi(createRoute({ method: 'post', path: '/v1/admin/signing-keys/rotate', tags: ['OAuth'], security: BEARER,
    summary: 'Start signing access tokens with a new key (admin); the old public key stays published until its tokens expire',
    responses: { 200: jsonResponse(z.object({ kid: z.string(), retiredKid: z.string().nullable() }), 'Rotated'), ...commonErrors } }),
  async (c) => c.json(await tokens.rotateSigningKey(actorOf(c)), 200));
  return r;
}
