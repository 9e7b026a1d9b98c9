// Master keys: where they come from and which one is active. Only envelope.ts uses the key bytes.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export interface MasterKey { id: string; key: Buffer }
export interface Keyring {
  /** New data keys are wrapped under this one. */
  active: MasterKey;
  byId: Map<string, MasterKey>;
  /** True when the key came from the generated development key file. */
  development: boolean;
}

const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;

export class KeyringError extends Error {}

function decodeKey(b64: string, label: string): Buffer {
  const key = Buffer.from(b64.trim(), 'base64');
  if (key.length !== 32) throw new KeyringError(`${label} must be 32 bytes encoded as base64 (got ${key.length} bytes)`);
  return key;
}

/** A key given without an id is named by a fingerprint, so a different key is a different id. */
export function fingerprint(key: Buffer): string {
  return 'mk-' + crypto.createHash('sha256').update(key).digest('hex').slice(0, 12);
}

function fromList(list: MasterKey[], development: boolean): Keyring {
  const byId = new Map<string, MasterKey>();
  for (const k of list) {
    if (byId.has(k.id)) throw new KeyringError(`master key id "${k.id}" appears twice in COFFER_MASTER_KEYS`);
    byId.set(k.id, k);
  }
  return { active: list[0], byId, development };
}

/**
 * COFFER_MASTER_KEYS="id1:base64,id2:base64" (first is active) or COFFER_MASTER_KEY=base64.
 * With neither, a development key file is created beside the data (PGlite) and used.
 */
export function loadKeyring(opts: { masterKey?: string; masterKeys?: string; dataDir: string; allowDevelopmentKey: boolean }): Keyring {
  if (opts.masterKeys) {
    const list = opts.masterKeys.split(',').map((entry) => {
      const i = entry.indexOf(':');
      if (i < 0) throw new KeyringError('COFFER_MASTER_KEYS entries must look like id:base64key');
      const id = entry.slice(0, i).trim();
      if (!KEY_ID.test(id)) throw new KeyringError(`master key id "${id}" must be 1-32 characters of letters, digits, "-" or "_"`);
      return { id, key: decodeKey(entry.slice(i + 1), `COFFER_MASTER_KEYS entry "${id}"`) };
    });
    if (list.length === 0) throw new KeyringError('COFFER_MASTER_KEYS is empty');
    return fromList(list, false);
  }
  if (opts.masterKey) {
    const key = decodeKey(opts.masterKey, 'COFFER_MASTER_KEY');
    return fromList([{ id: fingerprint(key), key }], false);
  }
  if (!opts.allowDevelopmentKey) {
    throw new KeyringError('no master key: set COFFER_MASTER_KEY (32 random bytes, base64) or COFFER_MASTER_KEYS when using DATABASE_URL');
  }
  const file = path.join(opts.dataDir, 'master.key');
  if (!fs.existsSync(file)) {
    fs.mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
    fs.writeFileSync(file, crypto.randomBytes(32).toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
  }
  const key = decodeKey(fs.readFileSync(file, 'utf8'), `development key file ${file}`);
  return fromList([{ id: fingerprint(key), key }], true);
}

/** A keyring from raw keys, for tests and tools. */
export function keyringOf(...keys: Array<{ id?: string; key: Buffer }>): Keyring {
  return fromList(keys.map((k) => ({ id: k.id ?? fingerprint(k.key), key: k.key })), false);
}
