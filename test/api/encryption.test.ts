// Envelope encryption as stored: ciphertexts bound to their place, master keys checked at start,
// and rotation that keeps every value readable.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import crypto from 'node:crypto';
import { sql } from 'drizzle-orm';
import { startTestServer, type TestServer } from '../support/server.ts';
import { freshDatabase } from '../support/database.ts';
import { expectError, selectRows } from '../support/assertions.ts';
import { rewrapAll } from '../../api/crypto/master-key-check.ts';
import type { Database } from '../../db/client.ts';

const newKey = () => crypto.randomBytes(32).toString('base64');
const adminKey = `coffer_${crypto.randomBytes(32).toString('base64url')}`;

/** The (secret id, version) of a stored version, by vault, secret name and version number. */
async function versionRow(db: Database, vault: string, name: string, version: number) {
  const [row] = await selectRows<{ secret_id: string; version: number }>(db.db, sql`
    select v.secret_id, v.version from secret_versions v join secrets s on s.id = v.secret_id join vaults w on w.id = s.vault_id
    where w.name = ${vault} and s.name = ${name} and v.version = ${version}`);
  return row;
}

/** Copies ciphertext and wrapped key from one stored version onto another, as an attacker with database access could. */
async function copySealed(db: Database, from: { secret_id: string; version: number }, to: { secret_id: string; version: number }) {
  await db.db.execute(sql`update secret_versions t set ciphertext = f.ciphertext, wrapped_key = f.wrapped_key, master_key_id = f.master_key_id
    from secret_versions f where f.secret_id = ${from.secret_id} and f.version = ${from.version}
    and t.secret_id = ${to.secret_id} and t.version = ${to.version}`);
}

describe('a ciphertext moved to another place does not open', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
    await s.request('POST', '/v1/vaults', { body: { name: 'north' } });
    await s.request('POST', '/v1/vaults', { body: { name: 'south' } });
    await s.request('PUT', '/v1/vaults/north/secrets/a', { body: { value: 'SWAP-A1' } });
    await s.request('PUT', '/v1/vaults/north/secrets/a', { body: { value: 'SWAP-A2' } });
    await s.request('PUT', '/v1/vaults/north/secrets/b', { body: { value: 'SWAP-B1' } });
    await s.request('PUT', '/v1/vaults/south/secrets/a', { body: { value: 'SWAP-SOUTH' } });
  });
  afterAll(async () => { await s?.close(); });

  it.each([
    ['another secret', ['north', 'a', 1], ['north', 'b', 1]],
    ['another version of the same secret', ['north', 'a', 1], ['north', 'a', 2]],
    ['the same name in another vault', ['north', 'a', 2], ['south', 'a', 1]],
  ] as Array<[string, [string, string, number], [string, string, number]]>)('copied onto %s, reading fails cleanly and no value leaks', async (_what, from, to) => {
    await copySealed(s.database, await versionRow(s.database, ...from), await versionRow(s.database, ...to));
    const reply = await s.request('GET', `/v1/vaults/${to[0]}/secrets/${to[1]}/value?version=${to[2]}`);
    expectError(reply, 500, 'internal');
    expect(reply.text).not.toMatch(/SWAP-|decrypt|GCM|auth tag|ciphertext/i);
    expect(s.logs.join('\n')).not.toMatch(/SWAP-/);
  });

  it('the other values still read', async () => {
    expect((await s.request('GET', '/v1/vaults/north/secrets/a/value?version=1')).body.value).toBe('SWAP-A1');
  });

  it('a failed decryption is logged for the operator, with the request id', async () => {
    const reply = await s.request('GET', '/v1/vaults/north/secrets/b/value?version=1');
    const line = s.logs.find((l) => l.includes(reply.body.error.requestId) && l.includes('"level":50'));
    expect(line).toBeDefined();
    expect(line).toMatch(/could not be decrypted/);
  });
});

