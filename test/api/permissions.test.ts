// The vault permission table (shared/reference/tecton-secrets.txt), role by role and action by action,
// for roles held directly and through a principal group. Every case gets a fresh vault, so a
// destructive action never changes what the next case sees.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.ts';
import { expectError } from '../support/assertions.ts';

type Role = 'manager' | 'writer' | 'reader' | 'none' | 'admin';
/** A role held through a group: the group holds the grant, the user is a member. */
type GroupRole = 'group-manager' | 'group-writer' | 'group-reader';
type Holder = Role | GroupRole;
const heldRole = (h: Holder): Role => (h.startsWith('group-') ? h.slice('group-'.length) as Role : h as Role);
type User = { id: string; key: string };

interface Fixture {
  vault: string;
  /** A reader grant held by a bystander, for the "remove a grant" action. */
  extraGrantId: string;
}

interface Action {
  name: string;
  allowed: Role[];
  status: number;
  request(f: Fixture): { method: string; path: string; body?: unknown };
}

const ALL: Role[] = ['manager', 'writer', 'reader', 'admin'];
const WRITERS: Role[] = ['manager', 'writer', 'admin'];
const MANAGERS: Role[] = ['manager', 'admin'];

const secretPath = (f: Fixture) => `/v1/vaults/${f.vault}/secrets/db-password`;

const ACTIONS: Action[] = [
  { name: 'view the vault', allowed: ALL, status: 200, request: (f) => ({ method: 'GET', path: `/v1/vaults/${f.vault}` }) },
  { name: 'list secret keys', allowed: WRITERS, status: 200, request: (f) => ({ method: 'GET', path: `/v1/vaults/${f.vault}/secrets` }) },
  { name: 'read secret metadata', allowed: WRITERS, status: 200, request: (f) => ({ method: 'GET', path: secretPath(f) }) },
  { name: 'write a secret value', allowed: WRITERS, status: 200, request: (f) => ({ method: 'PUT', path: secretPath(f), body: { value: 'v3' } }) },
  { name: 'read the latest value', allowed: ALL, status: 200, request: (f) => ({ method: 'GET', path: `${secretPath(f)}/value` }) },
  { name: 'read a specific version', allowed: ALL, status: 200, request: (f) => ({ method: 'GET', path: `${secretPath(f)}/value?version=1` }) },
  { name: 'list versions', allowed: WRITERS, status: 200, request: (f) => ({ method: 'GET', path: `${secretPath(f)}/versions` }) },
  { name: 'disable a version', allowed: WRITERS, status: 200, request: (f) => ({ method: 'PATCH', path: `${secretPath(f)}/versions/1`, body: { state: 'disabled' } }) },
  { name: 'enable a version', allowed: WRITERS, status: 200, request: (f) => ({ method: 'PATCH', path: `${secretPath(f)}/versions/1`, body: { state: 'enabled' } }) },
  { name: 'destroy a version', allowed: WRITERS, status: 204, request: (f) => ({ method: 'DELETE', path: `${secretPath(f)}/versions/1` }) },
  { name: 'delete a secret', allowed: WRITERS, status: 204, request: (f) => ({ method: 'DELETE', path: secretPath(f) }) },
  { name: 'list grants', allowed: MANAGERS, status: 200, request: (f) => ({ method: 'GET', path: `/v1/vaults/${f.vault}/grants` }) },
  { name: 'add a grant', allowed: MANAGERS, status: 201, request: (f) => ({ method: 'POST', path: `/v1/vaults/${f.vault}/grants`, body: { principal: newcomer.id, role: 'reader' } }) },
  { name: 'remove a grant', allowed: MANAGERS, status: 204, request: (f) => ({ method: 'DELETE', path: `/v1/vaults/${f.vault}/grants/${f.extraGrantId}` }) },
  { name: 'delete the vault', allowed: MANAGERS, status: 204, request: (f) => ({ method: 'DELETE', path: `/v1/vaults/${f.vault}` }) },
  { name: 'read the vault audit trail', allowed: MANAGERS, status: 200, request: (f) => ({ method: 'GET', path: `/v1/audit?vault=${f.vault}` }) },
];

