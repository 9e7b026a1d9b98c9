// How the client proves who it is: a fixed API key, or OAuth 2.0 client credentials exchanged at
// /oauth2/token for an access token that is cached and replaced shortly before it expires.
import { CofferApiError, errorFromResponse } from './errors.ts';

export interface CachedToken {
  accessToken: string;
  /** Epoch milliseconds. */
  expiresAt: number;
  /** Epoch milliseconds: when it was requested (gives the lifetime, hence the renewal margin). */
  issuedAt: number;
}

/** Where a token may outlive one process (the CLI keeps it beside its config, mode 0600). */
export interface TokenCache {
  load(): CachedToken | undefined | Promise<CachedToken | undefined>;
  save(token: CachedToken): void | Promise<void>;
}

export interface OAuthCredentials {
  clientId: string;
  clientSecret: string;
  scope?: string;
  /** Renew when less than this much of the token's life is left (default: a tenth of it, 5 s to 60 s). */
  refreshBeforeMs?: number;
  cache?: TokenCache;
}

export interface BearerSource {
  /** A bearer credential for the next request. */
  get(): Promise<string>;
  /** The server refused the last one: forget it (true if a new one may help). */
  invalidate(): boolean;
}

export function apiKeySource(key: string): BearerSource {
  return { get: async () => key, invalidate: () => false };
}

/** Renewal margin for a token that lives `lifetimeMs`. */
export const refreshMargin = (lifetimeMs: number) => Math.min(60_000, Math.max(Math.min(5_000, lifetimeMs / 2), lifetimeMs / 10));

export function clientCredentialsSource(options: {
  tokenUrl: string;
  credentials: OAuthCredentials;
  send: (request: Request) => Promise<Response>;
  now?: () => number;
}): BearerSource {
  const { credentials, send, now = Date.now } = options;
  let current: (CachedToken & { renewAt: number }) | undefined;
  let pending: Promise<string> | undefined;
  let loadedFromCache = false;
  const withRenewal = (t: CachedToken) => ({
    ...t, renewAt: t.expiresAt - (credentials.refreshBeforeMs ?? refreshMargin(t.expiresAt - t.issuedAt)),
  });

  async function fetchToken(): Promise<string> {
    const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: credentials.clientId, client_secret: credentials.clientSecret });
    if (credentials.scope) form.set('scope', credentials.scope);
    const requestedAt = now();
    const response = await send(new Request(options.tokenUrl, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }, body: form,
    }));
    const body = await response.json().catch(() => null) as { access_token?: unknown; expires_in?: unknown } | null;
    if (!response.ok) throw errorFromResponse(response, body);
    if (typeof body?.access_token !== 'string' || typeof body.expires_in !== 'number') {
      throw new CofferApiError('invalid_response', 'the token endpoint answered without an access token', { status: response.status, requestId: response.headers.get('x-request-id') });
    }
    const lifetime = body.expires_in * 1000;
    // Counted from when we asked, not when the answer arrived: errs on the early side.
    current = withRenewal({ accessToken: body.access_token, issuedAt: requestedAt, expiresAt: requestedAt + lifetime });
    await credentials.cache?.save({ accessToken: current.accessToken, issuedAt: current.issuedAt, expiresAt: current.expiresAt });
    return current.accessToken;
  }

  return {
    async get() {
      if (!current && !loadedFromCache && credentials.cache) {
        loadedFromCache = true;
        const cached = await credentials.cache.load();
        if (cached) current = withRenewal(cached);
      }
      if (current && now() < current.renewAt) return current.accessToken;
      // Concurrent requests share one token request.
      pending ??= fetchToken().finally(() => { pending = undefined; });
      return pending;
    },
    invalidate() {
      current = undefined;
      return true;
    },
  };
}
