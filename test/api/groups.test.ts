// Principal groups: who manages them, the effective role as the highest of direct and group roles,
// the last-manager and last-owner rules counted through groups, audit rows naming the group, and
// the least-privilege grant terms (secrets, expiresAt) on principals and groups.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { sql } from 'drizzle-orm';
import { startTestServer, type TestServer } from '../support/server.ts';
import { expectError, selectRows } from '../support/assertions.ts';

type User = { id: string; key: string; name: string };
let s: TestServer;
let owner: User;
let member: User;
let outsider: User;
let n = 0;

const ok = async (p: Promise<{ status: number; text: string; body: any }>, status: number) => {
  const r = await p;
  expect(r.status, r.text).toBe(status);
  return r.body;
};
/** A fresh vault managed by `manager`, with one secret. */
async function vaultOf(manager: User, secrets: Record<string, string> = { 'db-password': 'v1' }) {
  const name = `gv-${++n}`;
  await ok(s.request('POST', '/v1/vaults', { key: manager.key, body: { name } }), 201);
  for (const [k, v] of Object.entries(secrets)) await ok(s.request('PUT', `/v1/vaults/${name}/secrets/${k}`, { key: manager.key, body: { value: v } }), 201);
  return name;
}
async function groupWith(...members: User[]) {
  const g = await ok(s.request('POST', '/v1/groups', { body: { name: `grp-${++n}`, owner: owner.id } }), 201);
  for (const m of members) await ok(s.request('POST', `/v1/groups/${g.id}/members`, { key: owner.key, body: { principal: m.id } }), 200);
  return g.id as string;
}
const grant = (vault: string, by: User, body: Record<string, unknown>) => s.request('POST', `/v1/vaults/${vault}/grants`, { key: by.key, body });
const readValue = (vault: string, who: User, secret = 'db-password') => s.request('GET', `/v1/vaults/${vault}/secrets/${secret}/value`, { key: who.key });
const grantsOf = async (vault: string) => (await ok(s.request('GET', `/v1/vaults/${vault}/grants`), 200)).grants as any[];

beforeAll(async () => {
  s = await startTestServer();
  owner = await s.createUser('g-owner');
  member = await s.createUser('g-member');
  outsider = await s.createUser('g-outsider');
});
afterAll(async () => { await s?.close(); });

