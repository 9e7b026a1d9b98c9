// Races and outages map to their codes, on both drivers, through the one translation in the error
// handler: a unique-constraint conflict is 409 already_exists, a database failure is 503.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { OpenAPIHono } from '@hono/zod-openapi';
import { startTestServer, type TestServer } from '../support/server.ts';
import { expectError } from '../support/assertions.ts';
import { createErrorHandler } from '../../api/error-handler.ts';
import { createLogger } from '../../api/logger.ts';
import { insertPrincipal } from '../../db/repos/principals.ts';
import { openDatabase } from '../../db/client.ts';
import type { AppEnv } from '../../api/app-env.ts';
import type { Reply } from '../support/server.ts';

let s: TestServer;
beforeAll(async () => { s = await startTestServer(); });
afterAll(async () => { await s?.close(); });

const statuses = (replies: Reply[]) => replies.map((r) => r.status).sort();

describe('concurrent creates of one name', () => {
  it('ten users: one 201, nine 409 already_exists, never a 500', async () => {
    const replies = await Promise.all(Array.from({ length: 10 }, () => s.request('POST', '/v1/users', { body: { name: 'same-user' } })));
    expect(statuses(replies)).toEqual([201, ...Array(9).fill(409)]);
    for (const r of replies.filter((x) => x.status === 409)) expectError(r, 409, 'already_exists');
  });

  it('ten service accounts: one 201, nine 409 already_exists', async () => {
    const replies = await Promise.all(Array.from({ length: 10 }, () => s.request('POST', '/v1/service-accounts', { body: { name: 'same-sa', auth: 'api_key' } })));
    expect(statuses(replies)).toEqual([201, ...Array(9).fill(409)]);
    for (const r of replies.filter((x) => x.status === 409)) expectError(r, 409, 'already_exists');
  });

  it('ten vaults and ten workspaces: one 201 each, the rest 409', async () => {
    const vaults = await Promise.all(Array.from({ length: 10 }, () => s.request('POST', '/v1/vaults', { body: { name: 'same-vault' } })));
    expect(statuses(vaults)).toEqual([201, ...Array(9).fill(409)]);
    const workspaces = await Promise.all(Array.from({ length: 10 }, () => s.request('POST', '/v1/workspaces', { body: { name: 'same-ws' } })));
    expect(statuses(workspaces)).toEqual([201, ...Array(9).fill(409)]);
  });
});

describe('the error handler\'s translation of real driver errors', () => {
  /** A bare app with Coffer's error handler, whose one route runs `fn` against a database. */
  function appRunning(fn: () => Promise<unknown>) {
    const app = new OpenAPIHono<AppEnv>();
    app.use('*', async (c, next) => { c.set('requestId', 'req_test'); await next(); });
    app.onError(createErrorHandler(createLogger('silent')));
    app.get('/', async (c) => { await fn(); return c.json({}); });
    return app;
  }

  it('a unique violation is 409 already_exists, naming what exists', async () => {
    const row = { id: 'usr_dupe', kind: 'user' as const, name: 'dupe', isAdmin: false };
    await insertPrincipal(s.database.db, row);
    const res = await appRunning(() => insertPrincipal(s.database.db, { ...row, id: 'usr_dupe2' })).request('/');
    expect(res.status).toBe(409);
    expect(((await res.json()) as any).error).toMatchObject({ code: 'already_exists', message: expect.stringContaining('with that name already exists') });
  });

  it('a database that is gone is 503 unavailable with Retry-After', async () => {
    const url = (s.database as { url?: string }).url;
    const gone = url ? await openDatabase({ url, maxConnections: 1 }) : await openDatabase({ dataDir: 'memory://' });
    await gone.close();
    const res = await appRunning(() => insertPrincipal(gone.db, { id: 'usr_x', kind: 'user', name: 'x', isAdmin: false })).request('/');
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    expect(((await res.json()) as any).error.code).toBe('unavailable');
  });
});
