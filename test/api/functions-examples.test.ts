// Every function in functions-examples/ deployed and invoked through the real server.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fs from 'node:fs';
import crypto from 'node:crypto';
import { sql } from 'drizzle-orm';
import { startFunctionWorld, deployed, type FunctionWorld } from './functions-fixture.ts';
import { selectRows } from '../support/assertions.ts';

const example = (file: string) => fs.readFileSync(new URL(`../../functions-examples/${file}`, import.meta.url), 'utf8');

describe('functions-examples', () => {
  let w: FunctionWorld;
  beforeAll(async () => {
    w = await startFunctionWorld();
    await w.putSecret('test-secret-1', 'secret-value-1');
    await w.putSecret('test-secret-2', 'secret-value-2');
    await w.grant();
    for (const vault of ['webhooks', 'database', 'payroll']) expect((await w.s.request('POST', '/v1/vaults', { body: { name: vault } })).status).toBe(201);
    await w.putSecret('signing-key', 'whsec_Zm9vYmFyYmF6cXV4', 'webhooks');
    const db = { host: 'db.internal.example', port: '6543', user: 'app_user', password: 'p@ss:w/rd#1 é', dbname: 'orders' };
    for (const [name, value] of Object.entries(db)) await w.putSecret(name, value, 'database');
    await w.putSecret('bank-token', 'tok_payroll_123456', 'payroll');
    await w.grant('webhooks');
    await w.grant('database');
  });
  afterAll(async () => { await w?.close(); });

  it('reference.js (the Tailor docs example, unmodified) reads both secrets', async () => {
    await deployed(w, 'reference', example('reference.js'), { exposeSecrets: true });
    const r = await w.invoke('reference', {}, w.users.invoker.key);
    expect(r.status, r.text).toBe(200);
    expect(r.body.result).toEqual({ secrets: '{"test-secret-1":"secret-value-1","test-secret-2":"secret-value-2"}' });
    expect(r.body.logs.map((l: { message: string }) => l.message)).toEqual([
      'start',
      'getSecrets: {"test-secret-1":"[REDACTED]","test-secret-2":"[REDACTED]"}',
      'getSecret with test-secret-1: [REDACTED]',
    ]);

    await deployed(w, 'reference', example('reference.js'));
    const redacted = await w.invoke('reference');
    expect(redacted.body.result).toEqual({ secrets: '{"test-secret-1":"[REDACTED]","test-secret-2":"[REDACTED]"}' });
  });

  it('webhook-signature.js accepts the right HMAC-SHA256 signature and rejects others', async () => {
    await deployed(w, 'webhook', example('webhook-signature.js'));
    const sign = (body: string) => crypto.createHmac('sha256', 'whsec_Zm9vYmFyYmF6cXV4').update(body).digest('hex');
    for (const body of ['{"event":"paid","amount":42}', '', 'ünïcødé ✓ 🎉', 'x'.repeat(200)]) {
      const good = await w.invoke('webhook', { body, signature: `sha256=${sign(body)}` });
      expect(good.body.result, `${body}: ${good.text}`).toEqual({ valid: true });
    }
    const tampered = await w.invoke('webhook', { body: '{"event":"paid","amount":43}', signature: sign('{"event":"paid","amount":42}') });
    expect(tampered.body.result).toEqual({ valid: false });
    expect((await w.invoke('webhook', { body: 'a', signature: 'abc' })).body.result).toEqual({ valid: false });
    expect((await w.invoke('webhook', {})).body.error.code).toBe('function_error');
  });

  it('database-url.js builds a connection string with the password URL-encoded', async () => {
    await deployed(w, 'dburl', example('database-url.js'), { exposeSecrets: true });
    const r = await w.invoke('dburl');
    expect(r.status, r.text).toBe(200);
    expect(r.body.result.url).toBe(`postgres://app_user:${encodeURIComponent('p@ss:w/rd#1 é')}@db.internal.example:6543/orders?sslmode=require`);
    expect(new URL(r.body.result.url).password).toBe(encodeURIComponent('p@ss:w/rd#1 é'));
    // Every value of eight characters or more that the function read is redacted from its logs; the
    // port (4) and the database name (6) are shorter, so they stay.
    expect(r.body.logs[0].message).toBe('connecting to [REDACTED]:6543/orders as [REDACTED]');

    await deployed(w, 'dburl', example('database-url.js'));
    const hidden = await w.invoke('dburl');
    expect(hidden.text).not.toContain(encodeURIComponent('p@ss:w/rd#1 é'));
    expect(hidden.body.result.url).toContain(':[REDACTED]@');
  });

  it('denied.js catches the access-denied error and reports it; the refusal is audited', async () => {
    await deployed(w, 'denied', example('denied.js'));
    const r = await w.invoke('denied');
    expect(r.body.result).toEqual({ denied: true, error: 'access denied to vault "payroll"' });
    expect(r.body.logs[0]).toMatchObject({ level: 'warn', message: 'could not read payroll/bank-token: access denied to vault "payroll"' });
    const rows = await selectRows<{ outcome: string; vault: string; secret: string }>(w.s.database.db,
      sql`select outcome, vault, secret from audit_events where invocation_id = ${r.body.invocationId}`);
    expect(rows).toEqual([{ outcome: 'denied', vault: 'payroll', secret: 'bank-token' }]);
  });
});
