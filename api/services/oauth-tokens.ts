// The OAuth 2.0 client-credentials grant (RFC 6749 §4.4): authenticates a service account by its
// client id and one of its client secrets and mints a short-lived JWT access token (RFC 9068).
// Errors follow RFC 6749 §5.2, never saying whether the id or the secret was wrong. Every refusal
// counts against the caller's source address, and only that: counting per client id would let
// anyone who knows an id (viewers, grant lists, audit rows show them) lock the real client out, and
// a 256-bit secret cannot be guessed by spreading attempts over addresses anyway. So a request that
// presents a correct, active secret is never refused for failures from elsewhere. Refusals are
// audited through the per-address failure throttle (api/audit/failure-throttle.ts).
import { SignJWT } from 'jose';
import { inTransaction, type Db } from '../../db/client.ts';
import * as accountsRepo from '../../db/repos/service-accounts.ts';
import { hashCredential, constantTimeEqual, newId } from '../crypto/credentials.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { FailureThrottle } from '../audit/failure-throttle.ts';
import { actorFields, type Actor } from '../actor.ts';
import { requireAdmin } from './vault-access.ts';
import type { FailureLimiter } from './rate-limit.ts';
import { ACCESS_TOKEN_TTL_S, SIGNING_ALG, type SigningKeys } from './signing-keys.ts';

/** The scopes a token can carry. `coffer` is the whole API, acting as the service account. */
export const SCOPES: Record<string, string> = {
  coffer: 'Full API access as the service account, limited by its own grants and roles',
};
export const DEFAULT_SCOPE = 'coffer';
export const ACCESS_TOKEN_TYPE = 'at+jwt';
/** Client ids are service-account principal ids (`sa_` + 16 URL-safe characters). */
export const CLIENT_ID_PATTERN = /^sa_[A-Za-z0-9_-]{1,60}$/;

export type OAuthErrorCode = 'invalid_request' | 'invalid_client' | 'unsupported_grant_type' | 'invalid_scope' | 'temporarily_unavailable';

/** An RFC 6749 §5.2 error. `reason` is for the audit trail only and never reaches the client. */
export class OAuthError extends Error {
  readonly status: number;
  readonly error: OAuthErrorCode;
  readonly reason: string;
  constructor(status: number, error: OAuthErrorCode, description: string, reason: string = error) {
    super(description);
    this.name = 'OAuthError';
    this.status = status;
    this.error = error;
    this.reason = reason;
  }
}

export const invalidRequest = (description: string, reason: string) => new OAuthError(400, 'invalid_request', description, reason);
const invalidClient = (reason: string) => new OAuthError(401, 'invalid_client', 'client authentication failed', reason);

export interface TokenRequest {
  grantType?: string;
  clientId?: string;
  clientSecret?: string;
  scope?: string;
}

/** Where a token request came from, for rate limiting and the audit trail. */
export interface TokenRequestContext {
  source: string;
  requestId: string;
  clientRequestId?: string;
  clientId?: string;
  via?: 'client_secret_basic' | 'client_secret_post';
}

export interface OAuthTokensDeps {
  db: Db;
  audit: AuditLog;
  failureAudit: FailureThrottle;
  signingKeys: SigningKeys;
  limiter: FailureLimiter;
  /** The issuer URL, known only once the server listens (hence a getter). */
  issuer: () => string;
  /** Access-token lifetime (default ACCESS_TOKEN_TTL_S, which is also the most it may be). */
  tokenTtlSeconds?: number;
  now?: () => Date;
}