describe('managing groups', () => {
  let id: string;
  it('an admin creates a group with a named owner; others cannot create one', async () => {
    const g = await ok(s.request('POST', '/v1/groups', { body: { name: 'platform', owner: owner.id, description: 'platform team' } }), 201);
    expect(g).toMatchObject({ id: expect.stringMatching(/^grp_/), name: 'platform', description: 'platform team', role: null });
    id = g.id;
    expectError(await s.request('POST', '/v1/groups', { key: owner.key, body: { name: 'mine' } }), 403, 'forbidden');
    expectError(await s.request('POST', '/v1/groups', { body: { name: 'platform' } }), 409, 'already_exists');
    expectError(await s.request('POST', '/v1/groups', { body: { name: 'Bad Name' } }), 400, 'validation_failed');
  });

  it('the owner manages members; a member sees the group but cannot change it; others get 404', async () => {
    await ok(s.request('POST', `/v1/groups/${id}/members`, { key: owner.key, body: { principal: member.id, role: 'member' } }), 200);
    const members = (await ok(s.request('GET', `/v1/groups/${id}/members`, { key: member.key }), 200)).members;
    expect(members.map((m: any) => [m.principalId, m.role]).sort()).toEqual([[member.id, 'member'], [owner.id, 'owner']].sort());
    expect(await ok(s.request('GET', `/v1/groups/${id}`, { key: member.key }), 200)).toMatchObject({ name: 'platform', role: 'member', vaults: [], workspaces: [] });
    expectError(await s.request('POST', `/v1/groups/${id}/members`, { key: member.key, body: { principal: outsider.id } }), 403, 'forbidden');
    expectError(await s.request('PATCH', `/v1/groups/${id}`, { key: member.key, body: { description: 'x' } }), 403, 'forbidden');
    for (const path of [`/v1/groups/${id}`, `/v1/groups/${id}/members`]) expectError(await s.request('GET', path, { key: outsider.key }), 404, 'not_found');
    expectError(await s.request('DELETE', `/v1/groups/${id}`, { key: outsider.key }), 404, 'not_found');
    expect((await ok(s.request('GET', '/v1/groups', { key: outsider.key }), 200)).groups).toEqual([]);
    expect((await ok(s.request('GET', '/v1/groups', { key: member.key }), 200)).groups).toEqual([expect.objectContaining({ id, role: 'member' })]);
    expectError(await s.request('POST', `/v1/groups/${id}/members`, { key: owner.key, body: { principal: 'usr_nobody' } }), 404, 'not_found');
  });

  it('the owner renames the group; the last owner cannot step down or leave', async () => {
    expect(await ok(s.request('PATCH', `/v1/groups/${id}`, { key: owner.key, body: { name: 'platform-team', description: null } }), 200))
      .toMatchObject({ name: 'platform-team', description: null, role: 'owner' });
    expectError(await s.request('POST', `/v1/groups/${id}/members`, { key: owner.key, body: { principal: owner.id, role: 'member' } }), 409, 'last_owner');
    expectError(await s.request('DELETE', `/v1/groups/${id}/members/${owner.id}`, { key: owner.key }), 409, 'last_owner');
    expectError(await s.request('DELETE', `/v1/groups/${id}/members/${outsider.id}`, { key: owner.key }), 404, 'not_found');
    // An empty patch changes nothing; a description is stored as storable text (NUL becomes U+FFFD).
    expect(await ok(s.request('PATCH', `/v1/groups/${id}`, { key: owner.key, body: {} }), 200)).toMatchObject({ name: 'platform-team' });
    expect(await ok(s.request('PATCH', `/v1/groups/${id}`, { key: owner.key, body: { description: 'ops\u0000team' } }), 200))
      .toMatchObject({ description: 'ops\uFFFDteam' });
    await ok(s.request('POST', '/v1/groups', { body: { name: 'taken-name' } }), 201);
    expectError(await s.request('PATCH', `/v1/groups/${id}`, { key: owner.key, body: { name: 'taken-name' } }), 409, 'already_exists');
  });

  it('a group is a grantee of vault roles and workspace roles, shown on its page; deleting it removes them', async () => {
    const vault = await vaultOf(owner);
    await ok(grant(vault, owner, { group: id, role: 'writer' }), 201);
    await ok(s.request('POST', '/v1/workspaces', { body: { name: 'grp-ws', owner: owner.id } }), 201);
    await ok(s.request('POST', '/v1/workspaces/grp-ws/members', { key: owner.key, body: { group: id, role: 'viewer' } }), 200);
    expect((await ok(s.request('GET', '/v1/workspaces/grp-ws/members', { key: member.key }), 200)).groups)
      .toEqual([expect.objectContaining({ groupId: id, role: 'viewer', name: 'platform-team' })]);
    expect(await ok(s.request('GET', `/v1/groups/${id}`), 200)).toMatchObject({
      vaults: [expect.objectContaining({ vault, role: 'writer', expired: false })], workspaces: [{ workspace: 'grp-ws', role: 'viewer' }],
    });
    expect(await grantsOf(vault)).toContainEqual(expect.objectContaining({ group: { id, name: 'platform-team' }, role: 'writer', principal: null, workspace: null }));
    expect((await ok(s.request('GET', '/v1/workspaces/grp-ws', { key: member.key }), 200)).role).toBe('viewer');

    await ok(s.request('DELETE', `/v1/groups/${id}`, { key: owner.key }), 204);
    expectError(await s.request('GET', '/v1/workspaces/grp-ws', { key: member.key }), 404, 'not_found');
    expectError(await readValue(vault, member), 404, 'not_found');
    expect((await grantsOf(vault)).some((g) => g.group)).toBe(false);
    expectError(await s.request('GET', `/v1/groups/${id}`), 404, 'not_found');
  });
});

