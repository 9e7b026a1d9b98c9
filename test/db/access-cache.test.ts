// The hot-path caches never outlive a change: on PGlite every committed write steps the epoch; on a
// shared Postgres, another gateway's write arrives as a notification (or, if one is lost, entries
// expire after a second).
import { describe, it, expect, afterAll } from 'vitest';
import { createAccessCache, accessChanged } from '../../db/access-cache.ts';
import { startTestServer, testMasterKey } from '../support/server.ts';
import { freshDatabase, usingPostgres } from '../support/database.ts';
import { openDatabase } from '../../db/client.ts';

describe('access cache', () => {
  it('serves a hit until the epoch moves, then loads again', async () => {
    const cache = createAccessCache<number>({ maxAgeMs: Number.POSITIVE_INFINITY });
    let loads = 0;
    const load = async () => ++loads;
    expect(await cache.get('k', load)).toBe(1);
    expect(await cache.get('k', load)).toBe(1);
    accessChanged();
    expect(await cache.get('k', load)).toBe(2);
  });

  it('does not keep a value loaded while a write committed', async () => {
    const cache = createAccessCache<string>({ maxAgeMs: Number.POSITIVE_INFINITY });
    const stale = await cache.get('k', async () => { accessChanged(); return 'read before the commit'; });
    expect(stale).toBe('read before the commit');
    expect(await cache.get('k', async () => 'fresh')).toBe('fresh');
  });

  it('expires entries after maxAgeMs', async () => {
    const cache = createAccessCache<number>({ maxAgeMs: 20 });
    let loads = 0;
    await cache.get('k', async () => ++loads);
    await new Promise((r) => setTimeout(r, 40));
    expect(await cache.get('k', async () => ++loads)).toBe(2);
  });

  it('without a policy every get loads', async () => {
    const cache = createAccessCache<number>(undefined);
    let loads = 0;
    await cache.get('k', async () => ++loads);
    expect(await cache.get('k', async () => ++loads)).toBe(2);
  });
});

describe.runIf(usingPostgres())('two gateways on one Postgres', () => {
  const opened: Array<{ close(): Promise<void> }> = [];
  afterAll(async () => { for (const c of opened.reverse()) await c.close(); });

  it('a key revoked through one gateway stops working on the other within the notification delay', async () => {
    const shared = await freshDatabase();
    opened.push(shared);
    const masterKey = testMasterKey();
    const a = await startTestServer({ database: shared, env: { COFFER_MASTER_KEY: masterKey } });
    opened.push(a);
    const second = await openDatabase({ url: shared.url! });
    opened.push(second);
    const b = await startTestServer({ database: second, adminKey: a.adminKey, env: { COFFER_MASTER_KEY: masterKey } });
    opened.push(b);

    const user = await a.createUser();
    for (let i = 0; i < 3; i++) expect((await b.request('GET', '/v1/me', { key: user.key })).status).toBe(200);
    const keys = (await a.request('GET', `/v1/users/${user.id}/api-keys`)).body.apiKeys;
    expect((await a.request('DELETE', `/v1/users/${user.id}/api-keys/${keys[0].id}`)).status).toBe(204);

    const revokedAt = performance.now();
    let status = 200;
    while (status === 200 && performance.now() - revokedAt < 1500) {
      status = (await b.request('GET', '/v1/me', { key: user.key })).status;
    }
    expect(status).toBe(401);
    expect(performance.now() - revokedAt).toBeLessThan(1000);
  });
});