describe('master keys', () => {
  const databases: Database[] = [];
  afterAll(async () => { for (const db of databases) await db.close(); });

  it('a different master key on an existing database refuses to start, saying why', async () => {
    const db = await freshDatabase();
    databases.push(db);
    const k1 = newKey();
    const first = await startTestServer({ database: db, adminKey, env: { COFFER_MASTER_KEY: k1 } });
    await first.request('POST', '/v1/vaults', { body: { name: 'kept' } });
    await first.request('PUT', '/v1/vaults/kept/secrets/x', { body: { value: 'still here' } });
    await first.close();

    await expect(startTestServer({ database: db, adminKey, env: { COFFER_MASTER_KEY: newKey() } }))
      .rejects.toThrow(/sealed with master key "mk-[0-9a-f]{12}", which is not configured/);
    await expect(startTestServer({ database: db, adminKey, env: { COFFER_MASTER_KEYS: `other:${newKey()}` } }))
      .rejects.toThrow(/Set COFFER_MASTER_KEY or COFFER_MASTER_KEYS/);

    const again = await startTestServer({ database: db, adminKey, env: { COFFER_MASTER_KEY: k1 } });
    expect((await again.request('GET', '/v1/vaults/kept/secrets/x/value')).body.value).toBe('still here');
    await again.close();
  });

  it('a wrong key under a known id refuses to start', async () => {
    const db = await freshDatabase();
    databases.push(db);
    const first = await startTestServer({ database: db, adminKey, env: { COFFER_MASTER_KEYS: `main:${newKey()}` } });
    await first.close();
    await expect(startTestServer({ database: db, adminKey, env: { COFFER_MASTER_KEYS: `main:${newKey()}` } }))
      .rejects.toThrow(/master key "main" does not match/);
  });

  it('rewrap moves every data key to the new master key; the old key can then be dropped', async () => {
    const db = await freshDatabase();
    databases.push(db);
    const k1 = newKey();
    const k2 = newKey();
    const written = new Map<string, string>();

    const old = await startTestServer({ database: db, adminKey, env: { COFFER_MASTER_KEYS: `old:${k1}` } });
    await old.request('POST', '/v1/vaults', { body: { name: 'rotate' } });
    for (let i = 0; i < 5; i++) {
      for (let v = 1; v <= 3; v++) {
        const value = `rot-${i}-${v}-${crypto.randomBytes(4).toString('hex')}`;
        await old.request('PUT', `/v1/vaults/rotate/secrets/s${i}`, { body: { value } });
        written.set(`s${i}@${v}`, value);
      }
    }
    await old.request('DELETE', '/v1/vaults/rotate/secrets/s0/versions/1');
    written.delete('s0@1');
    await old.request('PATCH', '/v1/vaults/rotate/secrets/s1/versions/2', { body: { state: 'disabled' } });
    await old.close();

    const both = await startTestServer({ database: db, adminKey, env: { COFFER_MASTER_KEYS: `new:${k2},old:${k1}` } });
    for (const [at, value] of written) {
      const [name, v] = at.split('@');
      if (at === 's1@2') continue;
      expect((await both.request('GET', `/v1/vaults/rotate/secrets/${name}/value?version=${v}`)).body.value).toBe(value);
    }
    const fresh = 'written-under-new';
    await both.request('PUT', '/v1/vaults/rotate/secrets/s9', { body: { value: fresh } });
    written.set('s9@1', fresh);

    // Small pages, so paging is exercised too.
    const report = await rewrapAll(db.db, both.running.keyring, 4);
    expect(report.secretVersions).toBe(14);
    expect(report.retiredKeyIds).toEqual(['old']);
    const ids = await selectRows<{ master_key_id: string | null; state: string }>(db.db, sql`select master_key_id, state from secret_versions`);
    expect(ids.filter((r) => r.state !== 'destroyed').every((r) => r.master_key_id === 'new')).toBe(true);
    expect(ids.filter((r) => r.state === 'destroyed').every((r) => r.master_key_id === null)).toBe(true);
    expect((await rewrapAll(db.db, both.running.keyring)).secretVersions).toBe(0);
    await both.close();

    const onlyNew = await startTestServer({ database: db, adminKey, env: { COFFER_MASTER_KEYS: `new:${k2}` } });
    expect((await onlyNew.request('PATCH', '/v1/vaults/rotate/secrets/s1/versions/2', { body: { state: 'enabled' } })).status).toBe(200);
    for (const [at, value] of written) {
      const [name, v] = at.split('@');
      expect((await onlyNew.request('GET', `/v1/vaults/rotate/secrets/${name}/value?version=${v}`)).body.value, at).toBe(value);
    }
    expectError(await onlyNew.request('GET', '/v1/vaults/rotate/secrets/s0/value?version=1'), 409, 'version_destroyed');
    await onlyNew.close();

    // The old key alone no longer opens this database.
    await expect(startTestServer({ database: db, adminKey, env: { COFFER_MASTER_KEYS: `old:${k1}` } })).rejects.toThrow(/"new", which is not configured/);
  });
});