describe('the effective role is the highest of direct and group roles', () => {
  it('a direct reader who is also in a writer group is a writer, until leaving the group', async () => {
    const vault = await vaultOf(owner);
    await ok(grant(vault, owner, { principal: member.id, role: 'reader' }), 201);
    const g = await groupWith(member);
    await ok(grant(vault, owner, { group: g, role: 'writer' }), 201);
    expect((await ok(s.request('GET', `/v1/vaults/${vault}`, { key: member.key }), 200)).role).toBe('writer');
    await ok(s.request('GET', `/v1/vaults/${vault}/secrets`, { key: member.key }), 200);
    expect((await ok(s.request('GET', '/v1/vaults', { key: member.key }), 200)).vaults).toContainEqual(expect.objectContaining({ name: vault, role: 'writer' }));

    await ok(s.request('DELETE', `/v1/groups/${g}/members/${member.id}`, { key: owner.key }), 204);
    expectError(await s.request('GET', `/v1/vaults/${vault}/secrets`, { key: member.key }), 403, 'forbidden');
    expect((await ok(s.request('GET', `/v1/vaults/${vault}`, { key: member.key }), 200)).role).toBe('reader');
  });

  it('a direct manager in a reader group stays a manager; a group role alone gives access, and joining gives it at once', async () => {
    const vault = await vaultOf(owner);
    const g = await groupWith();
    await ok(grant(vault, owner, { group: g, role: 'reader' }), 201);
    expectError(await readValue(vault, member), 404, 'not_found');
    await ok(s.request('POST', `/v1/groups/${g}/members`, { key: owner.key, body: { principal: member.id } }), 200);
    await ok(readValue(vault, member), 200);
    await ok(s.request('POST', `/v1/groups/${g}/members`, { key: owner.key, body: { principal: owner.id, role: 'owner' } }), 200);
    expect((await ok(s.request('GET', `/v1/vaults/${vault}`, { key: owner.key }), 200)).role).toBe('manager');
  });

  it('a workspace role through a group counts, the highest one wins', async () => {
    await ok(s.request('POST', '/v1/workspaces', { body: { name: `eff-ws-${++n}`, owner: owner.id } }), 201);
    const ws = `eff-ws-${n}`;
    await ok(s.request('POST', `/v1/workspaces/${ws}/members`, { key: owner.key, body: { principal: member.id, role: 'viewer' } }), 200);
    const g = await groupWith(member);
    await ok(s.request('POST', `/v1/workspaces/${ws}/members`, { key: owner.key, body: { group: g, role: 'owner' } }), 200);
    expect((await ok(s.request('GET', `/v1/workspaces/${ws}`, { key: member.key }), 200)).role).toBe('owner');
    await ok(s.request('POST', `/v1/workspaces/${ws}/members`, { key: member.key, body: { principal: outsider.id, role: 'viewer' } }), 200);
    // The change was allowed by the group's owner role: its audit row names the group.
    const [set] = await selectRows<{ detail: any }>(s.database.db,
      sql`select detail from audit_events where action = 'workspace.member.set' and workspace = ${ws} and actor_id = ${member.id}`);
    expect(set.detail).toEqual({ principalId: outsider.id, role: 'viewer', viaGroup: expect.stringMatching(/^grp-/), viaGroupId: g });
    await ok(s.request('DELETE', `/v1/workspaces/${ws}/members/${g}`, { key: owner.key }), 204);
    expect((await ok(s.request('GET', `/v1/workspaces/${ws}`, { key: member.key }), 200)).role).toBe('viewer');
    expectError(await s.request('POST', `/v1/workspaces/${ws}/members`, { key: member.key, body: { principal: outsider.id, role: 'editor' } }), 403, 'forbidden');
    expectError(await s.request('POST', `/v1/workspaces/${ws}/members`, { key: owner.key, body: { principal: outsider.id, group: g, role: 'editor' } }), 400, 'invalid_request');
  });

  it('the audit row of a read decided through a group names the group; a direct read does not', async () => {
    const vault = await vaultOf(owner);
    const g = await groupWith(member);
    await ok(grant(vault, owner, { group: g, role: 'reader' }), 201);
    const groupName = (await ok(s.request('GET', `/v1/groups/${g}`), 200)).name;
    await ok(readValue(vault, member), 200);
    await ok(readValue(vault, owner), 200);
    const rows = await selectRows<{ actor_id: string; detail: any }>(s.database.db,
      sql`select actor_id, detail from audit_events where action = 'secret.read' and vault = ${vault} order by seq`);
    expect(rows).toEqual([
      { actor_id: member.id, detail: { viaGroup: groupName, viaGroupId: g } },
      { actor_id: owner.id, detail: null },
    ]);
  });
});

