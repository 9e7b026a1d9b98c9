import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.ts';

describe('server start-up', () => {
  let s: TestServer;
  beforeAll(async () => { s = await startTestServer(); });
  afterAll(async () => { await s?.close(); });

  it('answers /healthz and /readyz', async () => {
    expect((await s.request('GET', '/healthz', { key: null })).body).toEqual({ status: 'ok' });
    const ready = await s.request('GET', '/readyz', { key: null });
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ database: true, migrations: true, masterKey: true });
  });

  it('authenticates the bootstrap admin key', async () => {
    const me = await s.request('GET', '/v1/me');
    expect(me.body).toMatchObject({ kind: 'user', name: 'admin', isAdmin: true, via: 'api_key' });
  });
});
