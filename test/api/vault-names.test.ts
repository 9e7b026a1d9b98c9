// Reused names never reveal history or borrow trust: audit rows belong to a vault by id, a deleted
// vault's name stays reserved until an admin releases it, and granting a workspace access to a
// vault takes the workspace owner's consent.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.ts';
import { expectError } from '../support/assertions.ts';

let s: TestServer;
let alice: { id: string; key: string };
let mallory: { id: string; key: string };
let oldVaultId: string;

const events = async (query: string, key?: string) => {
  const r = await s.request('GET', `/v1/audit?limit=500&${query}`, { key });
  expect(r.status, r.text).toBe(200);
  return r.body.events as Array<{ action: string; actorId: string | null; vault: string | null; vaultId: string | null; secret: string | null }>;
};

beforeAll(async () => {
  s = await startTestServer();
  alice = await s.createUser('alice');
  mallory = await s.createUser('mallory');
  expect((await s.request('POST', '/v1/vaults', { key: alice.key, body: { name: 'payroll' } })).status).toBe(201);
  expect((await s.request('PUT', '/v1/vaults/payroll/secrets/bank-token', { key: alice.key, body: { value: 'PAYROLL-VALUE' } })).status).toBe(201);
  expect((await s.request('GET', '/v1/vaults/payroll/secrets/bank-token/value', { key: alice.key })).status).toBe(200);
  expect((await s.request('POST', '/v1/workspaces', { body: { name: 'ops' } })).status).toBe(201);
  expect((await s.request('POST', '/v1/vaults/payroll/grants', { body: { workspace: 'ops', role: 'reader' } })).status).toBe(201);
});
afterAll(async () => { await s?.close(); });

describe('audit rows reference vaults by id', () => {
  it('every row of a vault carries its id, and ?vault= matches by that id', async () => {
    const rows = await events('vault=payroll', alice.key);
    expect(rows.map((e) => e.action)).toEqual(expect.arrayContaining(['vault.create', 'secret.write', 'secret.read', 'grant.create']));
    oldVaultId = rows[0].vaultId!;
    expect(oldVaultId).toMatch(/^vlt_/);
    for (const e of rows) expect(e.vaultId).toBe(oldVaultId);
  });
});

describe('a deleted vault\'s name', () => {
  it('stays reserved: nobody can re-create it until an admin releases it', async () => {
    expect((await s.request('DELETE', '/v1/vaults/payroll')).status).toBe(204);
    expectError(await s.request('POST', '/v1/vaults', { key: mallory.key, body: { name: 'payroll' } }), 409, 'name_reserved');
    expectError(await s.request('POST', '/v1/vaults', { body: { name: 'payroll' } }), 409, 'name_reserved');
    const reserved = await s.request('GET', '/v1/admin/vault-names');
    expect(reserved.body.names).toEqual([expect.objectContaining({ name: 'payroll', formerVaultId: oldVaultId, deletedBy: s.adminId })]);
  });

  it('only admins list and release reserved names; releasing is audited', async () => {
    expectError(await s.request('GET', '/v1/admin/vault-names', { key: mallory.key }), 403, 'forbidden');
    expectError(await s.request('DELETE', '/v1/admin/vault-names/payroll', { key: mallory.key }), 403, 'forbidden');
    expectError(await s.request('DELETE', '/v1/admin/vault-names/never-existed'), 404, 'not_found');
    expect((await s.request('DELETE', '/v1/admin/vault-names/payroll')).status).toBe(204);
    expect((await events('action=vault.name.release'))).toEqual([expect.objectContaining({ vault: 'payroll', actorId: s.adminId })]);
    expect((await s.request('GET', '/v1/admin/vault-names')).body.names).toEqual([]);
  });

  it('a vault re-created under a released name shows none of its namesake\'s history', async () => {
    const created = await s.request('POST', '/v1/vaults', { key: mallory.key, body: { name: 'payroll' } });
    expect(created.status).toBe(201);
    const rows = await events('vault=payroll', mallory.key);
    expect(rows.map((e) => e.action)).toEqual(['vault.create']);
    expect(rows[0].actorId).toBe(mallory.id);
    expect(rows[0].vaultId).not.toBe(oldVaultId);
    expect(JSON.stringify(rows)).not.toContain('bank-token');
    // The old history is still there for admins, under the old id.
    const old = await events(`vaultId=${oldVaultId}`);
    expect(old.map((e) => e.action)).toEqual(expect.arrayContaining(['secret.read', 'vault.delete']));
    expectError(await s.request('GET', `/v1/audit?vaultId=${oldVaultId}`, { key: mallory.key }), 403, 'forbidden');
  });
});

describe('granting a workspace access to a vault needs its consent', () => {
  it('a workspace the granter cannot see answers exactly like one that does not exist', async () => {
    const invisible = await s.request('POST', '/v1/vaults/payroll/grants', { key: mallory.key, body: { workspace: 'ops', role: 'reader' } });
    const unknown = await s.request('POST', '/v1/vaults/payroll/grants', { key: mallory.key, body: { workspace: 'no-such-ws', role: 'reader' } });
    expectError(invisible, 404, 'not_found');
    expectError(unknown, 404, 'not_found');
    expect({ ...invisible.body.error, requestId: null }).toEqual({ ...unknown.body.error, requestId: null });
  });

  it('members below owner are refused (403, audited); an owner may grant', async () => {
    for (const role of ['viewer', 'invoker', 'editor']) {
      expect((await s.request('POST', '/v1/workspaces/ops/members', { body: { principal: mallory.id, role } })).status).toBe(200);
      expectError(await s.request('POST', '/v1/vaults/payroll/grants', { key: mallory.key, body: { workspace: 'ops', role: 'reader' } }), 403, 'forbidden');
    }
    const denied = await events('action=grant.edit&outcome=denied');
    expect(denied.filter((e) => e.actorId === mallory.id && e.vault === 'payroll')).toHaveLength(3);
    expect((await s.request('POST', '/v1/workspaces/ops/members', { body: { principal: mallory.id, role: 'owner' } })).status).toBe(200);
    expect((await s.request('POST', '/v1/vaults/payroll/grants', { key: mallory.key, body: { workspace: 'ops', role: 'reader' } })).status).toBe(201);
  });

  it('an admin may grant any workspace', async () => {
    expect((await s.request('POST', '/v1/workspaces', { body: { name: 'billing' } })).status).toBe(201);
    expect((await s.request('POST', '/v1/vaults', { body: { name: 'admin-vault' } })).status).toBe(201);
    expect((await s.request('POST', '/v1/vaults/admin-vault/grants', { body: { workspace: 'billing', role: 'reader' } })).status).toBe(201);
  });
});
