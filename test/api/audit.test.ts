// The audit trail: one row per decision about a secret, filters and paging, and a hash chain that
// shows any edit or deletion. The tampering tests run last: they break this server's chain.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import crypto from 'node:crypto';
import { sql } from 'drizzle-orm';
import { startTestServer, type TestServer } from '../support/server.ts';
import { expectError, selectRows } from '../support/assertions.ts';

let s: TestServer;
let manager: { id: string; key: string };
let reader: { id: string; key: string };
let stranger: { id: string; key: string };

interface Event {
  seq: number; action: string; outcome: string; actorId: string | null; actorKind: string | null; requestId: string | null; clientRequestId: string | null; vaultId: string | null;
  vault: string | null; secret: string | null; version: number | null; workspace: string | null; detail: Record<string, unknown> | null; at: string;
}

/**
 * Makes a request with its own X-Request-Id and returns the audit rows it left: they carry the
 * client's id apart, and the server's own id (the response's X-Request-Id) as requestId.
 */
async function audited(method: string, path: string, opts: { key?: string | null; body?: unknown } = {}) {
  const clientRequestId = `t-${crypto.randomBytes(6).toString('hex')}`;
  const reply = await s.request(method, path, { ...opts, headers: { 'x-request-id': clientRequestId } });
  const requestId = reply.headers.get('x-request-id')!;
  expect(requestId).toMatch(/^req_/);
  const all = (await s.request('GET', '/v1/audit?limit=500')).body.events as Event[];
  const events = all.filter((e) => e.clientRequestId === clientRequestId);
  for (const e of events) expect(e.requestId).toBe(requestId);
  return { reply, events, requestId };
}

beforeAll(async () => {
  s = await startTestServer();
  manager = await s.createUser('audit-manager');
  reader = await s.createUser('audit-reader');
  stranger = await s.createUser('audit-stranger');
});
afterAll(async () => { await s?.close(); });