const ROLE_PHRASE: Record<Holder, string> = {
  manager: 'a manager', writer: 'a writer', reader: 'a reader', none: 'a principal without a role', admin: 'an instance admin',
  'group-manager': 'a manager through a group', 'group-writer': 'a writer through a group', 'group-reader': 'a reader through a group',
};

let s: TestServer;
const users = {} as Record<Holder, User>;
const groupOf = {} as Record<GroupRole, string>;
let bystander: User;
let newcomer: User;
let counter = 0;

async function makeFixture(options: { groupGrants?: boolean } = {}): Promise<Fixture> {
  const vault = `perm-${++counter}`;
  const m = users.manager.key;
  expect((await s.request('POST', '/v1/vaults', { key: m, body: { name: vault } })).status).toBe(201);
  for (const [who, role] of [[users.writer, 'writer'], [users.reader, 'reader']] as const) {
    expect((await s.request('POST', `/v1/vaults/${vault}/grants`, { key: m, body: { principal: who.id, role } })).status).toBe(201);
  }
  for (const [g, role] of options.groupGrants === false ? [] : [['group-manager', 'manager'], ['group-writer', 'writer'], ['group-reader', 'reader']] as const) {
    expect((await s.request('POST', `/v1/vaults/${vault}/grants`, { key: m, body: { group: groupOf[g], role } })).status).toBe(201);
  }
  const extra = await s.request('POST', `/v1/vaults/${vault}/grants`, { key: m, body: { principal: bystander.id, role: 'reader' } });
  const f = { vault, extraGrantId: extra.body.id };
  expect((await s.request('PUT', secretPath(f), { key: m, body: { value: 'v1' } })).status).toBe(201);
  expect((await s.request('PUT', secretPath(f), { key: m, body: { value: 'v2' } })).status).toBe(200);
  return f;
}

/** What the vault looks like to an admin, to show that a refused action changed nothing. */
async function snapshot(f: Fixture) {
  const [vault, versions, grants] = await Promise.all([
    s.request('GET', `/v1/vaults/${f.vault}`),
    s.request('GET', `${secretPath(f)}/versions`),
    s.request('GET', `/v1/vaults/${f.vault}/grants`),
  ]);
  return { vault: vault.status, versions: versions.body.versions, grants: grants.body.grants };
}

beforeAll(async () => {
  s = await startTestServer();
  for (const role of ['manager', 'writer', 'reader', 'none'] as const) users[role] = await s.createUser(`perm-${role}`);
  users.admin = await s.createUser('perm-admin', { isAdmin: true });
  for (const g of ['group-manager', 'group-writer', 'group-reader'] as const) {
    users[g] = await s.createUser(`perm-${g}`);
    const group = await s.request('POST', '/v1/groups', { body: { name: `perm-${g}` } });
    expect(group.status, group.text).toBe(201);
    groupOf[g] = group.body.id;
    expect((await s.request('POST', `/v1/groups/${group.body.id}/members`, { body: { principal: users[g].id } })).status).toBe(200);
  }
  bystander = await s.createUser('perm-bystander');
  newcomer = await s.createUser('perm-newcomer');
});
afterAll(async () => { await s?.close(); });

