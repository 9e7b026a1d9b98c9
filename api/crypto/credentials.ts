// Bearer credentials (API keys, OAuth client secrets): generation, hashing, constant-time checks.
// The credentials carry 256 bits of randomness, so a plain SHA-256 is a safe stored form
// (as with GitHub tokens); a slow password hash would only add latency to every request.
import crypto from 'node:crypto';

export const API_KEY_PREFIX = 'coffer_';
export const CLIENT_SECRET_PREFIX = 'coffer_cs_';
/** Any `coffer_` followed by at least 32 URL-safe base64 characters (bootstrap keys may be given). */
export const API_KEY_PATTERN = /^coffer_[A-Za-z0-9_-]{32,}$/;

export function newApiKey(): string {
  return API_KEY_PREFIX + crypto.randomBytes(32).toString('base64url');
}

export function newClientSecret(): string {
  return CLIENT_SECRET_PREFIX + crypto.randomBytes(32).toString('base64url');
}

export function hashCredential(value: string): string {
  return crypto.createHash('sha256').update(value, 'utf8').digest('hex');
}

/** The first characters, kept for display and for finding a leaked key in listings. */
export function displayPrefix(value: string): string {
  return value.slice(0, 12);
}

export function constantTimeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  // Compare equal-length digests so the length of the input does not show in the timing.
  const ah = crypto.createHash('sha256').update(ab).digest();
  const bh = crypto.createHash('sha256').update(bb).digest();
  return crypto.timingSafeEqual(ah, bh) && ab.length === bb.length;
}

/**
 * Random bytes for identifiers (never for credentials), taken from a buffer filled 4 KiB at a time:
 * the hot path makes two or three ids per invocation, and each randomBytes call was a trip into
 * OpenSSL. Every byte is handed out once.
 */
const ID_POOL_BYTES = 4096;
const idPool = Buffer.alloc(ID_POOL_BYTES);
let idPoolAt = ID_POOL_BYTES;

export function randomIdText(bytes: number): string {
  if (idPoolAt + bytes > ID_POOL_BYTES) {
    crypto.randomFillSync(idPool);
    idPoolAt = 0;
  }
  const text = idPool.toString('base64url', idPoolAt, idPoolAt + bytes);
  idPoolAt += bytes;
  return text;
}

export function newId(prefix: string): string {
  return `${prefix}_${randomIdText(12)}`;
}
