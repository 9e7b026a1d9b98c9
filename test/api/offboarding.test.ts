// Offboarding: an admin deactivates a user, whose keys and owned service accounts (API keys, OAuth
// tokens already minted, new token requests) stop on the very next request, also when their
// lookups were just cached; an admin's deactivation of a service account only an admin can lift.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startTestServer, testMasterKey, type TestServer } from '../support/server.ts';
import { expectError, selectRows } from '../support/assertions.ts';
import { sql } from 'drizzle-orm';
import { usingPostgres } from '../support/database.ts';
import { openDatabase } from '../../db/client.ts';

let s: TestServer;
const masterKey = testMasterKey();
let bob: { id: string; key: string };
let keyAccount: { id: string; key: string };
let oauthAccount: { id: string; secret: string };

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
async function token(server: TestServer = s) {
  const res = await fetch(`${server.url}/oauth2/token`, { method: 'POST', headers: FORM,
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: oauthAccount.id, client_secret: oauthAccount.secret }).toString() });
  return { status: res.status, body: await res.json() as any };
}
const me = (key: string, server: TestServer = s) => server.request('GET', '/v1/me', { key });

beforeAll(async () => {
  s = await startTestServer({ env: { COFFER_MASTER_KEY: masterKey } });
  bob = await s.createUser('bob');
  const k = await s.request('POST', '/v1/service-accounts', { key: bob.key, body: { name: 'bob-deployer', auth: 'api_key' } });
  keyAccount = { id: k.body.serviceAccount.id, key: k.body.apiKey.key };
  const o = await s.request('POST', '/v1/service-accounts', { key: bob.key, body: { name: 'bob-ci', auth: 'oauth' } });
  oauthAccount = { id: o.body.clientId, secret: o.body.clientSecret.secret };
});
afterAll(async () => { await s?.close(); });

describe('deactivating a user', () => {
  it('stops the user\'s keys and the service accounts they own on the next request, and reactivating restores them', async () => {
    const minted = await token();
    expect(minted.status).toBe(200);
    // Warm every cached lookup first.
    for (const key of [bob.key, keyAccount.key, minted.body.access_token]) expect((await me(key)).status).toBe(200);

    const off = await s.request('PATCH', `/v1/users/${bob.id}`, { body: { active: false } });
    expect(off.status, off.text).toBe(200);
    expect(off.body.active).toBe(false);
    expectError(await me(bob.key), 401, 'unauthenticated');
    expectError(await me(keyAccount.key), 401, 'unauthenticated');
    expectError(await me(minted.body.access_token), 401, 'unauthenticated');
    expect((await token()).status).toBe(401);

    expect((await s.request('PATCH', `/v1/users/${bob.id}`, { body: { active: true } })).body.active).toBe(true);
    for (const key of [bob.key, keyAccount.key, minted.body.access_token]) expect((await me(key)).status).toBe(200);
    expect((await token()).status).toBe(200);
  });

  it('is for admins only, never of oneself, and audited', async () => {
    expectError(await s.request('PATCH', `/v1/users/${s.adminId}`, { key: bob.key, body: { active: false } }), 403, 'forbidden');
    expectError(await s.request('PATCH', `/v1/users/${bob.id}`, { key: bob.key, body: { active: false } }), 403, 'forbidden');
    expectError(await s.request('PATCH', `/v1/users/${s.adminId}`, { body: { active: false } }), 409, 'conflict');
    expectError(await s.request('PATCH', '/v1/users/usr_nobody', { body: { active: false } }), 404, 'not_found');
    expectError(await s.request('PATCH', `/v1/users/${keyAccount.id}`, { body: { active: false } }), 404, 'not_found');
    expectError(await s.request('PATCH', `/v1/users/${bob.id}`, { body: { active: 'no' } }), 400, 'validation_failed');
    const rows = (await s.request('GET', '/v1/audit?limit=500')).body.events.filter((e: any) => e.detail?.userId === bob.id);
    expect(rows.map((e: any) => e.action).filter((a: string) => a.startsWith('user.'))).toEqual(['user.reactivate', 'user.deactivate', 'user.create']);
  });
});

describe('an admin\'s deactivation of a service account', () => {
  it('cannot be lifted by the owner, only by an admin', async () => {
    expect((await s.request('PATCH', `/v1/service-accounts/${keyAccount.id}`, { body: { active: false } })).body).toMatchObject({ active: false, deactivatedByAdmin: true });
    expectError(await me(keyAccount.key), 401, 'unauthenticated');
    expectError(await s.request('PATCH', `/v1/service-accounts/${keyAccount.id}`, { key: bob.key, body: { active: true } }), 403, 'forbidden');
    expectError(await me(keyAccount.key), 401, 'unauthenticated');
    const denied = (await s.request('GET', '/v1/audit?action=service_account.reactivate&outcome=denied')).body.events;
    expect(denied).toEqual([expect.objectContaining({ actorId: bob.id, detail: expect.objectContaining({ reason: 'deactivated_by_admin' }) })]);
    expect((await s.request('PATCH', `/v1/service-accounts/${keyAccount.id}`, { body: { active: true } })).body).toMatchObject({ active: true, deactivatedByAdmin: false });
    expect((await me(keyAccount.key)).status).toBe(200);
  });

  it('while the owner\'s own deactivation is the owner\'s to lift', async () => {
    expect((await s.request('PATCH', `/v1/service-accounts/${keyAccount.id}`, { key: bob.key, body: { active: false } })).body.deactivatedByAdmin).toBe(false);
    expect((await s.request('PATCH', `/v1/service-accounts/${keyAccount.id}`, { key: bob.key, body: { active: true } })).status).toBe(200);
    expect((await me(keyAccount.key)).status).toBe(200);
  });
});

describe.skipIf(!usingPostgres())('another gateway on the same PostgreSQL', () => {
  it('sees a deactivation on the next request, although it had the lookups cached', async () => {
    const url = (s.database as { url?: string }).url!;
    const database = await openDatabase({ url, maxConnections: 2 });
    const other = await startTestServer({ database, adminKey: s.adminKey, env: { COFFER_MASTER_KEY: masterKey } });
    try {
      for (const key of [bob.key, keyAccount.key]) expect((await me(key, other)).status).toBe(200);
      expect((await s.request('PATCH', `/v1/users/${bob.id}`, { body: { active: false } })).status).toBe(200);
      // The NOTIFY is delivered asynchronously; it is well within the 1 s cache bound.
      await new Promise((r) => setTimeout(r, 200));
      for (const key of [bob.key, keyAccount.key]) expectError(await me(key, other), 401, 'unauthenticated');
      expect((await s.request('PATCH', `/v1/users/${bob.id}`, { body: { active: true } })).status).toBe(200);
    } finally {
      await other.close();
      await database.close();
    }
    expect(await selectRows(s.database.db, sql`select 1 from principals where id = ${bob.id} and active`)).toHaveLength(1);
  });
});
