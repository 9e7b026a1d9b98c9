// The workspace permission table (api/policy/roles.ts WORKSPACE_ACTIONS), role by role, for roles
// held directly and through a principal group: each role includes everything below it.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.ts';

type Role = 'viewer' | 'invoker' | 'editor' | 'owner';
type Holder = Role | `group-${Role}`;
const ROLES: Role[] = ['viewer', 'invoker', 'editor', 'owner'];
const RANK: Record<Role, number> = { viewer: 1, invoker: 2, editor: 3, owner: 4 };
const WS = 'perm-ws';
const VAULT = 'perm-ws-vault';

interface Action { name: string; needs: Role; status: number; request: () => { method: string; path: string; body?: unknown } }
const ACTIONS: Action[] = [
  { name: 'view the workspace', needs: 'viewer', status: 200, request: () => ({ method: 'GET', path: `/v1/workspaces/${WS}` }) },
  { name: 'list functions', needs: 'viewer', status: 200, request: () => ({ method: 'GET', path: `/v1/workspaces/${WS}/functions` }) },
  { name: 'list members', needs: 'viewer', status: 200, request: () => ({ method: 'GET', path: `/v1/workspaces/${WS}/members` }) },
  { name: 'list pipelines', needs: 'viewer', status: 200, request: () => ({ method: 'GET', path: `/v1/workspaces/${WS}/pipelines` }) },
  { name: 'invoke a function', needs: 'invoker', status: 200, request: () => ({ method: 'POST', path: `/v1/workspaces/${WS}/functions/hello/invoke`, body: { args: {} } }) },
  { name: 'deploy a function', needs: 'editor', status: 200, request: () => ({ method: 'PUT', path: `/v1/workspaces/${WS}/functions/hello`, body: { code: 'export default async () => "hi"' } }) },
  { name: 'set a member', needs: 'owner', status: 200, request: () => ({ method: 'POST', path: `/v1/workspaces/${WS}/members`, body: { principal: bystander.id, role: 'viewer' } }) },
  { name: 'accept a vault grant for the workspace', needs: 'owner', status: 201, request: () => ({ method: 'POST', path: `/v1/vaults/${VAULT}/grants`, body: { workspace: WS, role: 'reader' } }) },
];

let s: TestServer;
const users = {} as Record<Holder, { id: string; key: string }>;
let bystander: { id: string; key: string };

beforeAll(async () => {
  s = await startTestServer({ env: { COFFER_WORKERS: '1' } });
  const ok = async (p: Promise<{ status: number; text: string }>, status: number) => { const r = await p; expect(r.status, r.text).toBe(status); };
  await ok(s.request('POST', '/v1/workspaces', { body: { name: WS } }), 201);
  await ok(s.request('PUT', `/v1/workspaces/${WS}/functions/hello`, { body: { code: 'export default async () => "hi"' } }), 201);
  await ok(s.request('POST', '/v1/vaults', { body: { name: VAULT } }), 201);
  bystander = await s.createUser('ws-perm-bystander');
  for (const role of ROLES) {
    users[role] = await s.createUser(`ws-perm-${role}`);
    await ok(s.request('POST', `/v1/workspaces/${WS}/members`, { body: { principal: users[role].id, role } }), 200);
    const member = users[`group-${role}`] = await s.createUser(`ws-perm-group-${role}`);
    const group = (await s.request('POST', '/v1/groups', { body: { name: `ws-perm-${role}` } })).body.id;
    await ok(s.request('POST', `/v1/groups/${group}/members`, { body: { principal: member.id } }), 200);
    await ok(s.request('POST', `/v1/workspaces/${WS}/members`, { body: { group, role } }), 200);
  }
  // Everyone manages the vault, so the workspace role alone decides whether a grant is accepted.
  for (const u of Object.values(users)) await ok(s.request('POST', `/v1/vaults/${VAULT}/grants`, { body: { principal: u.id, role: 'manager' } }), 201);
});
afterAll(async () => { await s?.close(); });

describe.each(ROLES.flatMap((r) => [r, `group-${r}`] as Holder[]))('the workspace permission table for %s', (holder) => {
  const role = holder.replace('group-', '') as Role;
  for (const action of ACTIONS) {
    const allowed = RANK[role] >= RANK[action.needs];
    it(`${holder.startsWith('group-') ? `an ${role} through a group` : `an ${role}`} ${allowed ? 'can' : 'cannot'} ${action.name}`, async () => {
      const { method, path, body } = action.request();
      const r = await s.request(method, path, { key: users[holder].key, body });
      if (allowed) expect([action.status, 201], r.text).toContain(r.status);
      else expect(r.status, r.text).toBe(403);
    });
  }
});
