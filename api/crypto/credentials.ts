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

export function newId(prefix: string): string {
  return `${prefix}_${crypto.randomBytes(12).toString('base64url')}`;
}