describe.each(['manager', 'writer', 'reader', 'none', 'admin', 'group-manager', 'group-writer', 'group-reader'] as Holder[])('the permission table for %s', (role) => {
  for (const action of ACTIONS) {
    const allowed = action.allowed.includes(heldRole(role));
    const title = role === 'none'
      ? `${ROLE_PHRASE[role]} gets 404, as for a missing vault, when trying to ${action.name}`
      : `${ROLE_PHRASE[role]} ${allowed ? 'can' : 'cannot'} ${action.name}`;

    it(title, async () => {
      const f = await makeFixture();
      const { method, path, body } = action.request(f);
      const before = allowed ? undefined : await snapshot(f);
      const reply = await s.request(method, path, { key: users[role].key, body });

      if (allowed) {
        expect(reply.status, reply.text).toBe(action.status);
        return;
      }
      if (role === 'none') {
        expectError(reply, 404, 'not_found');
        // Indistinguishable from a vault that does not exist.
        const missing = action.request({ ...f, vault: `missing-${counter}` });
        const ghost = await s.request(missing.method, missing.path, { key: users[role].key, body: missing.body });
        expectError(ghost, 404, 'not_found');
        expect(reply.body.error.message).toBe(ghost.body.error.message);
      } else {
        expectError(reply, 403, 'forbidden');
      }
      expect(await snapshot(f)).toEqual(before);
    });
  }
});

describe('vault creation and the manager role', () => {
  it('any authenticated principal can create a vault and becomes its manager', async () => {
    const created = await s.request('POST', '/v1/vaults', { key: users.none.key, body: { name: 'anyones-vault', description: 'mine' } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'anyones-vault', description: 'mine', role: 'manager', createdBy: users.none.id });
    const grants = await s.request('GET', '/v1/vaults/anyones-vault/grants', { key: users.none.key });
    expect(grants.body.grants).toEqual([expect.objectContaining({ role: 'manager', principal: expect.objectContaining({ id: users.none.id }) })]);
  });

  it('creating a vault whose name is taken is a conflict', async () => {
    const again = await s.request('POST', '/v1/vaults', { key: users.writer.key, body: { name: 'anyones-vault' } });
    expectError(again, 409, 'already_exists');
  });

  it('the vault list shows only vaults the caller holds a role on, with that role', async () => {
    const f = await makeFixture();
    const asReader = await s.request('GET', '/v1/vaults', { key: users.reader.key });
    expect(asReader.body.vaults).toContainEqual(expect.objectContaining({ name: f.vault, role: 'reader' }));
    const asStranger = await s.request('GET', '/v1/vaults', { key: newcomer.key });
    expect(asStranger.body.vaults.map((v: { name: string }) => v.name)).not.toContain(f.vault);
    const asAdmin = await s.request('GET', '/v1/vaults', { key: users.admin.key });
    expect(asAdmin.body.vaults).toContainEqual(expect.objectContaining({ name: f.vault, role: null }));
  });

  it('the last manager of a vault cannot be removed or downgraded, by themselves or by an admin', async () => {
    const f = await makeFixture({ groupGrants: false });
    const grants = (await s.request('GET', `/v1/vaults/${f.vault}/grants`, { key: users.manager.key })).body.grants;
    const managerGrant = grants.find((g: { role: string }) => g.role === 'manager');
    expectError(await s.request('DELETE', `/v1/vaults/${f.vault}/grants/${managerGrant.id}`, { key: users.manager.key }), 409, 'last_manager');
    expectError(await s.request('DELETE', `/v1/vaults/${f.vault}/grants/${managerGrant.id}`, { key: users.admin.key }), 409, 'last_manager');
    const downgrade = await s.request('POST', `/v1/vaults/${f.vault}/grants`, { key: users.manager.key, body: { principal: users.manager.id, role: 'writer' } });
    expectError(downgrade, 409, 'last_manager');
    const after = (await s.request('GET', `/v1/vaults/${f.vault}/grants`, { key: users.manager.key })).body.grants;
    expect(after.find((g: { id: string }) => g.id === managerGrant.id).role).toBe('manager');
  });

  it('with a second manager, a manager can step down', async () => {
    const f = await makeFixture();
    expect((await s.request('POST', `/v1/vaults/${f.vault}/grants`, { key: users.manager.key, body: { principal: users.writer.id, role: 'manager' } })).status).toBe(201);
    const downgrade = await s.request('POST', `/v1/vaults/${f.vault}/grants`, { key: users.manager.key, body: { principal: users.manager.id, role: 'reader' } });
    expect(downgrade.status).toBe(201);
    // The former manager is now a reader: the table applies at once.
    expectError(await s.request('GET', `/v1/vaults/${f.vault}/grants`, { key: users.manager.key }), 403, 'forbidden');
    expect((await s.request('GET', `${secretPath(f)}/value`, { key: users.manager.key })).status).toBe(200);
  });

  it('a removed grant stops access on the next request', async () => {
    const f = await makeFixture();
    const grants = (await s.request('GET', `/v1/vaults/${f.vault}/grants`, { key: users.manager.key })).body.grants;
    const readerGrant = grants.find((g: { principal: { id: string } | null }) => g.principal?.id === users.reader.id);
    expect((await s.request('GET', `${secretPath(f)}/value`, { key: users.reader.key })).status).toBe(200);
    expect((await s.request('DELETE', `/v1/vaults/${f.vault}/grants/${readerGrant.id}`, { key: users.manager.key })).status).toBe(204);
    expectError(await s.request('GET', `${secretPath(f)}/value`, { key: users.reader.key }), 404, 'not_found');
  });
});

