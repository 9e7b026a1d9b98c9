// Envelope encryption: one data key per value, wrapped by a master key, bound to its place by AAD.
import { describe, it, expect } from 'vitest';
import crypto from 'node:crypto';
import { seal, open, rewrapKey, secretAad, makeCheckValue, verifyCheckValue, DecryptionError, type Sealed } from '../../api/crypto/envelope.ts';
import { keyringOf, loadKeyring, fingerprint, KeyringError } from '../../api/crypto/keyring.ts';

const key = () => crypto.randomBytes(32);
const flip = (b: Buffer, i: number) => { const c = Buffer.from(b); c[i] ^= 0x01; return c; };

describe('seal and open', () => {
  const keyring = keyringOf({ id: 'k1', key: key() });
  const aad = secretAad('vlt_1', 'db-password', 1);

  it('a sealed value opens to the same bytes', () => {
    const sealed = seal(keyring, 'hunter2 🔑', aad);
    expect(open(keyring, sealed, aad).toString('utf8')).toBe('hunter2 🔑');
    expect(sealed.masterKeyId).toBe('k1');
  });

  it('the ciphertext does not contain the plaintext, and sealing twice gives different ciphertexts', () => {
    const a = seal(keyring, 'PLAINTEXT-CANARY', aad);
    const b = seal(keyring, 'PLAINTEXT-CANARY', aad);
    expect(a.ciphertext.includes('PLAINTEXT-CANARY')).toBe(false);
    expect(a.ciphertext.equals(b.ciphertext)).toBe(false);
    expect(a.wrappedKey.equals(b.wrappedKey)).toBe(false);
  });

  it('an empty value and a binary value round-trip', () => {
    expect(open(keyring, seal(keyring, '', aad), aad).length).toBe(0);
    const bytes = crypto.randomBytes(4096);
    expect(open(keyring, seal(keyring, bytes, aad), aad).equals(bytes)).toBe(true);
  });
});

describe('AAD binding: a ciphertext opens only where it was sealed', () => {
  const keyring = keyringOf({ id: 'k1', key: key() });
  const sealed = seal(keyring, 'bound', secretAad('vlt_1', 'a', 1));

  it.each([
    ['another version of the same secret', secretAad('vlt_1', 'a', 2)],
    ['another secret in the same vault', secretAad('vlt_1', 'b', 1)],
    ['the same name in another vault', secretAad('vlt_2', 'a', 1)],
  ])('fails when moved to %s', (_what, otherAad) => {
    expect(() => open(keyring, sealed, otherAad)).toThrow(DecryptionError);
  });

  it('fails when the ciphertext of one value is paired with the wrapped key of another', () => {
    const aad = secretAad('vlt_1', 'a', 1);
    const other = seal(keyring, 'other', aad);
    expect(() => open(keyring, { ...sealed, wrappedKey: other.wrappedKey }, aad)).toThrow(DecryptionError);
  });

  it('the error says nothing about the value', () => {
    // Caught outside any try around the assertions, so a missing throw fails the test.
    let caught: unknown;
    try { open(keyring, sealed, secretAad('vlt_1', 'a', 2)); } catch (err) { caught = err; }
    expect(caught).toBeInstanceOf(DecryptionError);
    const err = caught as DecryptionError;
    expect(err.message).toBe('stored value could not be decrypted');
    expect(JSON.stringify({ ...err, message: err.message, stack: err.stack })).not.toContain('bound');
    expect(Object.keys(err)).not.toContain('plaintext');
  });
});

