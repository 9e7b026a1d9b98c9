// The keys that sign access tokens. One key signs at a time; it is generated on first use, its
// private half sealed under the master key (rewrapped with the secrets by `coffer rewrap`).
// Rotation retires the current key and starts a new one. A retired key's public half stays in the
// JWKS until the last token it signed has expired (retiredAt + token lifetime + clock tolerance),
// then it is pruned. Rotation is therefore not revocation: to cut off tokens, deactivate the
// account or the client secret, which every request checks.
import { generateKeyPair, exportJWK, importJWK, calculateJwkThumbprint, type JWK, type CryptoKey } from 'jose';
import { inTransaction, type Db } from '../../db/client.ts';
import * as signingRepo from '../../db/repos/signing-keys.ts';
import { lockSigningKeyRotation } from '../../db/repos/service-accounts.ts';
import { seal, open, signingKeyAad } from '../crypto/envelope.ts';
import type { Keyring } from '../crypto/keyring.ts';

export const SIGNING_ALG = 'ES256';
/** Access-token lifetime (seconds), as in the token response's expires_in. */
export const ACCESS_TOKEN_TTL_S = 3600;
/** Allowed clock difference when checking exp and nbf (seconds). */
export const CLOCK_TOLERANCE_S = 30;

type SigningKeyRow = Awaited<ReturnType<typeof signingRepo.listSigningKeys>>[number];

export interface PublishedJwk extends JWK { kid: string; alg: string; use: 'sig' }

export function createSigningKeys(deps: { db: Db; keyring: Keyring; now?: () => Date }) {
  const { db, keyring, now = () => new Date() } = deps;
  // Imported keys by kid. A kid names one immutable key pair, so these never go stale; whether a
  // key may still be used is decided from the database on every call.
  const privateKeys = new Map<string, CryptoKey>();
  const publicKeys = new Map<string, CryptoKey>();

  const publishedUntil = (row: SigningKeyRow) =>
    row.retiredAt ? row.retiredAt.getTime() + (ACCESS_TOKEN_TTL_S + CLOCK_TOLERANCE_S) * 1000 : Infinity;

  async function generate(tx: Db): Promise<string> {
    const { publicKey, privateKey } = await generateKeyPair(SIGNING_ALG, { extractable: true });
    const publicJwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(publicJwk);
    const sealed = seal(keyring, JSON.stringify(await exportJWK(privateKey)), signingKeyAad(kid));
    await signingRepo.insertSigningKey(tx, {
      kid, alg: SIGNING_ALG, publicJwk: { ...publicJwk, kid, alg: SIGNING_ALG, use: 'sig' },
      privateCiphertext: sealed.ciphertext, wrappedKey: sealed.wrappedKey, masterKeyId: sealed.masterKeyId,
    });
    return kid;
  }

  async function privateKeyOf(row: SigningKeyRow): Promise<CryptoKey> {
    const cached = privateKeys.get(row.kid);
    if (cached) return cached;
    const plain = open(keyring, { ciphertext: row.privateCiphertext, wrappedKey: row.wrappedKey, masterKeyId: row.masterKeyId }, signingKeyAad(row.kid));
    try {
      const key = await importJWK(JSON.parse(plain.toString('utf8')) as JWK, SIGNING_ALG) as CryptoKey;
      privateKeys.set(row.kid, key);
      return key;
    } finally {
      plain.fill(0);
    }
  }

  async function prune(tx: Db) {
    const at = now().getTime();
    const rows = await signingRepo.listSigningKeys(tx);
    for (const row of rows.filter((r) => publishedUntil(r) <= at)) {
      await signingRepo.deleteSigningKey(tx, row.kid);
      privateKeys.delete(row.kid);
      publicKeys.delete(row.kid);
    }
    return rows.filter((r) => publishedUntil(r) > at);
  }

  return {
    /** The key to sign with now, created on first use. */
    async current(): Promise<{ kid: string; key: CryptoKey }> {
      let row = await signingRepo.currentSigningKey(db);
      row ??= await inTransaction(db, async (tx) => {
        await lockSigningKeyRotation(tx);
        const again = await signingRepo.currentSigningKey(tx);
        if (again) return again;
        await generate(tx);
        return signingRepo.currentSigningKey(tx);
      });
      return { kid: row!.kid, key: await privateKeyOf(row!) };
    },

    /** Retires the current key (if any) and starts signing with a new one. */
    async rotate(): Promise<{ kid: string; retiredKid: string | null }> {
      return inTransaction(db, async (tx) => {
        await lockSigningKeyRotation(tx);
        const old = await signingRepo.currentSigningKey(tx);
        if (old) await signingRepo.retireSigningKey(tx, old.kid, now());
        const kid = await generate(tx);
        await prune(tx);
        return { kid, retiredKid: old?.kid ?? null };
      });
    },

    /** The public keys verifiers may need (RFC 7517 set); expired retired keys are pruned on the way. */
    async jwks(): Promise<{ keys: PublishedJwk[] }> {
      const at = now().getTime();
      const rows = await signingRepo.listSigningKeys(db);
      if (rows.some((r) => publishedUntil(r) <= at)) {
        await inTransaction(db, async (tx) => { await lockSigningKeyRotation(tx); await prune(tx); });
      }
      return { keys: rows.filter((r) => publishedUntil(r) > at).map((r) => r.publicJwk as PublishedJwk) };
    },

    /** The public key for a token's kid, or undefined when no published key has that kid. */
    async verificationKey(kid: string | undefined): Promise<CryptoKey | undefined> {
      if (!kid) return undefined;
      const row = (await signingRepo.listSigningKeys(db)).find((r) => r.kid === kid);
      if (!row || publishedUntil(row) <= now().getTime()) return undefined;
      let key = publicKeys.get(kid);
      if (!key) {
        key = await importJWK(row.publicJwk as JWK, SIGNING_ALG) as CryptoKey;
        publicKeys.set(kid, key);
      }
      return key;
    },
  };
}

export type SigningKeys = ReturnType<typeof createSigningKeys>;
