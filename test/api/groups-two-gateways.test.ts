// Group membership gives and takes access on the next request on another gateway sharing the
// PostgreSQL database. Vault and workspace decisions read the membership from the database on every
// request, so the second gateway sees a change at once; the memoised invocation target follows
// the access epoch, which the second gateway steps on the first gateway's NOTIFY. PostgreSQL only.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startTestServer, testMasterKey, type TestServer } from '../support/server.ts';
import { usingPostgres } from '../support/database.ts';
import { startSecondGateway } from '../support/gateway.ts';

describe.skipIf(!usingPostgres())('group membership on two gateways (PostgreSQL)', () => {
  let s: TestServer;
  let second: Awaited<ReturnType<typeof startSecondGateway>>;
  let user: { id: string; key: string };
  let group: string;
  const masterKey = testMasterKey();
  const onSecond = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`${second.url}${path}`, {
      method, headers: { authorization: `Bearer ${user.key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: r.status, body: await r.json().catch(() => null) };
  };
  const join = async () => expect((await s.request('POST', `/v1/groups/${group}/members`, { body: { principal: user.id } })).status).toBe(200);
  const leave = async () => expect((await s.request('DELETE', `/v1/groups/${group}/members/${user.id}`)).status).toBe(204);

  beforeAll(async () => {
    s = await startTestServer({ env: { COFFER_MASTER_KEY: masterKey, COFFER_WORKERS: '1' } });
    second = await startSecondGateway({ DATABASE_URL: (s.database as { url?: string }).url!, COFFER_MASTER_KEY: masterKey });
    user = await s.createUser('two-gw');
    group = (await s.request('POST', '/v1/groups', { body: { name: 'two-gw' } })).body.id;
    expect((await s.request('POST', '/v1/vaults', { body: { name: 'two-gw' } })).status).toBe(201);
    expect((await s.request('PUT', '/v1/vaults/two-gw/secrets/token', { body: { value: 'two-gateways-value' } })).status).toBe(201);
    expect((await s.request('POST', '/v1/vaults/two-gw/grants', { body: { group, role: 'reader' } })).status).toBe(201);
    expect((await s.request('POST', '/v1/workspaces', { body: { name: 'two-gw' } })).status).toBe(201);
    expect((await s.request('POST', '/v1/workspaces/two-gw/members', { body: { group, role: 'invoker' } })).status).toBe(200);
    expect((await s.request('PUT', '/v1/workspaces/two-gw/functions/hello', { body: { code: 'export default async () => "hi"' } })).status).toBe(201);
  });
  afterAll(async () => {
    await second?.stop();
    await s?.close();
  });

  it('joining a group on one gateway gives its vault role on the next request to the other; leaving takes it away', async () => {
    expect((await onSecond('GET', '/v1/vaults/two-gw/secrets/token/value')).status).toBe(404);
    await join();
    expect(await onSecond('GET', '/v1/vaults/two-gw/secrets/token/value')).toMatchObject({ status: 200, body: { value: 'two-gateways-value' } });
    await leave();
    expect((await onSecond('GET', '/v1/vaults/two-gw/secrets/token/value')).status).toBe(404);
  });

  it('a workspace role through a group follows membership, and deleting the group takes every role it gave', async () => {
    await join();
    expect((await onSecond('GET', '/v1/workspaces/two-gw')).body).toMatchObject({ role: 'invoker' });
    expect(await onSecond('POST', '/v1/workspaces/two-gw/functions/hello/invoke', { args: {} })).toMatchObject({ status: 200, body: { result: 'hi' } });
    await leave();
    expect((await onSecond('GET', '/v1/workspaces/two-gw')).status).toBe(404);
    // The invocation target is memoised on the second gateway until the NOTIFY moves its epoch:
    // asynchronous but quick, well within the 1 s after which the memo would expire anyway.
    const deadline = Date.now() + 500;
    let invoke = await onSecond('POST', '/v1/workspaces/two-gw/functions/hello/invoke', { args: {} });
    while (invoke.status === 200 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 25));
      invoke = await onSecond('POST', '/v1/workspaces/two-gw/functions/hello/invoke', { args: {} });
    }
    expect(invoke.status).toBe(404);

    await join();
    expect((await onSecond('GET', '/v1/vaults/two-gw/secrets/token/value')).status).toBe(200);
    expect((await s.request('DELETE', `/v1/groups/${group}`)).status).toBe(204);
    expect((await onSecond('GET', '/v1/vaults/two-gw/secrets/token/value')).status).toBe(404);
    expect((await onSecond('GET', '/v1/workspaces/two-gw')).status).toBe(404);
  });
});