describe('the last-manager and last-owner rules count through groups', () => {
  // Every member of a group holds its roles, owners included; a group is never emptied of owners,
  // so it loses its last member only when that principal is deleted.
  async function serviceAccount() {
    const sa = await ok(s.request('POST', '/v1/service-accounts', { body: { name: `sa-${++n}`, auth: 'api_key' } }), 201);
    return sa.serviceAccount.id as string;
  }
  async function groupOwnedBy(principalId: string) {
    return (await ok(s.request('POST', '/v1/groups', { body: { name: `grp-${++n}`, owner: principalId } }), 201)).id as string;
  }
  const deleteAccount = async (id: string) => {
    await ok(s.request('PATCH', `/v1/service-accounts/${id}`, { body: { active: false } }), 200);
    return s.request('DELETE', `/v1/service-accounts/${id}`);
  };

  it('a group holding the only manager role cannot lose it: removing its grant, downgrading it or deleting the group is refused', async () => {
    const vault = await vaultOf(owner);
    const g = await groupWith(member);
    await ok(grant(vault, owner, { group: g, role: 'manager' }), 201);
    const mine = (await grantsOf(vault)).find((x) => x.principal?.id === owner.id);
    // The creator's own grant can go: the group's members still manage.
    await ok(s.request('DELETE', `/v1/vaults/${vault}/grants/${mine.id}`, { key: owner.key }), 204);
    const groupGrant = (await grantsOf(vault)).find((x) => x.group?.id === g);
    expectError(await s.request('DELETE', `/v1/vaults/${vault}/grants/${groupGrant.id}`, { key: member.key }), 409, 'last_manager');
    expectError(await grant(vault, member, { group: g, role: 'writer' }), 409, 'last_manager');
    expectError(await s.request('DELETE', `/v1/groups/${g}`), 409, 'last_manager');
    expect((await grantsOf(vault)).find((x) => x.group?.id === g).role).toBe('manager');
    // A member leaving is fine while another member (the owner) still manages through the group.
    await ok(s.request('DELETE', `/v1/groups/${g}/members/${member.id}`, { key: owner.key }), 204);
    expectError(await readValue(vault, member), 404, 'not_found');

    // With another manager, the group can go.
    await ok(grant(vault, owner, { principal: outsider.id, role: 'manager' }), 201);
    await ok(s.request('DELETE', `/v1/groups/${g}`), 204);
  });

  it('a principal who manages only through a group cannot be deleted while it is the last manager', async () => {
    const sa = await serviceAccount();
    const vault = await vaultOf(owner);
    const g = await groupOwnedBy(sa);
    await ok(grant(vault, owner, { group: g, role: 'manager' }), 201);
    const mine = (await grantsOf(vault)).find((x) => x.principal?.id === owner.id);
    await ok(s.request('DELETE', `/v1/vaults/${vault}/grants/${mine.id}`, { key: owner.key }), 204);
    expectError(await deleteAccount(sa), 409, 'last_manager');
  });

  it('a manager group that has lost all its members does not count as a manager', async () => {
    const sa = await serviceAccount();
    const vault = await vaultOf(owner);
    const g = await groupOwnedBy(sa);
    await ok(grant(vault, owner, { group: g, role: 'manager' }), 201);
    expect((await deleteAccount(sa)).status).toBe(204);
    const mine = (await grantsOf(vault)).find((x) => x.principal?.id === owner.id);
    expectError(await s.request('DELETE', `/v1/vaults/${vault}/grants/${mine.id}`, { key: owner.key }), 409, 'last_manager');
  });

  it('the only permanent manager cannot turn its grant into an expiring one', async () => {
    const vault = await vaultOf(owner);
    const later = new Date(Date.now() + 3600_000).toISOString();
    expectError(await grant(vault, owner, { principal: owner.id, role: 'manager', expiresAt: later }), 409, 'last_manager');
    await ok(grant(vault, owner, { principal: member.id, role: 'manager' }), 201);
    await ok(grant(vault, owner, { principal: owner.id, role: 'manager', expiresAt: later }), 201);
  });

  it('an expired manager grant does not count as a manager', async () => {
    const vault = await vaultOf(owner);
    await ok(grant(vault, owner, { principal: member.id, role: 'manager', expiresAt: new Date(Date.now() + 300).toISOString() }), 201);
    await new Promise((r) => setTimeout(r, 320));
    const mine = (await grantsOf(vault)).find((x) => x.principal?.id === owner.id);
    expectError(await s.request('DELETE', `/v1/vaults/${vault}/grants/${mine.id}`, { key: owner.key }), 409, 'last_manager');
  });

  it('a workspace owned only through a group keeps it: removing, downgrading or deleting the group is refused', async () => {
    const ws = `own-ws-${++n}`;
    await ok(s.request('POST', '/v1/workspaces', { body: { name: ws, owner: owner.id } }), 201);
    const g = await groupWith(member);
    await ok(s.request('POST', `/v1/workspaces/${ws}/members`, { key: owner.key, body: { group: g, role: 'owner' } }), 200);
    await ok(s.request('DELETE', `/v1/workspaces/${ws}/members/${owner.id}`, { key: member.key }), 204);
    expectError(await s.request('DELETE', `/v1/workspaces/${ws}/members/${g}`, { key: member.key }), 409, 'last_owner');
    expectError(await s.request('POST', `/v1/workspaces/${ws}/members`, { key: member.key, body: { group: g, role: 'editor' } }), 409, 'last_owner');
    expectError(await s.request('DELETE', `/v1/groups/${g}`, { key: owner.key }), 409, 'last_owner');
    await ok(s.request('POST', `/v1/workspaces/${ws}/members`, { key: member.key, body: { principal: outsider.id, role: 'owner' } }), 200);
    await ok(s.request('DELETE', `/v1/groups/${g}`, { key: owner.key }), 204);
    expectError(await s.request('GET', `/v1/workspaces/${ws}`, { key: member.key }), 404, 'not_found');
  });

  it('a service account that owns a workspace only through a group cannot be deleted', async () => {
    const sa = await serviceAccount();
    const ws = `own-ws-${++n}`;
    await ok(s.request('POST', '/v1/workspaces', { body: { name: ws, owner: owner.id } }), 201);
    const g = await groupOwnedBy(sa);
    await ok(s.request('POST', `/v1/workspaces/${ws}/members`, { key: owner.key, body: { group: g, role: 'owner' } }), 200);
    await ok(s.request('DELETE', `/v1/workspaces/${ws}/members/${owner.id}`, { key: owner.key }), 204);
    expectError(await deleteAccount(sa), 409, 'last_owner');
  });
});

