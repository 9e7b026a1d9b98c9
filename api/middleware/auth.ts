// Authentication: who is calling. Each authenticator recognises its own credential format and
// answers undefined for one that is not its kind, so API keys and JWTs share one Bearer header.
import type { Context, MiddlewareHandler } from 'hono';
import type { AppEnv } from '../app-env.ts';
import type { Actor, AuthPrincipal } from '../actor.ts';
import { CofferError } from '../errors.ts';

export type AuthResult = { principal: AuthPrincipal } | { error: string; description: string };
export type Authenticator = (token: string) => Promise<AuthResult | undefined>;

export interface AuthOptions {
  authenticators: Authenticator[];
  /** Called on every failed attempt (for the audit trail); never given the credential itself. */
  onFailure: (c: Context<AppEnv>, reason: string) => Promise<void>;
}

const REALM = 'Bearer realm="coffer"';

export function authenticate(options: AuthOptions): MiddlewareHandler<AppEnv> {
  if (options.authenticators.length === 0) throw new Error('authenticate: at least one authenticator is required');
  return async (c, next) => {
    const header = c.req.header('authorization');
    if (!header) {
      throw new CofferError('unauthenticated', 'missing Authorization: Bearer credentials', { headers: { 'WWW-Authenticate': REALM } });
    }
    const match = /^Bearer[ ]+([A-Za-z0-9._~+/=-]+)\s*$/i.exec(header);
    let result: AuthResult | undefined;
    if (match) {
      for (const authenticator of options.authenticators) {
        result = await authenticator(match[1]);
        if (result) break;
      }
    }
    if (!result || 'error' in result) {
      const reason = result && 'error' in result ? result.error : match ? 'unrecognised_credential' : 'malformed_header';
      const description = result && 'error' in result ? result.description : 'the credentials are not valid';
      await options.onFailure(c, reason);
      throw new CofferError('unauthenticated', description, {
        headers: { 'WWW-Authenticate': `${REALM}, error="invalid_token", error_description="${description.replace(/"/g, "'")}"` },
      });
    }
    c.set('principal', result.principal);
    await next();
  };
}

export function actorOf(c: Context<AppEnv>): Actor {
  return { principal: c.get('principal'), requestId: c.get('requestId'), clientRequestId: c.get('clientRequestId') };
}