describe('what leaves a row', () => {
  it('creating a vault', async () => {
    const { reply, events, requestId } = await audited('POST', '/v1/vaults', { key: manager.key, body: { name: 'ledger' } });
    expect(reply.status).toBe(201);
    expect(events).toEqual([expect.objectContaining({ action: 'vault.create', outcome: 'allowed', actorId: manager.id, actorKind: 'user', vault: 'ledger', requestId })]);
  });

  it('granting and removing a role', async () => {
    const added = await audited('POST', '/v1/vaults/ledger/grants', { key: manager.key, body: { principal: reader.id, role: 'reader' } });
    expect(added.events).toEqual([expect.objectContaining({ action: 'grant.create', outcome: 'allowed', actorId: manager.id, vault: 'ledger',
      detail: expect.objectContaining({ role: 'reader', principalId: reader.id, grantId: added.reply.body.id }) })]);
    const temp = await s.request('POST', '/v1/vaults/ledger/grants', { key: manager.key, body: { principal: stranger.id, role: 'writer' } });
    const removed = await audited('DELETE', `/v1/vaults/ledger/grants/${temp.body.id}`, { key: manager.key });
    expect(removed.events).toEqual([expect.objectContaining({ action: 'grant.delete', outcome: 'allowed', vault: 'ledger',
      detail: expect.objectContaining({ grantId: temp.body.id, role: 'writer', principalId: stranger.id }) })]);
  });

  it('writing a value, with the version it made', async () => {
    const { events } = await audited('PUT', '/v1/vaults/ledger/secrets/pin', { key: manager.key, body: { value: 'AUDIT-VALUE-1' } });
    expect(events).toEqual([expect.objectContaining({ action: 'secret.write', outcome: 'allowed', actorId: manager.id, vault: 'ledger', secret: 'pin', version: 1 })]);
    await s.request('PUT', '/v1/vaults/ledger/secrets/pin', { key: manager.key, body: { value: 'AUDIT-VALUE-2' } });
  });

  it('reading a value, with the version read', async () => {
    const { events } = await audited('GET', '/v1/vaults/ledger/secrets/pin/value', { key: reader.key });
    expect(events).toEqual([expect.objectContaining({ action: 'secret.read', outcome: 'allowed', actorId: reader.id, vault: 'ledger', secret: 'pin', version: 2 })]);
  });

  it('changing, then destroying a version', async () => {
    const disabled = await audited('PATCH', '/v1/vaults/ledger/secrets/pin/versions/1', { key: manager.key, body: { state: 'disabled' } });
    expect(disabled.events).toEqual([expect.objectContaining({ action: 'secret.version.disable', outcome: 'allowed', secret: 'pin', version: 1 })]);
    const enabled = await audited('PATCH', '/v1/vaults/ledger/secrets/pin/versions/1', { key: manager.key, body: { state: 'enabled' } });
    expect(enabled.events).toEqual([expect.objectContaining({ action: 'secret.version.enable', outcome: 'allowed', secret: 'pin', version: 1 })]);
    const destroyed = await audited('DELETE', '/v1/vaults/ledger/secrets/pin/versions/1', { key: manager.key });
    expect(destroyed.events).toEqual([expect.objectContaining({ action: 'secret.version.destroy', outcome: 'allowed', secret: 'pin', version: 1 })]);
  });

  it('a denied read leaves a denied secret.read row, for a caller with too little role and for one with none', async () => {
    await s.request('POST', '/v1/vaults/ledger/grants', { key: manager.key, body: { principal: stranger.id, role: 'reader' } });
    await s.request('POST', '/v1/vaults', { key: manager.key, body: { name: 'private' } });
    await s.request('PUT', '/v1/vaults/private/secrets/pin', { key: manager.key, body: { value: 'x' } });
    const none = await audited('GET', '/v1/vaults/private/secrets/pin/value', { key: reader.key });
    expect(none.reply.status).toBe(404);
    expect(none.events).toEqual([expect.objectContaining({ action: 'secret.read', outcome: 'denied', actorId: reader.id, vault: 'private', secret: 'pin',
      detail: expect.objectContaining({ reason: 'no_access' }) })]);
    const missing = await audited('GET', '/v1/vaults/no-such-vault/secrets/pin/value', { key: reader.key });
    expect(missing.events).toEqual([expect.objectContaining({ action: 'secret.read', outcome: 'denied', vault: 'no-such-vault' })]);
  });

  it('a denied write leaves a denied secret.write row', async () => {
    const { reply, events } = await audited('PUT', '/v1/vaults/ledger/secrets/pin', { key: reader.key, body: { value: 'nope' } });
    expect(reply.status).toBe(403);
    expect(events).toEqual([expect.objectContaining({ action: 'secret.write', outcome: 'denied', actorId: reader.id, vault: 'ledger', secret: 'pin',
      detail: expect.objectContaining({ reason: 'insufficient_role' }) })]);
  });

  it('a denied grant change leaves a denied row', async () => {
    const { events } = await audited('POST', '/v1/vaults/ledger/grants', { key: reader.key, body: { principal: reader.id, role: 'manager' } });
    expect(events).toEqual([expect.objectContaining({ outcome: 'denied', actorId: reader.id, vault: 'ledger' })]);
  });

  it('a failed authentication, without the credential', async () => {
    const bogus = `coffer_${crypto.randomBytes(32).toString('base64url')}`;
    const { reply, events } = await audited('GET', '/v1/vaults', { key: bogus });
    expect(reply.status).toBe(401);
    expect(events).toEqual([expect.objectContaining({ action: 'auth.failed', outcome: 'denied', actorId: null,
      detail: expect.objectContaining({ reason: 'invalid_api_key', path: '/v1/vaults' }) })]);
    expect(JSON.stringify(events)).not.toContain(bogus);
    const garbage = await audited('GET', '/v1/vaults', { key: 'not-a-key' });
    expect(garbage.events).toEqual([expect.objectContaining({ action: 'auth.failed', outcome: 'denied' })]);
  });

  it('deleting a vault', async () => {
    await s.request('POST', '/v1/vaults', { key: manager.key, body: { name: 'short' } });
    const { events } = await audited('DELETE', '/v1/vaults/short', { key: manager.key });
    expect(events).toEqual([expect.objectContaining({ action: 'vault.delete', outcome: 'allowed', actorId: manager.id, vault: 'short' })]);
  });

  it('a denied vault deletion leaves a denied row and the vault stays', async () => {
    const { reply, events } = await audited('DELETE', '/v1/vaults/ledger', { key: reader.key });
    expect(reply.status).toBe(403);
    expect(events).toEqual([expect.objectContaining({ outcome: 'denied', vault: 'ledger' })]);
    expect((await s.request('GET', '/v1/vaults/ledger')).status).toBe(200);
  });

  it('rows never carry a value', async () => {
    const all = await selectRows(s.database.db, sql`select * from audit_events`);
    expect(JSON.stringify(all)).not.toMatch(/AUDIT-VALUE/);
  });
});