describe('grant terms', () => {
  it('a reader grant limited to some secret names reads those and is refused the others', async () => {
    const vault = await vaultOf(owner, { 'stripe-key': 'sk_1', 'stripe-webhook': 'wh_1', 'db-password': 'pw_1' });
    await ok(grant(vault, owner, { principal: member.id, role: 'reader', secrets: ['stripe-*'] }), 201);
    expect((await ok(readValue(vault, member, 'stripe-key'), 200)).value).toBe('sk_1');
    await ok(readValue(vault, member, 'stripe-webhook'), 200);
    const refused = await readValue(vault, member, 'db-password');
    expectError(refused, 403, 'forbidden');
    expect(refused.text).not.toContain('pw_1');
    // Refused whether or not the secret exists: names outside the grant are not disclosed.
    expect((await readValue(vault, member, 'no-such')).body.error.message).toMatch(/does not cover secret/);
    const [row] = await selectRows<{ outcome: string; detail: any }>(s.database.db,
      sql`select outcome, detail from audit_events where action = 'secret.read' and vault = ${vault} and secret = 'db-password'`);
    expect(row).toEqual({ outcome: 'denied', detail: { reason: 'not_for_secret' } });
    expect(await grantsOf(vault)).toContainEqual(expect.objectContaining({ principal: expect.objectContaining({ id: member.id }), secrets: ['stripe-*'] }));
  });

  it('rejects terms that do not fit the grant', async () => {
    const vault = await vaultOf(owner);
    await ok(s.request('POST', '/v1/workspaces', { body: { name: `terms-ws-${++n}` } }), 201);
    const cases: Array<[Record<string, unknown>, number, string]> = [
      [{ principal: member.id, role: 'writer', secrets: ['a-*'] }, 400, 'invalid_request'],
      [{ principal: member.id, role: 'reader', functions: ['billing-*'] }, 400, 'invalid_request'],
      [{ principal: member.id, role: 'reader', expiresAt: new Date(Date.now() - 1000).toISOString() }, 400, 'invalid_request'],
      [{ principal: member.id, role: 'reader', expiresAt: 'tomorrow' }, 400, 'validation_failed'],
      [{ principal: member.id, role: 'reader', secrets: [] }, 400, 'validation_failed'],
      [{ principal: member.id, role: 'reader', secrets: ['a/b'] }, 400, 'validation_failed'],
      [{ workspace: `terms-ws-${n}`, role: 'reader', functions: ['Billing'] }, 400, 'validation_failed'],
      [{ group: 'grp_nobody', role: 'reader' }, 404, 'not_found'],
      [{ group: 'grp_nobody', principal: member.id, role: 'reader' }, 400, 'invalid_request'],
    ];
    for (const [body, status, code] of cases) expectError(await grant(vault, owner, body), status, code);
  });

  it('an expiring grant works until its instant, then stops; it stays listed as expired until removed', async () => {
    const vault = await vaultOf(owner);
    const expiresAt = new Date(Date.now() + 1200);
    const g = await groupWith(outsider);
    await ok(grant(vault, owner, { principal: member.id, role: 'writer', expiresAt: expiresAt.toISOString() }), 201);
    await ok(grant(vault, owner, { group: g, role: 'reader', expiresAt: expiresAt.toISOString() }), 201);
    await ok(readValue(vault, member), 200);
    await ok(readValue(vault, outsider), 200);
    expect((await ok(s.request('GET', `/v1/vaults/${vault}/access`), 200)).principals.map((p: any) => p.principal.id)).toContain(member.id);

    await new Promise((r) => setTimeout(r, Math.max(0, expiresAt.getTime() - Date.now()) + 20));
    expectError(await readValue(vault, member), 404, 'not_found');
    expectError(await readValue(vault, outsider), 404, 'not_found');
    const listed = (await grantsOf(vault)).filter((x) => x.principal?.id === member.id || x.group?.id === g);
    expect(listed).toHaveLength(2);
    for (const x of listed) expect(x).toMatchObject({ expiresAt: expiresAt.toISOString(), expired: true });
    const access = await ok(s.request('GET', `/v1/vaults/${vault}/access`), 200);
    expect(access.principals.map((p: any) => p.principal.id)).not.toContain(member.id);
    expect(access.principals.map((p: any) => p.principal.id)).not.toContain(outsider.id);
    const [row] = await selectRows<{ detail: any }>(s.database.db,
      sql`select detail from audit_events where action = 'secret.read' and outcome = 'denied' and vault = ${vault} and actor_id = ${member.id}`);
    expect(row.detail).toEqual({ reason: 'expired' });
    // Re-granting without expiresAt makes it permanent again.
    await ok(grant(vault, owner, { principal: member.id, role: 'writer' }), 201);
    await ok(readValue(vault, member), 200);
  });
});

