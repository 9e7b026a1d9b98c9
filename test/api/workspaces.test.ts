// Workspaces: admins create them, owners manage members, non-members cannot see them.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.ts';
import { expectError } from '../support/assertions.ts';

let s: TestServer;
let owner: { id: string; key: string };
let editor: { id: string; key: string };
let outsider: { id: string; key: string };
const W = '/v1/workspaces/team';

beforeAll(async () => {
  s = await startTestServer();
  owner = await s.createUser('ws-owner');
  editor = await s.createUser('ws-editor');
  outsider = await s.createUser('ws-outsider');
});
afterAll(async () => { await s?.close(); });

describe('workspaces', () => {
  it('an admin creates a workspace with a named owner', async () => {
    const created = await s.request('POST', '/v1/workspaces', { body: { name: 'team', owner: owner.id, description: 'the team' } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'team', description: 'the team' });
    const members = (await s.request('GET', `${W}/members`, { key: owner.key })).body.members;
    expect(members).toEqual([expect.objectContaining({ principalId: owner.id, role: 'owner' })]);
  });

  it('a non-admin cannot create a workspace', async () => {
    expectError(await s.request('POST', '/v1/workspaces', { key: owner.key, body: { name: 'mine' } }), 403, 'forbidden');
  });

  it('a workspace name can be used only once; an unknown owner is 404', async () => {
    expectError(await s.request('POST', '/v1/workspaces', { body: { name: 'team' } }), 409, 'already_exists');
    expectError(await s.request('POST', '/v1/workspaces', { body: { name: 'orphan', owner: 'usr_nobody' } }), 404, 'not_found');
  });

  it('the owner adds members and changes their roles', async () => {
    const set = await s.request('POST', `${W}/members`, { key: owner.key, body: { principal: editor.id, role: 'viewer' } });
    expect(set.status).toBe(200);
    expect((await s.request('POST', `${W}/members`, { key: owner.key, body: { principal: editor.id, role: 'editor' } })).status).toBe(200);
    const members = (await s.request('GET', `${W}/members`, { key: editor.key })).body.members;
    expect(members).toContainEqual(expect.objectContaining({ principalId: editor.id, role: 'editor' }));
  });

  it('a member below owner sees the workspace but cannot manage members or delete it', async () => {
    expect((await s.request('GET', W, { key: editor.key })).body).toMatchObject({ name: 'team', role: 'editor' });
    expectError(await s.request('POST', `${W}/members`, { key: editor.key, body: { principal: outsider.id, role: 'viewer' } }), 403, 'forbidden');
    expectError(await s.request('DELETE', `${W}/members/${owner.id}`, { key: editor.key }), 403, 'forbidden');
    expectError(await s.request('DELETE', W, { key: editor.key }), 403, 'forbidden');
  });

  it('a non-member gets 404, as for a workspace that does not exist', async () => {
    const hidden = await s.request('GET', W, { key: outsider.key });
    const missing = await s.request('GET', '/v1/workspaces/no-such-ws', { key: outsider.key });
    expectError(hidden, 404, 'not_found');
    expectError(missing, 404, 'not_found');
    expect(hidden.body.error.message).toBe(missing.body.error.message);
    expectError(await s.request('GET', `${W}/members`, { key: outsider.key }), 404, 'not_found');
    expect((await s.request('GET', '/v1/workspaces', { key: outsider.key })).body.workspaces).toEqual([]);
  });

  it('the workspace list shows the caller\'s own workspaces with their role', async () => {
    expect((await s.request('GET', '/v1/workspaces', { key: editor.key })).body.workspaces).toEqual([expect.objectContaining({ name: 'team', role: 'editor' })]);
  });

  it('the last owner cannot be removed or downgraded', async () => {
    expectError(await s.request('DELETE', `${W}/members/${owner.id}`, { key: owner.key }), 409, 'last_owner');
    expectError(await s.request('POST', `${W}/members`, { key: owner.key, body: { principal: owner.id, role: 'editor' } }), 409, 'last_owner');
    expectError(await s.request('DELETE', `${W}/members/${owner.id}`), 409, 'last_owner');
  });

  it('with a second owner, the first can leave', async () => {
    expect((await s.request('POST', `${W}/members`, { key: owner.key, body: { principal: editor.id, role: 'owner' } })).status).toBe(200);
    expect((await s.request('DELETE', `${W}/members/${owner.id}`, { key: owner.key })).status).toBe(204);
    expectError(await s.request('GET', W, { key: owner.key }), 404, 'not_found');
  });

  it('adding an unknown principal or removing a non-member is 404', async () => {
    expectError(await s.request('POST', `${W}/members`, { key: editor.key, body: { principal: 'usr_nobody', role: 'viewer' } }), 404, 'not_found');
    expectError(await s.request('DELETE', `${W}/members/${outsider.id}`, { key: editor.key }), 404, 'not_found');
  });

  it('an owner deletes the workspace, and its vault grants go with it', async () => {
    await s.request('POST', '/v1/vaults', { body: { name: 'team-secrets' } });
    expect((await s.request('POST', '/v1/vaults/team-secrets/grants', { body: { workspace: 'team', role: 'reader' } })).status).toBe(201);
    expect((await s.request('DELETE', W, { key: editor.key })).status).toBe(204);
    expectError(await s.request('GET', W), 404, 'not_found');
    const grants = (await s.request('GET', '/v1/vaults/team-secrets/grants')).body.grants;
    expect(grants.filter((g: { workspace: string | null }) => g.workspace !== null)).toEqual([]);
  });
});
