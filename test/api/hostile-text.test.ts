// Hostile text never fails other users: a NUL or a lone surrogate in a path or a log line is made
// storable before it reaches the database, a row the database still refuses never takes the rows
// committed with it, and an attacker's failed attempts cost a bounded number of audit rows.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import http from 'node:http';
import { sql } from 'drizzle-orm';
import { startFunctionWorld, deployed, type FunctionWorld } from './functions-fixture.ts';
import { selectRows } from '../support/assertions.ts';
import type { TestServer } from '../support/server.ts';
import { createInvocationRecords } from '../../api/services/invocation-records.ts';
import { createLogger } from '../../api/logger.ts';

let w: FunctionWorld;
let s: TestServer;
const BOGUS = 'coffer_x';

/** A raw request (fetch would normalise the path) from a chosen loopback address. */
function raw(path: string, opts: { localAddress?: string; key?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${s.url}${path}`, {
      method: 'GET', localAddress: opts.localAddress, agent: false,
      headers: { ...(opts.key ? { authorization: `Bearer ${opts.key}` } : {}), ...opts.headers },
    }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : null }));
    });
    req.on('error', reject);
    req.end();
  });
}

const auditRows = (where: ReturnType<typeof sql>) => selectRows<any>(s.database.db, sql`select * from audit_events where ${where} order by seq`);

beforeAll(async () => {
  // Three failed-authentication rows per source address and minute; each test attacks from its own address.
  w = await startFunctionWorld({ env: { COFFER_AUTH_FAILURE_ROWS_PER_MINUTE: '3' } });
  s = w.s;
  expect((await w.putSecret('token', 'LEGIT-VALUE')).status).toBe(201);
});
afterAll(async () => { await w?.close(); });

describe('a NUL in an unauthenticated URL', () => {
  it('fails none of the legitimate reads running at the same time, and every attempt leaves a row', async () => {
    let stop = false;
    let attempts = 0;
    const attacker = async () => {
      while (!stop) {
        const r = await raw('/v1/me%00', { key: BOGUS, localAddress: '127.0.0.4' });
        expect(r.status).toBe(401);
        attempts++;
      }
    };
    const attackers = [attacker(), attacker(), attacker(), attacker()];
    const reads: number[] = [];
    for (let round = 0; round < 15; round++) {
      const batch = await Promise.all(Array.from({ length: 4 }, () => s.request('GET', `/v1/vaults/${w.vault}/secrets/token/value`)));
      reads.push(...batch.map((r) => r.status));
    }
    stop = true;
    await Promise.all(attackers);
    expect(reads.filter((st) => st !== 200)).toEqual([]);
    expect(attempts).toBeGreaterThan(10);

    // Every attempt is on the trail: three rows, then one row counting the rest.
    await s.running.services.failureAudit.flush(true);
    const failed = await auditRows(sql`action = 'auth.failed' and detail->>'source' = '127.0.0.4'`);
    const single = failed.filter((r) => r.detail.suppressed === undefined);
    expect(single).toHaveLength(3);
    for (const row of single) {
      expect(row.detail.path).toBe('/v1/me\uFFFD');
      // No route matches, so the pattern is the authenticated prefix.
      expect(row.detail.route).toBe('/v1/*');
    }
    expect(failed.filter((r) => r.detail.suppressed !== undefined)).toEqual([
      expect.objectContaining({ detail: expect.objectContaining({ suppressed: attempts - 3 }) })]);
    const legit = await auditRows(sql`action = 'secret.read' and outcome = 'allowed' and secret = 'token'`);
    expect(legit.length).toBe(reads.length);
    expect((await s.request('GET', '/v1/audit/verify')).body.intact).toBe(true);
  });

  it('a lone surrogate and a 15,000-character path are stored bounded and well-formed', async () => {
    const long = `/v1/vaults/${'a'.repeat(15_000)}`;
    expect((await raw(long, { key: BOGUS, localAddress: '127.0.0.7' })).status).toBe(401);
    expect((await raw('/v1/vaults/%ED%A0%80x', { key: BOGUS, localAddress: '127.0.0.7' })).status).toBe(401);
    const rows = await auditRows(sql`action = 'auth.failed' and detail->>'route' = '/v1/vaults/:vault'`);
    expect(rows.length).toBe(2);
    for (const row of rows) expect(row.detail.path.length).toBeLessThanOrEqual(256);
  });

  it('audit rows carry the server\'s request id, with the client\'s kept apart', async () => {
    const r = await raw('/v1/me', { key: BOGUS, localAddress: '127.0.0.8', headers: { 'x-request-id': 'client-chosen-1' } });
    expect(r.status).toBe(401);
    expect(r.body.error.requestId).toMatch(/^req_/);
    const [row] = await auditRows(sql`client_request_id = 'client-chosen-1'`);
    expect(row).toMatchObject({ action: 'auth.failed', request_id: r.body.error.requestId, client_request_id: 'client-chosen-1' });
  });
});

describe('failed-authentication rows are limited per source address', () => {
  it('past the limit an address\'s failures are counted in one row; other addresses are unaffected', async () => {
    for (let i = 0; i < 20; i++) expect((await raw('/v1/me', { key: BOGUS, localAddress: '127.0.0.5' })).status).toBe(401);
    for (let i = 0; i < 2; i++) expect((await raw('/v1/vaults', { key: BOGUS, localAddress: '127.0.0.6' })).status).toBe(401);
    await s.running.services.failureAudit.flush(true);
    const from = (source: string) => auditRows(sql`action = 'auth.failed' and detail->>'source' = ${source}`);
    const five = await from('127.0.0.5');
    expect(five.filter((r) => r.detail.suppressed === undefined)).toHaveLength(3);
    expect(five.filter((r) => r.detail.suppressed !== undefined)).toEqual([
      expect.objectContaining({ outcome: 'denied', detail: expect.objectContaining({ suppressed: 17, reasons: { invalid_api_key: 17 } }) })]);
    expect(await from('127.0.0.6')).toHaveLength(2);
    expect((await s.request('GET', '/v1/audit/verify')).body.intact).toBe(true);
  });
});

describe('one record the database refuses never fails the others', () => {
  it('a group commit with a refused row commits the rest and audits the refusal', async () => {
    const { audit } = s.running.services;
    const entries = Array.from({ length: 12 }, (_, i) => ({ action: 'test.group', outcome: 'allowed' as const, detail: { i },
      // Out of the integer column's range: refused by the database itself, whatever the text.
      version: i === 5 ? 2 ** 40 : i }));
    const results = await Promise.allSettled(entries.map((e) => audit.append(e)));
    expect(results.map((r) => r.status)).toEqual(entries.map((_, i) => (i === 5 ? 'rejected' : 'fulfilled')));
    const stored = await auditRows(sql`action = 'test.group'`);
    expect(stored.map((r) => r.detail.i).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11]);
    const [refusal] = await auditRows(sql`action = 'audit.row_refused' and detail->>'refusedAction' = 'test.group'`);
    expect(refusal.detail).toMatchObject({ error: '22003' });
    expect((await s.request('GET', '/v1/audit/verify')).body.intact).toBe(true);
  });

  it('NULs and lone surrogates in one tenant\'s logs lose no one\'s invocation records', async () => {
    expect((await s.request('POST', '/v1/workspaces', { body: { name: 'other-tenant' } })).status).toBe(201);
    await deployed(w, 'noisy', 'export default () => { console.log("x\\u0000y"); console.log("\\ud800 alone"); console.error("\\udfff"); return 1; }');
    const clean = await s.request('PUT', '/v1/workspaces/other-tenant/functions/clean', { body: { code: 'export default () => { console.log("fine"); return 2; }' } });
    expect(clean.status).toBe(201);
    const calls = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 === 0
      ? w.invoke('noisy')
      : s.request('POST', '/v1/workspaces/other-tenant/functions/clean/invoke', { body: {} }))));
    for (const c of calls) expect(c.status, c.text).toBe(200);
    for (const [i, c] of calls.entries()) {
      const path = i % 2 === 0 ? `/v1/workspaces/${w.ws}/functions/noisy` : '/v1/workspaces/other-tenant/functions/clean';
      const rec = await s.request('GET', `${path}/invocations/${c.body.invocationId}`);
      expect(rec.status, rec.text).toBe(200);
      if (i % 2 === 0) {
        expect(rec.body.logs.map((l: { message: string }) => l.message)).toEqual(['x\uFFFDy', '\uFFFD alone', '\uFFFD']);
      }
    }
  });

  it('a batch with a record the database refuses stores the others and audits the refusal', async () => {
    const [fn] = await selectRows<{ id: string; workspace_id: string }>(s.database.db, sql`select id, workspace_id from functions where name = 'clean'`);
    const records = createInvocationRecords({ db: s.database.db, logger: createLogger('silent'), retentionMs: 3600_000, audit: s.running.services.audit });
    const ids = Array.from({ length: 6 }, (_, i) => `inv_batch_${i}`);
    for (const [i, id] of ids.entries()) {
      records.add({ id, functionId: fn.id, workspaceId: fn.workspace_id, version: 1, outcome: 'ok', logs: [{ level: 'log', message: 'm\u0000', at: new Date().toISOString() }],
        // Out of the integer column's range: refused by the database itself.
        durationMs: i === 2 ? 2 ** 40 : 1, cpuMs: 1, startedAt: new Date() });
    }
    await records.close();
    const stored = await selectRows<{ id: string }>(s.database.db, sql`select id from invocations where id like 'inv_batch_%' order by id`);
    expect(stored.map((r) => r.id)).toEqual(ids.filter((_, i) => i !== 2));
    const [refusal] = await auditRows(sql`action = 'invocation.record_refused' and invocation_id = 'inv_batch_2'`);
    expect(refusal).toMatchObject({ outcome: 'denied', workspace_id: fn.workspace_id });
    expect(refusal.detail).toMatchObject({ error: '22003', storedWithoutLogs: false });
  });
});
