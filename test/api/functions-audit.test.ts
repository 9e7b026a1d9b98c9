// Fail closed at the sandbox boundary: a function's secret read does not wait for its audit row,
// but nothing the function produced is returned unless every such row was committed.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { sql } from 'drizzle-orm';
import { startFunctionWorld, deployed, type FunctionWorld } from './functions-fixture.ts';

let w: FunctionWorld;
const VALUE = 'audit-canary-5f1c2e';

beforeAll(async () => {
  w = await startFunctionWorld();
  await w.putSecret('token', VALUE);
  await w.grant();
  await deployed(w, 'reader', `export default async () => {
    const v = await tailor.secretmanager.getSecret("default", "token");
    console.log("read", v.length);
    return { v };
  }`, { exposeSecrets: true });
});
afterAll(async () => { await w?.close(); });

describe('audit of function reads', () => {
  it('each read is on the audit trail before the invocation answers', async () => {
    const r = await w.invoke('reader', {});
    expect(r.status, r.text).toBe(200);
    const events = (await w.s.request('GET', `/v1/audit?action=secret.read&secret=token`)).body.events;
    expect(events.some((e: { invocationId: string }) => e.invocationId === r.body.invocationId)).toBe(true);
  });

  it('when the audit trail cannot be written, the invocation is 503 and returns neither result nor logs', async () => {
    await w.s.database.db.execute(sql`alter table audit_events rename to audit_events_away`);
    try {
      const r = await w.invoke('reader', {});
      expect(r.status, r.text).toBe(503);
      expect(r.body.error.code).toBe('unavailable');
      expect(r.text).not.toContain(VALUE);
      expect(r.body.result).toBeUndefined();
      expect(JSON.stringify(r.body.error.details ?? {})).not.toContain('read');
    } finally {
      await w.s.database.db.execute(sql`alter table audit_events_away rename to audit_events`);
    }
    const again = await w.invoke('reader', {});
    expect(again.status, again.text).toBe(200);
    expect(again.body.result).toEqual({ v: VALUE });
    expect((await w.s.request('GET', '/v1/audit/verify')).body).toMatchObject({ intact: true });
  });
});
