// Authenticates OAuth access tokens (JWTs this instance minted). The signature check pins ES256,
// `typ: at+jwt`, a published kid, our issuer and audience; then the database is asked, on every
// request and with no cache, whether the account and the client secret that minted the token are
// still there and active, so deactivating or deleting either cuts the token off at once.
import { jwtVerify, errors, type JWTPayload } from 'jose';
import type { Db } from '../../db/client.ts';
import { findClientSecretWithAccount } from '../../db/repos/service-accounts.ts';
import type { Authenticator } from '../middleware/auth.ts';
import { CLOCK_TOLERANCE_S, SIGNING_ALG, type SigningKeys } from './signing-keys.ts';
import { ACCESS_TOKEN_TYPE, DEFAULT_SCOPE } from './oauth-tokens.ts';

/** Three base64url segments (the last may be empty, as in an `alg: none` token, which is then refused). */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

interface AccessTokenClaims extends JWTPayload { sub: string; jti: string; csid: string; scope: string }

export function createAccessTokenAuthenticator(deps: { db: Db; signingKeys: SigningKeys; issuer: () => string; audience: () => string }): Authenticator {
  const invalid = { error: 'invalid_token', description: 'the access token is not valid' };

  return async (token) => {
    if (!JWT_SHAPE.test(token)) return undefined;
    let claims: AccessTokenClaims;
    try {
      const verified = await jwtVerify(token, async (header) => {
        const key = await deps.signingKeys.verificationKey(header.kid);
        if (!key) throw new errors.JWKSNoMatchingKey();
        return key;
      }, {
        algorithms: [SIGNING_ALG],
        typ: ACCESS_TOKEN_TYPE,
        issuer: deps.issuer(),
        audience: deps.audience(),
        clockTolerance: CLOCK_TOLERANCE_S,
        requiredClaims: ['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti', 'csid', 'scope'],
      });
      claims = verified.payload as AccessTokenClaims;
    } catch (err) {
      if (err instanceof errors.JWTExpired) return { error: 'expired_token', description: 'the access token has expired' };
      // Only a token jose refused is invalid. Anything else (the signing-key lookup failing with
      // the database) is ours, not the caller's: it goes to the error handler (503 unavailable).
      if (err instanceof errors.JOSEError || err instanceof TypeError) return invalid;
      throw err;
    }
    if (typeof claims.csid !== 'string' || typeof claims.scope !== 'string' || !claims.scope.split(' ').includes(DEFAULT_SCOPE)) return invalid;

    const row = await findClientSecretWithAccount(deps.db, claims.csid);
    if (!row || row.account.id !== claims.sub || row.account.kind !== 'service_account') {
      return { error: 'revoked_token', description: 'the client secret or account that issued this access token no longer exists' };
    }
    if (!row.account.active) return { error: 'inactive_principal', description: 'the account is deactivated' };
    if (!row.ownerActive) return { error: 'inactive_owner', description: 'the account\'s owner is deactivated' };
    if (!row.secret.active) return { error: 'revoked_token', description: 'the client secret that issued this access token is deactivated' };
    const { account } = row;
    return { principal: { id: account.id, kind: 'service_account', name: account.name, isAdmin: account.isAdmin, via: 'oauth', credentialId: claims.jti } };
  };
}
