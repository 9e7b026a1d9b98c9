// Users, API keys and authentication: who may manage whom, and how bad credentials are refused.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import crypto from 'node:crypto';
import { startTestServer, type TestServer } from '../support/server.ts';
import { expectError } from '../support/assertions.ts';

let s: TestServer;
let alice: { id: string; key: string; name: string };
let bob: { id: string; key: string; name: string };

beforeAll(async () => {
  s = await startTestServer();
  alice = await s.createUser('alice');
  bob = await s.createUser('bob');
});
afterAll(async () => { await s?.close(); });

describe('authentication', () => {
  it('/v1/me says who the caller is', async () => {
    expect((await s.request('GET', '/v1/me', { key: alice.key })).body).toEqual({ id: alice.id, kind: 'user', name: 'alice', isAdmin: false, via: 'api_key' });
  });

  it('missing credentials are 401 with a WWW-Authenticate challenge', async () => {
    const reply = await s.request('GET', '/v1/me', { key: null });
    expectError(reply, 401, 'unauthenticated');
    expect(reply.headers.get('www-authenticate')).toMatch(/^Bearer realm="coffer"/);
  });

  it.each([
    ['garbage after Bearer', 'Bearer garbage'],
    ['a well-formed but unknown key', `Bearer coffer_${crypto.randomBytes(32).toString('base64url')}`],
    ['another scheme', 'Basic YWxpY2U6cGFzc3dvcmQ='],
    ['no token', 'Bearer '],
    ['a key with characters outside the token alphabet', 'Bearer coffer_ab"cd'],
    ['two tokens', 'Bearer a b'],
    ['a truncated real key', 'TRUNCATED'],
  ])('%s is 401 with WWW-Authenticate error="invalid_token"', async (_what, header) => {
    const value = header === 'TRUNCATED' ? `Bearer ${alice.key.slice(0, -2)}` : header;
    const reply = await s.request('GET', '/v1/me', { key: null, headers: { authorization: value } });
    expectError(reply, 401, 'unauthenticated');
    expect(reply.headers.get('www-authenticate')).toMatch(/^Bearer realm="coffer", error="invalid_token"/);
  });

  it('the Bearer scheme is case-insensitive', async () => {
    expect((await s.request('GET', '/v1/me', { key: null, headers: { authorization: `bearer ${alice.key}` } })).status).toBe(200);
  });

  it('public routes need no credentials', async () => {
    for (const path of ['/healthz', '/readyz', '/openapi.json', '/docs']) expect((await s.request('GET', path, { key: null })).status).toBe(200);
  });
});

describe('users', () => {
  it('an admin creates users; the new user is not an admin unless asked', async () => {
    const created = await s.request('POST', '/v1/users', { body: { name: 'carol', description: 'ops' } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'carol', isAdmin: false, active: true, description: 'ops' });
    const admin = await s.request('POST', '/v1/users', { body: { name: 'dave', isAdmin: true } });
    expect(admin.body.isAdmin).toBe(true);
  });

  it('a user name can be used only once', async () => {
    expectError(await s.request('POST', '/v1/users', { body: { name: 'carol' } }), 409, 'already_exists');
  });

  it('a non-admin cannot create or list users, nor make themselves admin', async () => {
    expectError(await s.request('POST', '/v1/users', { key: alice.key, body: { name: 'eve' } }), 403, 'forbidden');
    expectError(await s.request('POST', '/v1/users', { key: alice.key, body: { name: 'eve', isAdmin: true } }), 403, 'forbidden');
    expectError(await s.request('GET', '/v1/users', { key: alice.key }), 403, 'forbidden');
  });

  it('an admin lists every user', async () => {
    const names = (await s.request('GET', '/v1/users')).body.users.map((u: { name: string }) => u.name);
    expect(names).toEqual(expect.arrayContaining(['admin', 'alice', 'bob', 'carol']));
  });

  it('a user sees themselves but not others', async () => {
    expect((await s.request('GET', `/v1/users/${alice.id}`, { key: alice.key })).body).toMatchObject({ id: alice.id, name: 'alice' });
    expectError(await s.request('GET', `/v1/users/${bob.id}`, { key: alice.key }), 403, 'forbidden');
    expectError(await s.request('GET', '/v1/users/usr_missing'), 404, 'not_found');
  });
});

