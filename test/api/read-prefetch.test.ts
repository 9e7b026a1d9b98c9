// Reads a function made last time are decided by the gateway before its next run and answered in
// the worker (api/services/read-prefetch.ts). To the function, to the audit trail and to the caller,
// nothing may differ from a read that went to the gateway, except that a grant revoked while the
// function runs now withholds its output.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { sql } from 'drizzle-orm';
import { startFunctionWorld, deployed, expectInvokeError, type FunctionWorld } from './functions-fixture.ts';
import { selectRows } from '../support/assertions.ts';

const FIRST = 'pk_first_4f3e2d1c0b';
const SECOND = 'pk_second_a9b8c7d6e5';

interface AuditRow { action: string; outcome: string; vault: string; secret: string; version: number | null; function: string; invocation_id: string; detail: any }
const auditFor = (w: FunctionWorld, invocationId: string) => selectRows<AuditRow>(w.s.database.db,
  sql`select action, outcome, vault, secret, version, function, invocation_id, detail from audit_events where invocation_id = ${invocationId} order by seq`);
const withoutInvocation = (rows: AuditRow[]) => rows.map(({ invocation_id: _, ...rest }) => rest);
/** The names of one getSecrets call are looked up at once, so their rows may come in either order. */
const bySecret = (rows: ReturnType<typeof withoutInvocation>) => [...rows].sort((a, b) => a.secret.localeCompare(b.secret));

describe('prefetched secret reads', () => {
  let w: FunctionWorld;
  let grantId: string;
  beforeAll(async () => {
    w = await startFunctionWorld();
    expect((await w.putSecret('first', FIRST)).status).toBe(201);
    expect((await w.putSecret('second', SECOND)).status).toBe(201);
    grantId = await w.grant();
  });
  afterAll(async () => { await w?.close(); });

  it('the next invocations read the same values and leave the same audit rows as the first', async () => {
    await deployed(w, 'two', `export default async () => {
      const a = await tailor.secretmanager.getSecret("default", "first");
      const b = await tailor.secretmanager.getSecrets("default", ["second", "absent"]);
      return { a, b };
    }`, { exposeSecrets: true });
    const replies = [];
    for (let i = 0; i < 3; i++) replies.push(await w.invoke('two'));
    const rows = [];
    for (const r of replies) {
      expect(r.status, r.text).toBe(200);
      expect(r.body.result).toEqual({ a: FIRST, b: { second: SECOND } });
      rows.push(bySecret(withoutInvocation(await auditFor(w, r.body.invocationId))));
    }
    expect(rows[0]).toEqual([
      { action: 'secret.read', outcome: 'allowed', vault: 'default', secret: 'absent', version: null, function: 'two', detail: { functionVersion: 1, missing: true } },
      { action: 'secret.read', outcome: 'allowed', vault: 'default', secret: 'first', version: 1, function: 'two', detail: { functionVersion: 1 } },
      { action: 'secret.read', outcome: 'allowed', vault: 'default', secret: 'second', version: 1, function: 'two', detail: { functionVersion: 1 } },
    ]);
    expect(rows[1]).toEqual(rows[0]);
    expect(rows[2]).toEqual(rows[0]);
  });

  it('a read that depends on the arguments: each invocation is audited for what it read, nothing more', async () => {
    await deployed(w, 'pick', 'export default async ({ name }) => (await tailor.secretmanager.getSecret("default", name)).length', { exposeSecrets: true });
    for (const name of ['first', 'second', 'first', 'first']) {
      const r = await w.invoke('pick', { name });
      expect(r.status, r.text).toBe(200);
      expect(r.body.result).toBe(name === 'first' ? FIRST.length : SECOND.length);
      expect((await auditFor(w, r.body.invocationId)).map((row) => row.secret)).toEqual([name]);
    }
  });

  it('a new value is read at once, and a revoked grant denies the next invocation', async () => {
    await deployed(w, 'one', `export default async () => {
      try { return await tailor.secretmanager.getSecret("default", "first"); } catch (e) { return e.message; }
    }`, { exposeSecrets: true });
    expect((await w.invoke('one')).body.result).toBe(FIRST);
    expect((await w.putSecret('first', `${FIRST}-2`)).status).toBe(200);
    const r = await w.invoke('one');
    expect(r.body.result).toBe(`${FIRST}-2`);
    expect((await auditFor(w, r.body.invocationId))[0].version).toBe(2);

    expect((await w.s.request('DELETE', `/v1/vaults/default/grants/${grantId}`)).status).toBe(204);
    const denied = await w.invoke('one');
    expect(denied.body.result).toBe('access denied to vault "default"');
    expect((await auditFor(w, denied.body.invocationId))[0]).toMatchObject({ outcome: 'denied', detail: { functionVersion: 1, reason: 'no_workspace_grant' } });
    grantId = await w.grant();
    expect((await w.invoke('one')).body.result).toBe(`${FIRST}-2`);
  });

  it('a grant revoked while the function runs, after it read a prefetched value, withholds the output', async () => {
    await deployed(w, 'slow', `export default async ({ ms }) => {
      const v = await tailor.secretmanager.getSecret("default", "second");
      const until = Date.now() + ms;
      while (Date.now() < until) {}
      return v;
    }`, { exposeSecrets: true, timeoutMs: 10_000 });
    expect((await w.invoke('slow', { ms: 0 })).body.result).toBe(SECOND);

    const running = w.invoke('slow', { ms: 1500 });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await w.s.request('DELETE', `/v1/vaults/default/grants/${grantId}`)).status).toBe(204);
    const r = await running;
    const details = expectInvokeError(r, 422, 'function_error');
    expect(r.body.error.message).toBe('access denied to vault "default"');
    expect(r.text).not.toContain(SECOND);
    expect(withoutInvocation(await auditFor(w, details.invocationId))).toEqual([
      { action: 'secret.read', outcome: 'denied', vault: 'default', secret: 'second', version: null, function: 'slow', detail: { functionVersion: 1, reason: 'no_workspace_grant', revokedDuringRun: true } },
      expect.objectContaining({ action: 'invocation.failed', detail: expect.objectContaining({ code: 'function_error' }) }),
    ]);
    grantId = await w.grant();
  });
});
