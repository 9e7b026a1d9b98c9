// Concurrent writers of one secret: version numbers are consecutive, none lost, none reused.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.ts';

let s: TestServer;
const S = '/v1/vaults/busy/secrets/counter';

beforeAll(async () => {
  s = await startTestServer();
  await s.request('POST', '/v1/vaults', { body: { name: 'busy' } });
});
afterAll(async () => { await s?.close(); });

describe('concurrent writes', () => {
  it('50 concurrent PUTs to a new secret give versions 1..50, no gap, no duplicate, no lost write', async () => {
    const values = Array.from({ length: 50 }, (_, i) => `value-${i}`);
    const replies = await Promise.all(values.map((value) => s.request('PUT', S, { body: { value } })));
    for (const r of replies) expect([200, 201], r.text).toContain(r.status);
    expect(replies.filter((r) => r.status === 201)).toHaveLength(1);

    const versionOf = new Map(values.map((value, i) => [value, replies[i].body.latestVersion as number]));
    expect([...versionOf.values()].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));

    const listed = (await s.request('GET', `${S}/versions`)).body.versions.map((v: { version: number }) => v.version);
    expect(listed).toEqual(Array.from({ length: 50 }, (_, i) => 50 - i));
    expect((await s.request('GET', S)).body.latestVersion).toBe(50);

    const reads = await Promise.all(values.map((value) => s.request('GET', `${S}/value?version=${versionOf.get(value)}`)));
    reads.forEach((r, i) => expect(r.body).toMatchObject({ version: versionOf.get(values[i]), value: values[i] }));
  });

  it('concurrent writes to different secrets and concurrent reads do not interfere', async () => {
    const writes = Array.from({ length: 20 }, (_, i) => s.request('PUT', `/v1/vaults/busy/secrets/s-${i % 4}`, { body: { value: `w-${i}` } }));
    const reads = Array.from({ length: 20 }, () => s.request('GET', `${S}/value`));
    const [w, r] = await Promise.all([Promise.all(writes), Promise.all(reads)]);
    expect(w.every((x) => x.status === 200 || x.status === 201)).toBe(true);
    expect(r.every((x) => x.status === 200 && x.body.version === 50)).toBe(true);
    for (let k = 0; k < 4; k++) {
      const versions = (await s.request('GET', `/v1/vaults/busy/secrets/s-${k}/versions`)).body.versions.map((v: { version: number }) => v.version);
      expect(versions).toEqual([5, 4, 3, 2, 1]);
    }
  });

  it('the audit chain stays intact under concurrent appends', async () => {
    const writes = await s.request('GET', '/v1/audit?action=secret.write&vault=busy&limit=500');
    expect(writes.body.events).toHaveLength(70);
    expect((await s.request('GET', '/v1/audit/verify')).body).toMatchObject({ intact: true });
  });

  it('concurrent vault creation with one name gives exactly one vault and one manager', async () => {
    const users = await Promise.all(Array.from({ length: 5 }, (_, i) => s.createUser(`racer-${i}`)));
    const replies = await Promise.all(users.map((u) => s.request('POST', '/v1/vaults', { key: u.key, body: { name: 'contested' } })));
    expect(replies.filter((r) => r.status === 201)).toHaveLength(1);
    expect(replies.filter((r) => r.status === 409).every((r) => r.body.error.code === 'already_exists')).toBe(true);
    expect(replies.filter((r) => r.status === 409)).toHaveLength(4);
    const grants = (await s.request('GET', '/v1/vaults/contested/grants')).body.grants;
    expect(grants).toHaveLength(1);
  });

  it('two managers removing each other at once leave one manager', async () => {
    const [a, b] = await Promise.all([s.createUser('duo-a'), s.createUser('duo-b')]);
    await s.request('POST', '/v1/vaults', { key: a.key, body: { name: 'duo' } });
    await s.request('POST', '/v1/vaults/duo/grants', { key: a.key, body: { principal: b.id, role: 'manager' } });
    const grants = (await s.request('GET', '/v1/vaults/duo/grants', { key: a.key })).body.grants;
    const grantOf = (id: string) => grants.find((g: { principal: { id: string } }) => g.principal.id === id).id;
    const [ra, rb] = await Promise.all([
      s.request('DELETE', `/v1/vaults/duo/grants/${grantOf(b.id)}`, { key: a.key }),
      s.request('DELETE', `/v1/vaults/duo/grants/${grantOf(a.id)}`, { key: b.key }),
    ]);
    expect([ra.status, rb.status].filter((x) => x === 204).length).toBeLessThanOrEqual(1);
    const left = (await s.request('GET', '/v1/vaults/duo/grants')).body.grants.filter((g: { role: string }) => g.role === 'manager');
    expect(left).toHaveLength(1);
  });
});

describe('audit group commit', () => {
  it('many concurrent reads leave one audit row each, in one unbroken chain', async () => {
    const before = (await s.request('GET', '/v1/audit?action=secret.read&secret=counter&limit=500')).body.events.length;
    const reads = await Promise.all(Array.from({ length: 60 }, () => s.request('GET', `${S}/value`)));
    expect(reads.every((r) => r.status === 200)).toBe(true);
    const after = (await s.request('GET', '/v1/audit?action=secret.read&secret=counter&limit=500')).body.events;
    expect(after.length - before).toBe(60);
    expect(new Set(after.map((e: { requestId: string }) => e.requestId)).size).toBe(after.length);
    expect((await s.request('GET', '/v1/audit/verify')).body).toMatchObject({ intact: true });
  });
});