describe('API keys', () => {
  it('a user issues their own keys and lists them, metadata only', async () => {
    const issued = await s.request('POST', `/v1/users/${alice.id}/api-keys`, { key: alice.key, body: { name: 'laptop' } });
    expect(issued.status).toBe(201);
    expect(issued.body.key).toMatch(/^coffer_[A-Za-z0-9_-]{43}$/);
    expect((await s.request('GET', '/v1/me', { key: issued.body.key })).body.id).toBe(alice.id);
    const listed = await s.request('GET', `/v1/users/${alice.id}/api-keys`, { key: alice.key });
    expect(listed.body.apiKeys.map((k: { name: string | null }) => k.name)).toContain('laptop');
  });

  it('a user cannot issue, list or revoke another user\'s keys', async () => {
    expectError(await s.request('POST', `/v1/users/${bob.id}/api-keys`, { key: alice.key, body: {} }), 403, 'forbidden');
    expectError(await s.request('GET', `/v1/users/${bob.id}/api-keys`, { key: alice.key }), 403, 'forbidden');
    const bobsKeys = (await s.request('GET', `/v1/users/${bob.id}/api-keys`)).body.apiKeys;
    expectError(await s.request('DELETE', `/v1/users/${bob.id}/api-keys/${bobsKeys[0].id}`, { key: alice.key }), 403, 'forbidden');
    expect((await s.request('GET', '/v1/me', { key: bob.key })).status).toBe(200);
  });

  it('a revoked key fails on the very next request with 401 and WWW-Authenticate', async () => {
    const issued = await s.request('POST', `/v1/users/${bob.id}/api-keys`, { key: bob.key, body: { name: 'short-lived' } });
    const key = issued.body.key as string;
    expect((await s.request('GET', '/v1/me', { key })).status).toBe(200);
    expect((await s.request('DELETE', `/v1/users/${bob.id}/api-keys/${issued.body.id}`, { key: bob.key })).status).toBe(204);
    const after = await s.request('GET', '/v1/me', { key });
    expectError(after, 401, 'unauthenticated');
    expect(after.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
    expect(after.body.error.message).toMatch(/revoked/);
    const listed = (await s.request('GET', `/v1/users/${bob.id}/api-keys`, { key: bob.key })).body.apiKeys;
    expect(listed.find((k: { id: string }) => k.id === issued.body.id).revokedAt).toEqual(expect.any(String));
    // The user's other key still works.
    expect((await s.request('GET', '/v1/me', { key: bob.key })).status).toBe(200);
  });

  it('revoking twice is harmless; revoking an unknown key is 404', async () => {
    const issued = await s.request('POST', `/v1/users/${bob.id}/api-keys`, { key: bob.key, body: {} });
    expect((await s.request('DELETE', `/v1/users/${bob.id}/api-keys/${issued.body.id}`)).status).toBe(204);
    expect((await s.request('DELETE', `/v1/users/${bob.id}/api-keys/${issued.body.id}`)).status).toBe(204);
    expectError(await s.request('DELETE', `/v1/users/${bob.id}/api-keys/key_nope`), 404, 'not_found');
    // A key id under the wrong user is not found, even for an admin.
    expectError(await s.request('DELETE', `/v1/users/${alice.id}/api-keys/${issued.body.id}`), 404, 'not_found');
  });

  it('a user revoking the key they are using is locked out at once', async () => {
    const issued = await s.request('POST', `/v1/users/${alice.id}/api-keys`, { key: alice.key, body: {} });
    expect((await s.request('DELETE', `/v1/users/${alice.id}/api-keys/${issued.body.id}`, { key: issued.body.key })).status).toBe(204);
    expectError(await s.request('GET', '/v1/me', { key: issued.body.key }), 401, 'unauthenticated');
  });

  it('an admin can revoke any user\'s key', async () => {
    const issued = await s.request('POST', `/v1/users/${bob.id}/api-keys`, { key: bob.key, body: {} });
    expect((await s.request('DELETE', `/v1/users/${bob.id}/api-keys/${issued.body.id}`)).status).toBe(204);
    expectError(await s.request('GET', '/v1/me', { key: issued.body.key }), 401, 'unauthenticated');
  });
});