export function createOAuthTokens(deps: OAuthTokensDeps) {
  const { db, audit, failureAudit, signingKeys, limiter, now = () => new Date() } = deps;
  const issuer = () => deps.issuer().replace(/\/+$/, '');
  /** Tokens are for this instance's API and nothing else. */
  const audience = () => `${issuer()}/v1`;
  const ttl = Math.min(deps.tokenTtlSeconds ?? ACCESS_TOKEN_TTL_S, ACCESS_TOKEN_TTL_S);
  const limitKeys = (ctx: TokenRequestContext) => [`addr:${ctx.source}`];

  async function authenticateClient(clientId: string, clientSecret: string) {
    // Hash first and compare against every secret of the account, so unknown ids and wrong
    // secrets take the same path.
    const hash = hashCredential(clientSecret);
    const account = CLIENT_ID_PATTERN.test(clientId) ? await accountsRepo.findServiceAccountWithOwner(db, clientId) : undefined;
    const secrets = account ? await accountsRepo.listClientSecrets(db, account.id) : [];
    const secret = secrets.find((s) => constantTimeEqual(s.hash, hash));
    if (!account) throw invalidClient('unknown_client');
    if (account.authKind !== 'oauth') throw invalidClient('not_an_oauth_account');
    if (!secret) throw invalidClient('wrong_secret');
    if (!account.active) throw invalidClient('inactive_account');
    if (account.ownerActive === false) throw invalidClient('inactive_owner');
    if (!secret.active) throw invalidClient('inactive_secret');
    return { account, secret };
  }

  function resolveScope(requested: string | undefined): string {
    if (requested === undefined) return DEFAULT_SCOPE;
    const scopes = requested.split(' ');
    const unknown = scopes.filter((s) => !Object.hasOwn(SCOPES, s));
    if (unknown.length || scopes.length === 0) throw new OAuthError(400, 'invalid_scope', `supported scopes: ${Object.keys(SCOPES).join(', ')}`);
    return [...new Set(scopes)].join(' ');
  }

  return {
    audience,
    issuer,

    /** RFC 8414 authorization server metadata. */
    metadata() {
      const base = issuer();
      return {
        issuer: base,
        token_endpoint: `${base}/oauth2/token`,
        jwks_uri: `${base}/.well-known/jwks.json`,
        grant_types_supported: ['client_credentials'],
        token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
        scopes_supported: Object.keys(SCOPES),
        response_types_supported: [] as string[],
      };
    },

    /** Seconds the caller must wait before trying again (0: go ahead). */
    retryAfter(ctx: TokenRequestContext): number {
      return limiter.retryAfter(limitKeys(ctx));
    },

    async issue(request: TokenRequest, ctx: TokenRequestContext) {
      if (!request.grantType) throw invalidRequest('grant_type is required', 'missing_grant_type');
      if (request.grantType !== 'client_credentials') {
        throw new OAuthError(400, 'unsupported_grant_type', 'only the client_credentials grant is supported');
      }
      if (!request.clientId || !request.clientSecret) throw invalidClient('missing_credentials');
      const { account, secret } = await authenticateClient(request.clientId, request.clientSecret);
      const scope = resolveScope(request.scope);

      const { kid, key } = await signingKeys.current();
      const issuedAt = Math.floor(now().getTime() / 1000);
      const jti = newId('at');
      const accessToken = await new SignJWT({ scope, client_id: account.id, csid: secret.id })
        .setProtectedHeader({ alg: SIGNING_ALG, kid, typ: ACCESS_TOKEN_TYPE })
        .setIssuer(issuer()).setSubject(account.id).setAudience(audience())
        .setIssuedAt(issuedAt).setNotBefore(issuedAt).setExpirationTime(issuedAt + ttl)
        .setJti(jti)
        .sign(key);

      await inTransaction(db, async (tx) => {
        await accountsRepo.touchClientSecret(tx, secret.id, now());
        // The jti identifies the token in the trail; the token itself is never stored.
        await audit.append({
          action: 'oauth.token.issued', outcome: 'allowed', actorId: account.id, actorKind: 'service_account', requestId: ctx.requestId, clientRequestId: ctx.clientRequestId,
          detail: { jti, clientSecretId: secret.id, kid, scope, via: ctx.via, source: ctx.source, expiresAt: new Date((issuedAt + ttl) * 1000).toISOString() },
        }, tx);
      });
      return { access_token: accessToken, token_type: 'Bearer' as const, expires_in: ttl, scope };
    },

    /** Records a refused token request: one failure per rate-limit key and one audit row. */
    async refuse(ctx: TokenRequestContext, err: OAuthError) {
      limiter.recordFailure(limitKeys(ctx));
      await failureAudit.record(ctx.source, {
        action: 'oauth.token.denied', outcome: 'denied', requestId: ctx.requestId, clientRequestId: ctx.clientRequestId,
        // Only a well-formed client id is recorded: a malformed one may be a secret pasted in the wrong field.
        detail: { error: err.error, reason: err.reason, clientId: ctx.clientId && CLIENT_ID_PATTERN.test(ctx.clientId) ? ctx.clientId : null, via: ctx.via ?? null, source: ctx.source },
      });
    },

    async rotateSigningKey(actor: Actor) {
      requireAdmin(actor);
      const rotated = await signingKeys.rotate();
      await audit.append({ action: 'signing_key.rotate', outcome: 'allowed', ...actorFields(actor), detail: rotated });
      return rotated;
    },
  };
}

export type OAuthTokens = ReturnType<typeof createOAuthTokens>;
