// The single door between secret values and storage. Each value gets its own random data key
// (AES-256-GCM); the data key is wrapped by a master key. The additional authenticated data binds
// a ciphertext to where it belongs, so a ciphertext copied onto another secret or version fails.
import crypto from 'node:crypto';
import type { Keyring, MasterKey } from './keyring.ts';

const NONCE = 12;
const TAG = 16;
const FORMAT = 1; // first byte of every blob, so the layout can change later

export interface Sealed {
  ciphertext: Buffer;
  wrappedKey: Buffer;
  masterKeyId: string;
}

export class DecryptionError extends Error {
  constructor(message = 'stored value could not be decrypted') { super(message); this.name = 'DecryptionError'; }
}

function gcmSeal(key: Buffer, plaintext: Buffer, aad: string): Buffer {
  const nonce = crypto.randomBytes(NONCE);
  const cipher = crypto.createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([Buffer.from([FORMAT]), nonce, body, cipher.getAuthTag()]);
}

function gcmOpen(key: Buffer, blob: Buffer, aad: string): Buffer {
  if (blob.length < 1 + NONCE + TAG || blob[0] !== FORMAT) throw new DecryptionError();
  const nonce = blob.subarray(1, 1 + NONCE);
  const tag = blob.subarray(blob.length - TAG);
  const body = blob.subarray(1 + NONCE, blob.length - TAG);
  try {
    const decipher = crypto.createDecipheriv('aes-256-gcm', key, nonce);
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(body), decipher.final()]);
  } catch {
    throw new DecryptionError();
  }
}

const wrapAad = (masterKeyId: string, aad: string) => `coffer:dek:${masterKeyId}:${aad}`;

function masterKey(keyring: Keyring, id: string): MasterKey {
  const mk = keyring.byId.get(id);
  if (!mk) throw new DecryptionError(`master key "${id}" is not in the keyring`);
  return mk;
}

/** AAD for a secret version: the value only opens as exactly this version of this secret. */
export const secretAad = (vaultId: string, secretName: string, version: number) =>
  `coffer:secret:${vaultId}:${secretName}:${version}`;

export function seal(keyring: Keyring, plaintext: Buffer | string, aad: string): Sealed {
  const dataKey = crypto.randomBytes(32);
  try {
    const data = typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext;
    const ciphertext = gcmSeal(dataKey, data, aad);
    const wrappedKey = gcmSeal(keyring.active.key, dataKey, wrapAad(keyring.active.id, aad));
    return { ciphertext, wrappedKey, masterKeyId: keyring.active.id };
  } finally {
    dataKey.fill(0);
  }
}

export function open(keyring: Keyring, sealed: Sealed, aad: string): Buffer {
  const mk = masterKey(keyring, sealed.masterKeyId);
  const dataKey = gcmOpen(mk.key, sealed.wrappedKey, wrapAad(mk.id, aad));
  try {
    return gcmOpen(dataKey, sealed.ciphertext, aad);
  } finally {
    dataKey.fill(0);
  }
}

/** Re-wraps a data key under the active master key without touching the value's ciphertext. */
export function rewrapKey(keyring: Keyring, sealed: Sealed, aad: string): Sealed {
  const mk = masterKey(keyring, sealed.masterKeyId);
  const dataKey = gcmOpen(mk.key, sealed.wrappedKey, wrapAad(mk.id, aad));
  try {
    const wrappedKey = gcmSeal(keyring.active.key, dataKey, wrapAad(keyring.active.id, aad));
    return { ciphertext: sealed.ciphertext, wrappedKey, masterKeyId: keyring.active.id };
  } finally {
    dataKey.fill(0);
  }
}

/** A known plaintext sealed under one specific master key, stored to detect a wrong key at start. */
const CHECK_PLAINTEXT = 'coffer master key check v1';
export function makeCheckValue(mk: MasterKey): string {
  return gcmSeal(mk.key, Buffer.from(CHECK_PLAINTEXT), `coffer:check:${mk.id}`).toString('base64');
}
export function verifyCheckValue(mk: MasterKey, check: string): boolean {
  try {
    return gcmOpen(mk.key, Buffer.from(check, 'base64'), `coffer:check:${mk.id}`).toString() === CHECK_PLAINTEXT;
  } catch {
    return false;
  }
}

/** AAD for a JWT signing key's private JWK. */
export const signingKeyAad = (kid: string) => `coffer:signing-key:${kid}`;