describe('reading the trail', () => {
  it('newest first, each row with the fields an auditor needs', async () => {
    const events = (await s.request('GET', '/v1/audit?limit=500')).body.events as Event[];
    expect(events.length).toBeGreaterThan(10);
    expect(events.map((e) => e.seq)).toEqual([...events.map((e) => e.seq)].sort((a, b) => b - a));
    for (const e of events) expect(Object.keys(e)).toEqual(expect.arrayContaining(['seq', 'at', 'requestId', 'actorId', 'action', 'outcome', 'vault', 'secret', 'hash']));
  });

  it('filters by vault, secret, actor, action, outcome and since', async () => {
    const q = async (query: string) => (await s.request('GET', `/v1/audit?limit=500&${query}`)).body.events as Event[];
    expect((await q('vault=ledger')).every((e) => e.vault === 'ledger')).toBe(true);
    expect((await q('vault=ledger&secret=pin')).every((e) => e.secret === 'pin' && e.vault === 'ledger')).toBe(true);
    const byActor = await q(`actor=${reader.id}`);
    expect(byActor.length).toBeGreaterThan(0);
    expect(byActor.every((e) => e.actorId === reader.id)).toBe(true);
    const reads = await q('action=secret.read');
    expect(reads.length).toBeGreaterThanOrEqual(3);
    expect(reads.every((e) => e.action === 'secret.read')).toBe(true);
    const denied = await q('outcome=denied');
    expect(denied.length).toBeGreaterThan(0);
    expect(denied.every((e) => e.outcome === 'denied')).toBe(true);
    const future = new Date(Date.now() + 3600_000).toISOString();
    expect(await q(`since=${encodeURIComponent(future)}`)).toEqual([]);
    const past = new Date(Date.now() - 3600_000).toISOString();
    expect((await q(`since=${encodeURIComponent(past)}`)).length).toBeGreaterThan(10);
  });

  it('pages with a cursor, without gaps or repeats', async () => {
    const all = (await s.request('GET', '/v1/audit?limit=500')).body.events as Event[];
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { events: Event[]; nextCursor: string | null } } = await s.request('GET', `/v1/audit?limit=7${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.body.events.length).toBeLessThanOrEqual(7);
      seen.push(...page.body.events.map((e) => e.seq));
      cursor = page.body.nextCursor;
    } while (cursor);
    // Rows appended while paging (the audit reads themselves are not audited) would only be newer.
    expect(seen).toEqual(all.map((e) => e.seq));
  });

  it('a vault manager can read their vault\'s rows, but not the whole trail', async () => {
    const mine = await s.request('GET', '/v1/audit?vault=ledger', { key: manager.key });
    expect(mine.status).toBe(200);
    expect(mine.body.events.every((e: Event) => e.vault === 'ledger')).toBe(true);
    expectError(await s.request('GET', '/v1/audit', { key: manager.key }), 403, 'forbidden');
    expectError(await s.request('GET', '/v1/audit?vault=ledger', { key: reader.key }), 403, 'forbidden');
    expectError(await s.request('GET', '/v1/audit?vault=private', { key: reader.key }), 404, 'not_found');
  });

  it('only admins can verify the chain', async () => {
    expectError(await s.request('GET', '/v1/audit/verify', { key: manager.key }), 403, 'forbidden');
  });

  it('rejects bad filters with 400', async () => {
    for (const q of ['limit=0', 'limit=501', 'limit=-1', 'limit=abc', 'cursor=-5', 'cursor=1e99', 'since=yesterday', 'outcome=maybe', 'action=DROP%20TABLE', 'vault=UPPER', 'bogus=1']) {
      expectError(await s.request('GET', `/v1/audit?${q}`), 400, 'validation_failed');
    }
  });
});

describe('tamper evidence (runs last: breaks the chain)', () => {
  it('an untouched chain verifies as intact, every row checked', async () => {
    const verify = await s.request('GET', '/v1/audit/verify');
    expect(verify.status).toBe(200);
    const [{ n }] = await selectRows<{ n: number }>(s.database.db, sql`select count(*)::int as n from audit_events`);
    expect(verify.body).toEqual({ intact: true, checked: Number(n) });
  });

  it.each([
    ['outcome', sql`outcome = 'allowed'`],
    ['actor', sql`actor_id = 'usr_someone_else'`],
    ['detail', sql`detail = '{"role":"manager"}'::jsonb`],
    ['time', sql`at = at - interval '1 second'`],
  ])('editing a row\'s %s breaks the chain at that row', async (_column, assignment) => {
    const [target] = await selectRows<{ seq: number; original: unknown }>(s.database.db, sql`
      select seq, row_to_json(audit_events.*) as original from audit_events where outcome = 'denied' order by seq limit 1`);
    await s.database.db.execute(sql`update audit_events set ${assignment} where seq = ${target.seq}`);
    const verify = await s.request('GET', '/v1/audit/verify');
    expect(verify.body).toMatchObject({ intact: false, firstBrokenSeq: Number(target.seq) });
    // Put it back exactly; the chain is whole again.
    await s.database.db.execute(sql`update audit_events a set outcome = o.outcome, actor_id = o.actor_id, detail = o.detail, at = o.at
      from json_populate_record(null::audit_events, ${JSON.stringify(target.original)}::json) o where a.seq = ${target.seq}`);
    expect((await s.request('GET', '/v1/audit/verify')).body).toMatchObject({ intact: true });
  });

  it('deleting a row in the middle breaks the chain at the next row', async () => {
    const [row] = await selectRows<{ seq: number }>(s.database.db, sql`select seq from audit_events order by seq limit 1 offset 5`);
    const [saved] = await selectRows<{ original: unknown }>(s.database.db, sql`select row_to_json(audit_events.*) as original from audit_events where seq = ${row.seq}`);
    await s.database.db.execute(sql`delete from audit_events where seq = ${row.seq}`);
    expect((await s.request('GET', '/v1/audit/verify')).body).toMatchObject({ intact: false, firstBrokenSeq: Number(row.seq) + 1 });
    await s.database.db.execute(sql`insert into audit_events select * from json_populate_record(null::audit_events, ${JSON.stringify(saved.original)}::json)`);
    expect((await s.request('GET', '/v1/audit/verify')).body).toMatchObject({ intact: true });
  });

  it('deleting the last row breaks the chain', async () => {
    const [last] = await selectRows<{ seq: number }>(s.database.db, sql`select max(seq)::int as seq from audit_events`);
    await s.database.db.execute(sql`delete from audit_events where seq = ${last.seq}`);
    const verify = await s.request('GET', '/v1/audit/verify');
    expect(verify.body).toMatchObject({ intact: false, firstBrokenSeq: Number(last.seq) });
  });
});
