// The database going away: requests are answered 503 `unavailable` (never a 500), nothing is left
// half-written, and the server recovers when the database is back.
import { describe, it, expect, afterAll } from 'vitest';
import net from 'node:net';
import os from 'node:os';
import fs from 'node:fs';
import path from 'node:path';
import postgres from 'postgres';
import { sql } from 'drizzle-orm';
import { startTestServer, type TestServer } from '../support/server.ts';
import { freshDatabase, usingPostgres } from '../support/database.ts';
import { expectError, selectRows } from '../support/assertions.ts';
import { openDatabase, type Database } from '../../db/client.ts';

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => { for (const c of cleanups.reverse()) await c().catch(() => {}); });

/** A TCP proxy in front of Postgres that can be cut (connections dropped, new ones refused) and restored. */
async function startProxy(target: URL) {
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  let port = 0;
  const listen = () => new Promise<void>((resolve) => {
    server = net.createServer((client) => {
      const upstream = net.connect(Number(target.port || 5432), target.hostname);
      for (const sock of [client, upstream]) { sockets.add(sock); sock.on('close', () => sockets.delete(sock)); sock.on('error', () => {}); }
      client.pipe(upstream).pipe(client);
    });
    server.listen(port, '127.0.0.1', () => { port = (server!.address() as net.AddressInfo).port; resolve(); });
  });
  await listen();
  return {
    get port() { return port; },
    async cut() {
      await new Promise<void>((resolve) => { server!.close(() => resolve()); for (const sock of sockets) sock.destroy(); });
    },
    restore: listen,
  };
}

const expectUnavailable = (reply: Awaited<ReturnType<TestServer['request']>>) => {
  expectError(reply, 503, 'unavailable');
  expect(reply.headers.get('retry-after')).toBe('5');
};

/** Starts a server whose Postgres connections go through a proxy that can be cut. */
async function serverBehindProxy() {
  const direct = await freshDatabase();
  cleanups.push(() => direct.close());
  const proxy = await startProxy(new URL(direct.url!));
  cleanups.push(() => proxy.cut());
  const proxiedUrl = new URL(direct.url!);
  proxiedUrl.host = `127.0.0.1:${proxy.port}`;
  const proxied = await openDatabase({ url: proxiedUrl.toString(), maxConnections: 5 });
  cleanups.push(() => proxied.close());
  const s = await startTestServer({ database: proxied });
  cleanups.push(() => s.close());
  await s.request('POST', '/v1/vaults', { body: { name: 'outage' } });
  await s.request('PUT', '/v1/vaults/outage/secrets/existing', { body: { value: 'before' } });
  return { s, direct, proxy };
}

