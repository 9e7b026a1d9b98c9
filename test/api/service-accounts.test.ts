import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.ts';
import { expectError } from '../support/assertions.ts';

interface Created {
  serviceAccount: { id: string; name: string; auth: string; active: boolean; ownerId: string; clientId: string | null };
  apiKey?: { id: string; prefix: string; key: string };
  clientId?: string;
  clientSecret?: { id: string; prefix: string; secret: string };
}

describe('service accounts', () => {
  let s: TestServer;
  let owner: { id: string; key: string };
  let other: { id: string; key: string };
  /** Every credential value handed out in this file, to prove none of them leaks anywhere. */
  const credentials: string[] = [];
  let n = 0;

  async function create(key: string, auth: 'api_key' | 'oauth', name = `sa-${auth.replace('_', '-')}-${++n}`) {
    const res = await s.request<Created>('POST', '/v1/service-accounts', { key, body: { name, auth } });
    expect(res.status, res.text).toBe(201);
    if (res.body.apiKey) credentials.push(res.body.apiKey.key);
    if (res.body.clientSecret) credentials.push(res.body.clientSecret.secret);
    return res.body;
  }

  beforeAll(async () => {
    s = await startTestServer();
    owner = await s.createUser('sa-owner');
    other = await s.createUser('sa-other');
  });
  afterAll(async () => { await s?.close(); });

  describe('creation', () => {
    it('an api_key account gets one key, shown once, and no client credentials', async () => {
      const created = await create(owner.key, 'api_key');
      expect(created.serviceAccount).toMatchObject({ auth: 'api_key', active: true, ownerId: owner.id, clientId: null });
      expect(created.serviceAccount.id).toMatch(/^sa_/);
      expect(created.apiKey!.key).toMatch(/^coffer_/);
      expect(created.clientSecret).toBeUndefined();
      expect(created.clientId).toBeUndefined();

      const me = await s.request('GET', '/v1/me', { key: created.apiKey!.key });
      expect(me.body).toMatchObject({ id: created.serviceAccount.id, kind: 'service_account', isAdmin: false, via: 'api_key' });
    });

    it('an oauth account gets a client id (its account id) and a first secret, and no API key', async () => {
      const created = await create(owner.key, 'oauth');
      expect(created.serviceAccount).toMatchObject({ auth: 'oauth', clientId: created.serviceAccount.id });
      expect(created.clientId).toBe(created.serviceAccount.id);
      expect(created.clientSecret!.secret).toMatch(/^coffer_cs_/);
      expect(created.apiKey).toBeUndefined();
      // A client secret is not an API key.
      expectError(await s.request('GET', '/v1/me', { key: created.clientSecret!.secret }), 401, 'unauthenticated');
    });

    it('the creation response is not cacheable', async () => {
      const res = await s.request('POST', '/v1/service-accounts', { key: owner.key, body: { name: 'sa-nocache', auth: 'oauth' } });
      credentials.push(res.body.clientSecret.secret);
      expect(res.headers.get('cache-control')).toBe('no-store');
    });

    it('refuses a missing or unknown auth kind, a bad name, and a taken name', async () => {
      expectError(await s.request('POST', '/v1/service-accounts', { key: owner.key, body: { name: 'sa-x' } }), 400, 'validation_failed');
      expectError(await s.request('POST', '/v1/service-accounts', { key: owner.key, body: { name: 'sa-x', auth: 'both' } }), 400, 'validation_failed');
      expectError(await s.request('POST', '/v1/service-accounts', { key: owner.key, body: { name: 'Not A Name!', auth: 'oauth' } }), 400, 'validation_failed');
      await create(owner.key, 'api_key', 'sa-taken');
      expectError(await s.request('POST', '/v1/service-accounts', { key: other.key, body: { name: 'sa-taken', auth: 'oauth' } }), 409, 'already_exists');
    });

    it('a service account cannot create service accounts', async () => {
      const sa = await create(owner.key, 'api_key');
      expectError(await s.request('POST', '/v1/service-accounts', { key: sa.apiKey!.key, body: { name: 'sa-child', auth: 'oauth' } }), 403, 'forbidden');
    });
  });

  describe('ownership', () => {
    it('non-admins list only the accounts they own; admins list all', async () => {
      const mine = await create(owner.key, 'oauth');
      const theirs = await create(other.key, 'api_key');
      const ownerList = (await s.request('GET', '/v1/service-accounts', { key: owner.key })).body.serviceAccounts.map((a: { id: string }) => a.id);
      expect(ownerList).toContain(mine.serviceAccount.id);
      expect(ownerList).not.toContain(theirs.serviceAccount.id);
      const adminList = (await s.request('GET', '/v1/service-accounts')).body.serviceAccounts.map((a: { id: string }) => a.id);
      expect(adminList).toEqual(expect.arrayContaining([mine.serviceAccount.id, theirs.serviceAccount.id]));
    });

    it('a non-owner gets 404 for every action; the owner and admins may act', async () => {
      const sa = await create(owner.key, 'oauth');
      const id = sa.serviceAccount.id;
      const secretId = sa.clientSecret!.id;
      for (const [method, path, body] of [
        ['GET', `/v1/service-accounts/${id}`, undefined],
        ['PATCH', `/v1/service-accounts/${id}`, { active: false }],
        ['DELETE', `/v1/service-accounts/${id}`, undefined],
        ['GET', `/v1/service-accounts/${id}/client-secrets`, undefined],
        ['POST', `/v1/service-accounts/${id}/client-secrets`, undefined],
        ['PATCH', `/v1/service-accounts/${id}/client-secrets/${secretId}`, { active: false }],
        ['DELETE', `/v1/service-accounts/${id}/client-secrets/${secretId}`, undefined],
      ] as const) {
        expectError(await s.request(method, path, { key: other.key, body }), 404, 'not_found');
      }
      expect((await s.request('GET', `/v1/service-accounts/${id}`, { key: owner.key })).status).toBe(200);
      const renamed = await s.request('PATCH', `/v1/service-accounts/${id}`, { body: { name: 'renamed-by-admin' } });
      expect(renamed.status, renamed.text).toBe(200);
      expect(renamed.body).toMatchObject({ id, name: 'renamed-by-admin', ownerId: owner.id });
      expect((await s.request('DELETE', `/v1/service-accounts/${id}`)).status).toBe(204);
      expectError(await s.request('GET', `/v1/service-accounts/${id}`, { key: owner.key }), 404, 'not_found');
    });

    it('renaming onto a taken name is refused', async () => {
      const a = await create(owner.key, 'api_key');
      const b = await create(owner.key, 'api_key');
      expectError(await s.request('PATCH', `/v1/service-accounts/${a.serviceAccount.id}`, { key: owner.key, body: { name: b.serviceAccount.name } }), 409, 'already_exists');
    });
  });

  describe('lifecycle of an api_key account', () => {
    it('deactivating refuses its key on the next request; reactivating restores it; deleting removes it', async () => {
      const sa = await create(owner.key, 'api_key');
      const path = `/v1/service-accounts/${sa.serviceAccount.id}`;
      expect((await s.request('GET', '/v1/me', { key: sa.apiKey!.key })).status).toBe(200);

      const off = await s.request('PATCH', path, { key: owner.key, body: { active: false } });
      expect(off.body.active).toBe(false);
      expectError(await s.request('GET', '/v1/me', { key: sa.apiKey!.key }), 401, 'unauthenticated');

      expect((await s.request('PATCH', path, { key: owner.key, body: { active: true } })).body.active).toBe(true);
      expect((await s.request('GET', '/v1/me', { key: sa.apiKey!.key })).status).toBe(200);

      expect((await s.request('DELETE', path, { key: owner.key })).status).toBe(204);
      expectError(await s.request('GET', '/v1/me', { key: sa.apiKey!.key }), 401, 'unauthenticated');
    });

    it('has no client secrets: secret operations answer wrong_auth_kind', async () => {
      const sa = await create(owner.key, 'api_key');
      const base = `/v1/service-accounts/${sa.serviceAccount.id}/client-secrets`;
      expectError(await s.request('GET', base, { key: owner.key }), 409, 'wrong_auth_kind');
      expectError(await s.request('POST', base, { key: owner.key }), 409, 'wrong_auth_kind');
      expectError(await s.request('PATCH', `${base}/cs_nope`, { key: owner.key, body: { active: false } }), 409, 'wrong_auth_kind');
    });
  });

  describe('client secret rotation', () => {
    it('enforces: at most two, never deactivate the last active one, delete only a deactivated one', async () => {
      const sa = await create(owner.key, 'oauth');
      const base = `/v1/service-accounts/${sa.serviceAccount.id}/client-secrets`;
      const first = sa.clientSecret!.id;

      const second = await s.request('POST', base, { key: owner.key });
      expect(second.status, second.text).toBe(201);
      expect(second.body.secret).toMatch(/^coffer_cs_/);
      expect(second.headers.get('cache-control')).toBe('no-store');
      credentials.push(second.body.secret);

      expectError(await s.request('POST', base, { key: owner.key }), 409, 'max_client_secrets');
      expectError(await s.request('DELETE', `${base}/${first}`, { key: owner.key }), 409, 'secret_still_active');

      const off = await s.request('PATCH', `${base}/${first}`, { key: owner.key, body: { active: false } });
      expect(off.status, off.text).toBe(200);
      expect(off.body).toMatchObject({ id: first, active: false });
      expectError(await s.request('PATCH', `${base}/${second.body.id}`, { key: owner.key, body: { active: false } }), 409, 'last_active_secret');

      // Reactivate and deactivate again: both directions work while another secret is active.
      expect((await s.request('PATCH', `${base}/${first}`, { key: owner.key, body: { active: true } })).body.active).toBe(true);
      expect((await s.request('PATCH', `${base}/${first}`, { key: owner.key, body: { active: false } })).body.active).toBe(false);

      expect((await s.request('DELETE', `${base}/${first}`, { key: owner.key })).status).toBe(204);
      expectError(await s.request('DELETE', `${base}/${first}`, { key: owner.key }), 404, 'not_found');
      // Room for a new one again.
      const third = await s.request('POST', base, { key: owner.key });
      expect(third.status).toBe(201);
      credentials.push(third.body.secret);

      const list = await s.request('GET', base, { key: owner.key });
      expect(list.body.clientSecrets.map((c: { id: string }) => c.id)).toEqual([second.body.id, third.body.id]);
      for (const c of list.body.clientSecrets) expect(Object.keys(c).sort()).toEqual(['active', 'createdAt', 'id', 'lastUsedAt', 'prefix']);
    });

    it('an admin may rotate secrets of an account it does not own', async () => {
      const sa = await create(owner.key, 'oauth');
      const res = await s.request('POST', `/v1/service-accounts/${sa.serviceAccount.id}/client-secrets`);
      expect(res.status).toBe(201);
      credentials.push(res.body.secret);
    });

    it('an unknown secret id is 404', async () => {
      const sa = await create(owner.key, 'oauth');
      expectError(await s.request('PATCH', `/v1/service-accounts/${sa.serviceAccount.id}/client-secrets/cs_missing`, { key: owner.key, body: { active: true } }), 404, 'not_found');
    });
  });

  describe('as a principal', () => {
    it('holds vault grants and workspace roles like a user', async () => {
      const sa = await create(owner.key, 'api_key');
      const saKey = sa.apiKey!.key;
      const saId = sa.serviceAccount.id;

      expect((await s.request('POST', '/v1/vaults', { body: { name: 'sa-vault' } })).status).toBe(201);
      expect((await s.request('PUT', '/v1/vaults/sa-vault/secrets/db-password', { body: { value: 'hunter2-sa' } })).status).toBe(201);
      expect((await s.request('GET', '/v1/vaults/sa-vault/secrets/db-password/value', { key: saKey })).status).toBe(404);

      const grant = await s.request('POST', '/v1/vaults/sa-vault/grants', { body: { principal: saId, role: 'reader' } });
      expect(grant.status, grant.text).toBe(201);
      const read = await s.request('GET', '/v1/vaults/sa-vault/secrets/db-password/value', { key: saKey });
      expect(read.status, read.text).toBe(200);
      expect(read.body.value).toBe('hunter2-sa');
      const grants = await s.request('GET', '/v1/vaults/sa-vault/grants');
      expect(grants.body.grants).toEqual(expect.arrayContaining([expect.objectContaining({ principal: { id: saId, name: sa.serviceAccount.name, kind: 'service_account' } })]));

      expect((await s.request('POST', '/v1/workspaces', { body: { name: 'sa-ws' } })).status).toBe(201);
      expect((await s.request('GET', '/v1/workspaces/sa-ws', { key: saKey })).status).toBe(404);
      const member = await s.request('POST', '/v1/workspaces/sa-ws/members', { body: { principal: saId, role: 'viewer' } });
      expect(member.status, member.text).toBe(200);
      const ws = await s.request('GET', '/v1/workspaces/sa-ws', { key: saKey });
      expect(ws.status).toBe(200);
      expect(ws.body.role).toBe('viewer');

      // Deleting the account takes its grants and memberships with it.
      expect((await s.request('DELETE', `/v1/service-accounts/${saId}`, { key: owner.key })).status).toBe(204);
      const after = await s.request('GET', '/v1/vaults/sa-vault/grants');
      expect(after.body.grants.some((g: { principal: { id: string } | null }) => g.principal?.id === saId)).toBe(false);
      const members = await s.request('GET', '/v1/workspaces/sa-ws/members');
      expect(members.body.members.some((m: { principalId: string }) => m.principalId === saId)).toBe(false);
    });

    it('cannot be deleted while it is the last manager of a vault or the last owner of a workspace', async () => {
      const sa = await create(owner.key, 'api_key');
      const saKey = sa.apiKey!.key;
      const saId = sa.serviceAccount.id;
      expect((await s.request('POST', '/v1/vaults', { key: saKey, body: { name: 'sa-owned-vault' } })).status).toBe(201);
      expectError(await s.request('DELETE', `/v1/service-accounts/${saId}`, { key: owner.key }), 409, 'last_manager');
      expect((await s.request('POST', '/v1/vaults/sa-owned-vault/grants', { body: { principal: owner.id, role: 'manager' } })).status).toBe(201);

      expect((await s.request('POST', '/v1/workspaces', { body: { name: 'sa-owned-ws', owner: saId } })).status).toBe(201);
      expectError(await s.request('DELETE', `/v1/service-accounts/${saId}`, { key: owner.key }), 409, 'last_owner');
      expect((await s.request('POST', '/v1/workspaces/sa-owned-ws/members', { body: { principal: owner.id, role: 'owner' } })).status).toBe(200);

      expect((await s.request('DELETE', `/v1/service-accounts/${saId}`, { key: owner.key })).status).toBe(204);
      expect((await s.request('GET', '/v1/vaults/sa-owned-vault', { key: owner.key })).body.role).toBe('manager');
    });
  });

  describe('confidentiality', () => {
    it('no key or client secret appears in list responses, audit rows or logs', async () => {
      expect(credentials.length).toBeGreaterThan(5);
      const pages = [
        (await s.request('GET', '/v1/service-accounts')).text,
        (await s.request('GET', '/v1/service-accounts', { key: owner.key })).text,
        (await s.request('GET', '/v1/audit?limit=500')).text,
      ];
      const accounts = (await s.request('GET', '/v1/service-accounts')).body.serviceAccounts as Array<{ id: string; auth: string }>;
      for (const a of accounts.filter((x) => x.auth === 'oauth')) {
        const secrets = await s.request('GET', `/v1/service-accounts/${a.id}/client-secrets`);
        pages.push(secrets.text);
      }
      const audit = JSON.parse(pages[2]).events as Array<{ action: string }>;
      expect(audit.map((e) => e.action)).toEqual(expect.arrayContaining(['service_account.create', 'client_secret.create', 'client_secret.deactivate', 'client_secret.delete', 'service_account.delete']));
      const haystack = [...pages, ...s.logs].join('\n');
      for (const c of credentials) expect(haystack).not.toContain(c);
    });
  });
});