describe('the access endpoints', () => {
  it('only managers and admins see who can read a vault; a principal sees its own access, not another\'s', async () => {
    const vault = await vaultOf(owner);
    await ok(grant(vault, owner, { principal: member.id, role: 'writer' }), 201);
    expectError(await s.request('GET', `/v1/vaults/${vault}/access`, { key: member.key }), 403, 'forbidden');
    expectError(await s.request('GET', `/v1/vaults/${vault}/access`, { key: outsider.key }), 404, 'not_found');
    await ok(s.request('GET', `/v1/vaults/${vault}/access`, { key: owner.key }), 200);
    await ok(s.request('GET', `/v1/principals/${member.id}/access`, { key: member.key }), 200);
    expectError(await s.request('GET', `/v1/principals/${owner.id}/access`, { key: member.key }), 403, 'forbidden');
    expectError(await s.request('GET', '/v1/principals/usr_nobody/access'), 404, 'not_found');
  });

  it('names each path: direct, group, admin, secrets and expiry', async () => {
    const vault = await vaultOf(owner);
    const g = await groupWith(member);
    const groupName = (await ok(s.request('GET', `/v1/groups/${g}`), 200)).name;
    const expiresAt = new Date(Date.now() + 3600_000).toISOString();
    await ok(grant(vault, owner, { principal: member.id, role: 'reader', secrets: ['db-*'], expiresAt }), 201);
    await ok(grant(vault, owner, { group: g, role: 'writer' }), 201);
    const access = await ok(s.request('GET', `/v1/vaults/${vault}/access`), 200);
    const entry = access.principals.find((p: any) => p.principal.id === member.id);
    expect(entry).toEqual({
      principal: { id: member.id, name: member.name, kind: 'user' }, role: 'writer', admin: false,
      via: [
        { source: 'group', grantId: expect.any(String), role: 'writer', group: { id: g, name: groupName } },
        { source: 'direct', grantId: expect.any(String), role: 'reader', secrets: ['db-*'], expiresAt },
      ],
    });
    expect(access.principals.find((p: any) => p.principal.id === s.adminId)).toMatchObject({ role: null, admin: true, via: [{ source: 'admin' }] });
    const mine = await ok(s.request('GET', `/v1/principals/${member.id}/access`, { key: member.key }), 200);
    expect(mine.groups).toContainEqual({ id: g, name: groupName, role: 'member' });
    expect(mine.vaults.find((v: any) => v.vault === vault)).toEqual({ vault, role: entry.role, admin: false, via: entry.via });
  });
});
