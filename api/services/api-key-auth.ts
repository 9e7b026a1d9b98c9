// Authenticates `coffer_...` API keys: look up by hash, compare in constant time, refuse revoked
// keys and inactive principals on the very next request (the lookup cache is invalidated by every
// committed write, see db/access-cache.ts).
import type { Db } from '../../db/client.ts';
import { findApiKeyByHash, touchApiKey } from '../../db/repos/principals.ts';
import { hashCredential, constantTimeEqual, API_KEY_PREFIX, CLIENT_SECRET_PREFIX } from '../crypto/credentials.ts';
import type { Authenticator } from '../middleware/auth.ts';
import { createAccessCache, type AccessCachePolicy } from '../../db/access-cache.ts';

/** last_used_at is a hint, not an audit record: write it at most once a minute per key. */
const TOUCH_INTERVAL_MS = 60_000;

export function createApiKeyAuthenticator(db: Db, accessCache?: AccessCachePolicy): Authenticator {
  // Only keys that were found are cached, so unknown keys cannot fill the cache.
  const cache = createAccessCache<Awaited<ReturnType<typeof findApiKeyByHash>>>(accessCache);
  return async (token) => {
    if (!token.startsWith(API_KEY_PREFIX) || token.startsWith(CLIENT_SECRET_PREFIX)) return undefined;
    const invalid = { error: 'invalid_api_key', description: 'the API key is not valid' };
    const hash = hashCredential(token);
    const row = await cache.get(hash, () => findApiKeyByHash(db, hash));
    if (!row || !constantTimeEqual(row.key.hash, hash)) return invalid;
    if (row.key.revokedAt) return { error: 'revoked_api_key', description: 'the API key was revoked' };
    if (!row.principal.active) return { error: 'inactive_principal', description: 'the account is deactivated' };
    if (!row.ownerActive) return { error: 'inactive_owner', description: 'the account\'s owner is deactivated' };
    const now = new Date();
    if (!row.key.lastUsedAt || now.getTime() - row.key.lastUsedAt.getTime() > TOUCH_INTERVAL_MS) {
      await touchApiKey(db, row.key.id, now);
      cache.update(hash, { ...row, key: { ...row.key, lastUsedAt: now } });
    }
    return {
      principal: { id: row.principal.id, kind: row.principal.kind, name: row.principal.name, isAdmin: row.principal.isAdmin, via: 'api_key', credentialId: row.key.id },
    };
  };
}