/** An OAuth access token for a fresh service account, minted while the database is up. */
async function accessToken(s: TestServer): Promise<string> {
  const sa = await s.request('POST', '/v1/service-accounts', { body: { name: `outage-${Date.now()}`, auth: 'oauth' } });
  const res = await fetch(`${s.url}/oauth2/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: sa.body.clientId, client_secret: sa.body.clientSecret.secret }).toString() });
  const token = (await res.json() as { access_token: string }).access_token;
  expect((await s.request('GET', '/v1/me', { key: token })).status).toBe(200);
  return token;
}

const countAudit = async (db: Database) => Number((await selectRows<{ n: number }>(db.db, sql`select count(*)::int as n from audit_events`))[0].n);

/** After the database comes back, the driver reconnects with a backoff: allow it a few seconds. */
async function eventually(s: TestServer, path: string) {
  for (let i = 0; ; i++) {
    const reply = await s.request('GET', path);
    if (reply.status !== 503 || i > 100) return reply;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.skipIf(!usingPostgres())('Postgres becoming unreachable', () => {
  it('requests are 503 while it is unreachable, nothing is written, and the server recovers', async () => {
    const { s, direct, proxy } = await serverBehindProxy();
    const token = await accessToken(s);
    const auditBefore = await countAudit(direct);
    await proxy.cut();

    // Token verification asks the database too: an outage there is not an invalid token.
    expectUnavailable(await s.request('GET', '/v1/me', { key: token }));
    expectUnavailable(await s.request('PUT', '/v1/vaults/outage/secrets/during', { body: { value: 'never stored' } }));
    expectUnavailable(await s.request('PUT', '/v1/vaults/outage/secrets/existing', { body: { value: 'never stored' } }));
    expectUnavailable(await s.request('GET', '/v1/vaults/outage/secrets/existing/value'));
    expectUnavailable(await s.request('POST', '/v1/vaults', { body: { name: 'during' } }));
    const ready = await s.request('GET', '/readyz', { key: null });
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ status: 'unavailable', database: false });
    expect((await s.request('GET', '/healthz', { key: null })).status).toBe(200);

    expect(await selectRows(direct.db, sql`select 1 from secrets where name = 'during' union all select 1 from vaults where name = 'during'`)).toEqual([]);
    expect(await countAudit(direct)).toBe(auditBefore);

    await proxy.restore();
    expect((await eventually(s, '/v1/vaults/outage/secrets/existing/value')).body.value).toBe('before');
    const next = await s.request('PUT', '/v1/vaults/outage/secrets/existing', { body: { value: 'after' } });
    expect(next.body.latestVersion).toBe(2);
    expect((await s.request('GET', '/v1/audit/verify')).body).toMatchObject({ intact: true });
    expect(s.logs.join('\n')).toMatch(/database unavailable/);
  });

  // postgres.js 3.4.9 crashes the process (an uncaught TypeError in connection.js nextWrite) when a
  // connection dies inside a transaction: porsager/postgres#1208, patched in patches/postgres+3.4.9.patch.
  it('a write cut off mid-transaction is 503 and leaves no row; after recovery the same write gets version 1', async () => {
    const { s, direct, proxy } = await serverBehindProxy();
    const auditBefore = await countAudit(direct);

    // Hold the audit chain head, so the PUT's transaction stops after writing the secret and version rows.
    const locker = postgres(direct.url!, { max: 1, onnotice: () => {} });
    cleanups.push(() => locker.end());
    let release!: () => void;
    const released = new Promise<void>((r) => { release = r; });
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => { locked = r; });
    const holding = locker.begin(async (tx) => { await tx`select * from audit_head for update`; locked(); await released; });
    await isLocked;

    const put = s.request('PUT', '/v1/vaults/outage/secrets/partial', { body: { value: 'never stored' } });
    for (let i = 0; i < 100; i++) {
      const [w] = await selectRows<{ n: number }>(direct.db, sql`select count(*)::int as n from pg_stat_activity
        where datname = current_database() and wait_event_type = 'Lock'`);
      if (Number(w.n) > 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    await proxy.cut();
    expectUnavailable(await put);
    release();
    await holding;

    expect(await selectRows(direct.db, sql`select 1 from secrets where name = 'partial'`)).toEqual([]);
    expect(await countAudit(direct)).toBe(auditBefore);

    await proxy.restore();
    expect((await eventually(s, '/v1/vaults/outage/secrets/existing/value')).body.value).toBe('before');
    const retry = await s.request('PUT', '/v1/vaults/outage/secrets/partial', { body: { value: 'stored now' } });
    expect(retry.status).toBe(201);
    expect(retry.body.latestVersion).toBe(1);
  });

  it('a prefetched read that cannot be decided again after the run (the database went away) withholds the output: 503', async () => {
    const { s, proxy } = await serverBehindProxy();
    expect((await s.request('POST', '/v1/workspaces', { body: { name: 'outage-ws' } })).status).toBe(201);
    expect((await s.request('POST', '/v1/vaults/outage/grants', { body: { workspace: 'outage-ws', role: 'reader' } })).status).toBe(201);
    const code = `export default async ({ ms }) => {
      const v = await tailor.secretmanager.getSecret("outage", "existing");
      const until = Date.now() + ms;
      while (Date.now() < until) {}
      return v;
    }`;
    expect((await s.request('PUT', '/v1/workspaces/outage-ws/functions/slow', { body: { code, exposeSecrets: true, timeoutMs: 10_000 } })).status).toBe(201);
    const invoke = (ms: number) => s.request('POST', '/v1/workspaces/outage-ws/functions/slow/invoke', { body: { args: { ms } } });
    expect((await invoke(0)).body.result).toBe('before'); // what it reads is prefetched from now on

    // Longer than the memo may be trusted on a shared database (1 s): the read is decided again from the database, which is gone.
    const running = invoke(1500);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await proxy.cut();
    const reply = await running;
    expectUnavailable(reply);
    expect(reply.text).not.toContain('before');
    // Recovery is the first test's subject; after a cut under load, postgres.js takes about 18 s to reconnect here.
  });
});

describe.skipIf(usingPostgres())('PGlite closed under the server', () => {
  it('requests are 503 while it is closed, and the data on disk is whole', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-outage-'));
    cleanups.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
    const database = await openDatabase({ dataDir: dir });
    const s = await startTestServer({ database });
    cleanups.push(() => s.close());
    await s.request('POST', '/v1/vaults', { body: { name: 'outage' } });
    await s.request('PUT', '/v1/vaults/outage/secrets/existing', { body: { value: 'before' } });
    const token = await accessToken(s);

    await database.close();
    // Token verification asks the database too: an outage there is not an invalid token.
    expectUnavailable(await s.request('GET', '/v1/me', { key: token }));    expectUnavailable(await s.request('PUT', '/v1/vaults/outage/secrets/partial', { body: { value: 'never stored' } }));
    expectUnavailable(await s.request('GET', '/v1/vaults/outage/secrets/existing/value'));
    expectUnavailable(await s.request('GET', '/v1/vaults'));
    const ready = await s.request('GET', '/readyz', { key: null });
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ status: 'unavailable', database: false });

    const reopened: Database = await openDatabase({ dataDir: dir });
    cleanups.push(() => reopened.close());
    expect(await selectRows(reopened.db, sql`select 1 from secrets where name = 'partial'`)).toEqual([]);
    expect(await selectRows(reopened.db, sql`select name from secrets`)).toEqual([{ name: 'existing' }]);
  });
});
