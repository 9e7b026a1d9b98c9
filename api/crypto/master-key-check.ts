// Start-up check that the configured master keys are the ones this database was sealed with,
// and the rewrap that moves every data key onto the active master key.
import type { Db } from '../../db/client.ts';
import { getSetting, putSetting } from '../../db/repos/settings.ts';
import * as secretsRepo from '../../db/repos/secrets.ts';
import * as signingRepo from '../../db/repos/signing-keys.ts';
import { makeCheckValue, verifyCheckValue, rewrapKey, secretAad, signingKeyAad } from './envelope.ts';
import type { Keyring } from './keyring.ts';

const CHECKS = 'master_key_checks';
type Checks = Record<string, string>;

export class MasterKeyMismatchError extends Error {}

/** Throws MasterKeyMismatchError, with a message meant for the operator, when a key is wrong or missing. */
export async function verifyMasterKeys(db: Db, keyring: Keyring): Promise<void> {
  const checks = (await getSetting<Checks>(db, CHECKS)) ?? {};
  for (const [id, check] of Object.entries(checks)) {
    const mk = keyring.byId.get(id);
    if (!mk) {
      const configured = [...keyring.byId.keys()].join(', ');
      throw new MasterKeyMismatchError(
        `this database is sealed with master key "${id}", which is not configured (configured: ${configured}). ` +
        'Set COFFER_MASTER_KEY or COFFER_MASTER_KEYS to the key this database was created with.');
    }
    if (!verifyCheckValue(mk, check)) throw new MasterKeyMismatchError(`master key "${id}" does not match the one this database was sealed with`);
  }
  let added = false;
  for (const mk of keyring.byId.values()) {
    if (!checks[mk.id]) { checks[mk.id] = makeCheckValue(mk); added = true; }
  }
  if (added) await putSetting(db, CHECKS, checks);
}

export async function masterKeysVerified(db: Db, keyring: Keyring): Promise<boolean> {
  const checks = (await getSetting<Checks>(db, CHECKS)) ?? {};
  return Object.entries(checks).every(([id, c]) => { const mk = keyring.byId.get(id); return !!mk && verifyCheckValue(mk, c); })
    && checks[keyring.active.id] !== undefined;
}

export interface RewrapReport { secretVersions: number; signingKeys: number; retiredKeyIds: string[] }

/**
 * Re-wraps every data key under the active master key, a page at a time (values never all in
 * memory), then forgets the check values of keys nothing uses any more so they can be dropped.
 */
export async function rewrapAll(db: Db, keyring: Keyring, pageSize = 200, onProgress?: (secretVersions: number) => void): Promise<RewrapReport> {
  const active = keyring.active.id;
  let secretVersions = 0;
  let cursor: { secretId: string; version: number } | null = null;
  for (;;) {
    const page = await secretsRepo.versionsToRewrap(db, active, cursor, pageSize);
    for (const v of page) {
      const sealed = rewrapKey(keyring, { ciphertext: v.ciphertext!, wrappedKey: v.wrappedKey!, masterKeyId: v.masterKeyId! }, secretAad(v.vaultId, v.name, v.version));
      secretVersions += await secretsRepo.updateWrappedKey(db, v.secretId, v.version, sealed.wrappedKey, sealed.masterKeyId, v.masterKeyId!);
      cursor = { secretId: v.secretId, version: v.version };
    }
    onProgress?.(secretVersions);
    if (page.length < pageSize) break;
  }
  let signingKeys = 0;
  for (const k of await signingRepo.signingKeysToRewrap(db, active)) {
    const sealed = rewrapKey(keyring, { ciphertext: k.privateCiphertext, wrappedKey: k.wrappedKey, masterKeyId: k.masterKeyId }, signingKeyAad(k.kid));
    await signingRepo.updateSigningKeyWrap(db, k.kid, sealed.wrappedKey, sealed.masterKeyId);
    signingKeys++;
  }
  const inUse = new Set([active, ...(await secretsRepo.masterKeyIdsInUse(db)), ...(await signingRepo.signingMasterKeyIds(db))]);
  const checks = (await getSetting<Checks>(db, CHECKS)) ?? {};
  const retiredKeyIds = Object.keys(checks).filter((id) => !inUse.has(id));
  for (const id of retiredKeyIds) delete checks[id];
  await putSetting(db, CHECKS, checks);
  return { secretVersions, signingKeys, retiredKeyIds };
}
