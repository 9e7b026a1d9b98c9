// Signature schemes of incoming webhooks, each as its provider documents it:
//   github   X-Hub-Signature-256: sha256=<hex HMAC-SHA256(key, body)>  (no timestamp; X-GitHub-Delivery identifies it)
//   stripe   Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256(key, "<t>.<body>")>[,v1=...]
//   slack    X-Slack-Request-Timestamp: <unix>, X-Slack-Signature: v0=<hex HMAC-SHA256(key, "v0:<ts>:<body>")>
//   standard webhook-id, webhook-timestamp, webhook-signature: v1,<base64 HMAC-SHA256(base64-decoded key, "<id>.<ts>.<body>")> ...
// Where a scheme has a timestamp it must be within five minutes of now. Every comparison is of
// fixed-length digests with crypto.timingSafeEqual. Several keys may be given (a rotation under way).
import crypto from 'node:crypto';

export const SCHEMES = ['github', 'stripe', 'slack', 'standard'] as const;
export type Scheme = (typeof SCHEMES)[number];
export const REPLAY_WINDOW_S = 300;

/** Headers that carry a signature: verified here, never passed to the function. */
export const SIGNATURE_HEADERS = ['x-hub-signature-256', 'x-hub-signature', 'stripe-signature', 'x-slack-signature', 'webhook-signature'];

export type Verdict =
  | { ok: true; deliveryId?: string }
  | { ok: false; reason: 'missing_signature' | 'bad_signature' | 'stale_timestamp' };

type Headers = Record<string, string>;

const hmac = (key: Buffer | string, ...parts: (Buffer | string)[]) => {
  const h = crypto.createHmac('sha256', key);
  for (const p of parts) h.update(p);
  return h.digest();
};

/** Constant time over the digest; a candidate of the wrong length is simply unequal. */
function digestEquals(expected: Buffer, candidate: Buffer): boolean {
  return candidate.length === expected.length && crypto.timingSafeEqual(candidate, expected);
}

function fromHex(s: string): Buffer {
  return /^[0-9a-f]+$/i.test(s) && s.length % 2 === 0 ? Buffer.from(s, 'hex') : Buffer.alloc(0);
}

function fresh(ts: string | undefined, nowS: number): boolean | undefined {
  if (!ts || !/^\d{1,12}$/.test(ts)) return undefined;
  return Math.abs(nowS - Number(ts)) <= REPLAY_WINDOW_S;
}

/** Standard Webhooks keys are `whsec_<base64>`; the HMAC key is the decoded bytes. */
function standardKey(key: string): Buffer {
  return Buffer.from(key.startsWith('whsec_') ? key.slice(6) : key, 'base64');
}

export function verifySignature(scheme: Scheme, keys: string[], headers: Headers, body: Buffer, nowS = Math.floor(Date.now() / 1000)): Verdict {
  switch (scheme) {
    case 'github': {
      const header = headers['x-hub-signature-256'];
      if (!header?.startsWith('sha256=')) return { ok: false, reason: 'missing_signature' };
      const candidate = fromHex(header.slice(7));
      const ok = keys.some((k) => digestEquals(hmac(k, body), candidate));
      return ok ? { ok: true, deliveryId: headers['x-github-delivery'] } : { ok: false, reason: 'bad_signature' };
    }
    case 'stripe': {
      const header = headers['stripe-signature'];
      if (!header) return { ok: false, reason: 'missing_signature' };
      const pairs = header.split(',').map((p) => p.trim().split('=', 2) as [string, string | undefined]);
      const t = pairs.find(([k]) => k === 't')?.[1];
      const v1 = pairs.filter(([k, v]) => k === 'v1' && v).map(([, v]) => fromHex(v!));
      if (!t || v1.length === 0) return { ok: false, reason: 'missing_signature' };
      const isFresh = fresh(t, nowS);
      if (isFresh === undefined) return { ok: false, reason: 'missing_signature' };
      const ok = keys.some((k) => { const d = hmac(k, t, '.', body); return v1.some((c) => digestEquals(d, c)); });
      if (!ok) return { ok: false, reason: 'bad_signature' };
      return isFresh ? { ok: true, deliveryId: `stripe:${header}` } : { ok: false, reason: 'stale_timestamp' };
    }
    case 'slack': {
      const header = headers['x-slack-signature'];
      const ts = headers['x-slack-request-timestamp'];
      if (!header?.startsWith('v0=') || !ts) return { ok: false, reason: 'missing_signature' };
      const isFresh = fresh(ts, nowS);
      if (isFresh === undefined) return { ok: false, reason: 'missing_signature' };
      const candidate = fromHex(header.slice(3));
      const ok = keys.some((k) => digestEquals(hmac(k, 'v0:', ts, ':', body), candidate));
      if (!ok) return { ok: false, reason: 'bad_signature' };
      return isFresh ? { ok: true, deliveryId: `slack:${header}` } : { ok: false, reason: 'stale_timestamp' };
    }
    case 'standard': {
      const id = headers['webhook-id'];
      const ts = headers['webhook-timestamp'];
      const header = headers['webhook-signature'];
      if (!id || !ts || !header) return { ok: false, reason: 'missing_signature' };
      const isFresh = fresh(ts, nowS);
      if (isFresh === undefined) return { ok: false, reason: 'missing_signature' };
      const candidates = header.split(' ').filter((s) => s.startsWith('v1,')).map((s) => Buffer.from(s.slice(3), 'base64'));
      const ok = keys.some((k) => { const d = hmac(standardKey(k), id, '.', ts, '.', body); return candidates.some((c) => digestEquals(d, c)); });
      if (!ok) return { ok: false, reason: 'bad_signature' };
      return isFresh ? { ok: true, deliveryId: `standard:${id}` } : { ok: false, reason: 'stale_timestamp' };
    }
  }
}