describe('tamper detection', () => {
  const keyring = keyringOf({ id: 'k1', key: key() });
  const aad = secretAad('vlt_1', 'a', 1);
  const sealed = seal(keyring, 'do not touch', aad);

  it.each([
    ['the format byte', (s: Sealed) => ({ ...s, ciphertext: flip(s.ciphertext, 0) })],
    ['the nonce', (s: Sealed) => ({ ...s, ciphertext: flip(s.ciphertext, 3) })],
    ['the body', (s: Sealed) => ({ ...s, ciphertext: flip(s.ciphertext, 14) })],
    ['the tag', (s: Sealed) => ({ ...s, ciphertext: flip(s.ciphertext, s.ciphertext.length - 1) })],
    ['the wrapped key', (s: Sealed) => ({ ...s, wrappedKey: flip(s.wrappedKey, 20) })],
    ['a truncated ciphertext', (s: Sealed) => ({ ...s, ciphertext: s.ciphertext.subarray(0, 20) })],
    ['an empty ciphertext', (s: Sealed) => ({ ...s, ciphertext: Buffer.alloc(0) })],
    ['an appended byte', (s: Sealed) => ({ ...s, ciphertext: Buffer.concat([s.ciphertext, Buffer.from([0])]) })],
  ])('a change to %s is detected', (_what, tamper) => {
    expect(() => open(keyring, tamper(sealed), aad)).toThrow(DecryptionError);
  });

  it('a wrapped key claimed to be under another master key fails', () => {
    const two = keyringOf({ id: 'k1', key: keyring.byId.get('k1')!.key }, { id: 'k2', key: key() });
    expect(() => open(two, { ...sealed, masterKeyId: 'k2' }, aad)).toThrow(DecryptionError);
  });

  it('a master key that is not in the keyring fails with a DecryptionError naming the key id', () => {
    expect(() => open(keyring, { ...sealed, masterKeyId: 'gone' }, aad)).toThrow(/"gone" is not in the keyring/);
  });

  it('the wrong master key under the right id fails', () => {
    const impostor = keyringOf({ id: 'k1', key: key() });
    expect(() => open(impostor, sealed, aad)).toThrow(DecryptionError);
  });
});

describe('rewrap', () => {
  it('moves the data key to the active master key without touching the ciphertext', () => {
    const oldKey = { id: 'old', key: key() };
    const newKey = { id: 'new', key: key() };
    const aad = secretAad('vlt_1', 'a', 7);
    const sealed = seal(keyringOf(oldKey), 'rotate me', aad);
    const both = keyringOf(newKey, oldKey);
    const rewrapped = rewrapKey(both, sealed, aad);
    expect(rewrapped.masterKeyId).toBe('new');
    expect(rewrapped.ciphertext.equals(sealed.ciphertext)).toBe(true);
    expect(open(keyringOf(newKey), rewrapped, aad).toString()).toBe('rotate me');
    expect(() => open(keyringOf(oldKey), rewrapped, aad)).toThrow(DecryptionError);
  });

  it('refuses to rewrap under the wrong AAD', () => {
    const k = { id: 'k', key: key() };
    const sealed = seal(keyringOf(k), 'x', secretAad('v', 'a', 1));
    expect(() => rewrapKey(keyringOf(k), sealed, secretAad('v', 'a', 2))).toThrow(DecryptionError);
  });
});

describe('master key check values', () => {
  it('verify only with the key that made them', () => {
    const mk = { id: 'k1', key: key() };
    const check = makeCheckValue(mk);
    expect(verifyCheckValue(mk, check)).toBe(true);
    expect(verifyCheckValue({ id: 'k1', key: key() }, check)).toBe(false);
    expect(verifyCheckValue({ id: 'k2', key: mk.key }, check)).toBe(false);
    expect(verifyCheckValue(mk, 'not base64 at all!')).toBe(false);
  });
});

describe('keyring configuration', () => {
  const b64 = () => key().toString('base64');

  it('COFFER_MASTER_KEYS lists id:key pairs, the first one active', () => {
    const ring = loadKeyring({ masterKeys: `new:${b64()},old:${b64()}`, dataDir: '/nonexistent', allowDevelopmentKey: false });
    expect(ring.active.id).toBe('new');
    expect([...ring.byId.keys()]).toEqual(['new', 'old']);
  });

  it('COFFER_MASTER_KEY is named by its fingerprint, so a different key is a different id', () => {
    const k = key();
    const ring = loadKeyring({ masterKey: k.toString('base64'), dataDir: '/nonexistent', allowDevelopmentKey: false });
    expect(ring.active.id).toBe(fingerprint(k));
    expect(fingerprint(key())).not.toBe(fingerprint(k));
  });

  it.each([
    ['a key of the wrong length', { masterKey: crypto.randomBytes(16).toString('base64') }, /32 bytes/],
    ['an entry without an id', { masterKeys: b64() }, /id:base64key/],
    ['a bad key id', { masterKeys: `bad id!:${b64()}` }, /must be 1-32 characters/],
    ['a duplicate key id', { masterKeys: `a:${b64()},a:${b64()}` }, /appears twice/],
    ['no key with Postgres', {}, /no master key/],
  ])('refuses %s with a clear message', (_what, opts, message) => {
    expect(() => loadKeyring({ ...opts, dataDir: '/nonexistent', allowDevelopmentKey: false })).toThrow(KeyringError);
    expect(() => loadKeyring({ ...opts, dataDir: '/nonexistent', allowDevelopmentKey: false })).toThrow(message);
  });
});