describe('workspace grants', () => {
  beforeAll(async () => {
    expect((await s.request('POST', '/v1/workspaces', { body: { name: 'perm-ws' } })).status).toBe(201);
    // Granting a workspace needs its owner's consent: the manager owns perm-ws.
    expect((await s.request('POST', '/v1/workspaces/perm-ws/members', { body: { principal: users.manager.id, role: 'owner' } })).status).toBe(200);
  });

  it('a vault manager who owns the workspace may grant it the reader role', async () => {
    const f = await makeFixture();
    const granted = await s.request('POST', `/v1/vaults/${f.vault}/grants`, { key: users.manager.key, body: { workspace: 'perm-ws', role: 'reader' } });
    expect(granted.status).toBe(201);
    const grants = (await s.request('GET', `/v1/vaults/${f.vault}/grants`, { key: users.manager.key })).body.grants;
    expect(grants).toContainEqual(expect.objectContaining({ workspace: 'perm-ws', role: 'reader', principal: null }));
  });

  it('a workspace can only be granted reader, never writer or manager', async () => {
    const f = await makeFixture();
    for (const role of ['writer', 'manager']) {
      expectError(await s.request('POST', `/v1/vaults/${f.vault}/grants`, { key: users.manager.key, body: { workspace: 'perm-ws', role } }), 400, 'invalid_request');
    }
  });

  it('a writer cannot grant a workspace access', async () => {
    const f = await makeFixture();
    expectError(await s.request('POST', `/v1/vaults/${f.vault}/grants`, { key: users.writer.key, body: { workspace: 'perm-ws', role: 'reader' } }), 403, 'forbidden');
  });

  it('a grant names exactly one holder, which must exist', async () => {
    const f = await makeFixture();
    const both = await s.request('POST', `/v1/vaults/${f.vault}/grants`, { key: users.manager.key, body: { workspace: 'perm-ws', principal: users.reader.id, role: 'reader' } });
    expectError(both, 400, 'invalid_request');
    expectError(await s.request('POST', `/v1/vaults/${f.vault}/grants`, { key: users.manager.key, body: { role: 'reader' } }), 400, 'invalid_request');
    expectError(await s.request('POST', `/v1/vaults/${f.vault}/grants`, { key: users.manager.key, body: { workspace: 'no-such-ws', role: 'reader' } }), 404, 'not_found');
    expectError(await s.request('POST', `/v1/vaults/${f.vault}/grants`, { key: users.manager.key, body: { principal: 'usr_nobody', role: 'reader' } }), 404, 'not_found');
  });
});
