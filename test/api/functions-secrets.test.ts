// Functions reading secrets through tailor.secretmanager: the workspace's grant is checked on every
// call, every read leaves an audit row naming the invocation, and values are redacted on the way out.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { sql } from 'drizzle-orm';
import { startFunctionWorld, deployed, expectInvokeError, type FunctionWorld } from './functions-fixture.ts';
import { selectRows } from '../support/assertions.ts';

const API_KEY = 'sk_live_9f8e7d6c5b4a3210';
const READ_ONE = 'export default async () => ({ key: await tailor.secretmanager.getSecret("default", "api-key") });';
const READ_OR_REPORT = `export default async () => {
  try { return { value: await tailor.secretmanager.getSecret("default", "api-key") }; }
  catch (e) { return { denied: e.message }; }
};`;

interface AuditRow { action: string; outcome: string; vault: string; secret: string; version: number | null; workspace: string; function: string; invocation_id: string; actor_kind: string; detail: any }
const auditFor = (w: FunctionWorld, invocationId: string) => selectRows<AuditRow>(w.s.database.db,
  sql`select action, outcome, vault, secret, version, workspace, function, invocation_id, actor_kind, detail from audit_events where invocation_id = ${invocationId} order by seq`);

describe('functions and secrets', () => {
  let w: FunctionWorld;
  let grantId: string;
  beforeAll(async () => {
    w = await startFunctionWorld();
    expect((await w.putSecret('api-key', API_KEY)).status).toBe(201);
    grantId = await w.grant();
  });
  afterAll(async () => { await w?.close(); });

  it('reads a secret under the workspace grant, and the audit row names workspace, function, version and invocation', async () => {
    await deployed(w, 'reader', READ_ONE, { exposeSecrets: true });
    const r = await w.invoke('reader', {}, w.users.invoker.key);
    expect(r.status, r.text).toBe(200);
    expect(r.body.result).toEqual({ key: API_KEY });
    const rows = await auditFor(w, r.body.invocationId);
    expect(rows).toEqual([expect.objectContaining({
      action: 'secret.read', outcome: 'allowed', vault: 'default', secret: 'api-key', version: 1, workspace: w.ws, function: 'reader',
      invocation_id: r.body.invocationId, actor_kind: 'function', detail: { functionVersion: 1 },
    })]);
    expect(JSON.stringify(rows)).not.toContain(API_KEY);
  });

  it('checks the grant on every call: revoked means denied on the next invocation, re-granted works again', async () => {
    await deployed(w, 'checker', READ_OR_REPORT, { exposeSecrets: true });
    expect((await w.invoke('checker')).body.result).toEqual({ value: API_KEY });

    expect((await w.s.request('DELETE', `/v1/vaults/default/grants/${grantId}`)).status).toBe(204);
    const denied = await w.invoke('checker');
    expect(denied.body.result).toEqual({ denied: 'access denied to vault "default"' });
    const rows = await auditFor(w, denied.body.invocationId);
    expect(rows).toEqual([expect.objectContaining({ action: 'secret.read', outcome: 'denied', function: 'checker', workspace: w.ws, detail: { functionVersion: 1, reason: 'no_workspace_grant' } })]);

    // Uncaught, a denied read is a function_error whose message says so.
    const uncaught = expectInvokeError(await w.invoke('reader'), 422, 'function_error');
    expect(uncaught.stack ?? '').toMatch(/access denied to vault "default"/);

    grantId = await w.grant();
    expect((await w.invoke('checker')).body.result).toEqual({ value: API_KEY });
  });

  it('an unknown vault is denied exactly like one without a grant', async () => {
    await deployed(w, 'ghost', 'export default async () => { try { await tailor.secretmanager.getSecret("no-such-vault", "x"); } catch (e) { return e.message; } };');
    expect((await w.invoke('ghost')).body.result).toBe('access denied to vault "no-such-vault"');
  });

  it('a rotated secret is seen by the next invocation; a disabled version is never returned', async () => {
    expect((await w.putSecret('api-key', 'sk_live_rotated_000002')).status).toBe(200);
    expect((await w.invoke('checker')).body.result).toEqual({ value: 'sk_live_rotated_000002' });

    expect((await w.s.request('PATCH', '/v1/vaults/default/secrets/api-key/versions/2', { body: { state: 'disabled' } })).status).toBe(200);
    const back = await w.invoke('checker');
    expect(back.body.result).toEqual({ value: API_KEY });
    expect((await auditFor(w, back.body.invocationId))[0]).toMatchObject({ version: 1 });

    expect((await w.s.request('PATCH', '/v1/vaults/default/secrets/api-key/versions/1', { body: { state: 'disabled' } })).status).toBe(200);
    expect((await w.invoke('checker')).body.result).toEqual({});
    for (const n of [1, 2]) await w.s.request('PATCH', `/v1/vaults/default/secrets/api-key/versions/${n}`, { body: { state: 'enabled' } });
    expect((await w.invoke('checker')).body.result).toEqual({ value: 'sk_live_rotated_000002' });
  });

  it('redacts values read from logs, errors and (by default) the result, in verbatim, base64, hex and URL-encoded forms', async () => {
    expect((await w.putSecret('db-password', 'p@ss w/rd+&=s3cret')).status).toBe(201);
    await deployed(w, 'leaky', `export default async () => {
      const v = await tailor.secretmanager.getSecret("default", "db-password");
      // The sandbox has only the JavaScript built-ins (no TextEncoder, no btoa): ASCII by hand.
      const hex = Array.from(v, (c) => c.charCodeAt(0).toString(16).padStart(2, "0")).join("");
      const A = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
      let b64 = "";
      for (let i = 0; i < v.length; i += 3) {
        const n = (v.charCodeAt(i) << 16) | ((v.charCodeAt(i + 1) || 0) << 8) | (v.charCodeAt(i + 2) || 0);
        b64 += A[(n >> 18) & 63] + A[(n >> 12) & 63] + (i + 1 < v.length ? A[(n >> 6) & 63] : "=") + (i + 2 < v.length ? A[n & 63] : "=");
      }
      console.log("plain", v);
      console.log("url", encodeURIComponent(v));
      console.log("hex", hex);
      console.warn("b64", b64);
      return { v, url: encodeURIComponent(v), nested: JSON.stringify({ v }) };
    };`);
    const r = await w.invoke('leaky');
    expect(r.status, r.text).toBe(200);
    expect(r.text).not.toContain('p@ss');
    expect(r.text).not.toContain(encodeURIComponent('p@ss w/rd+&=s3cret'));
    expect(r.text).not.toContain(Buffer.from('p@ss w/rd+&=s3cret').toString('base64'));
    expect(r.text).not.toContain(Buffer.from('p@ss w/rd+&=s3cret').toString('hex'));
    expect(r.body.result).toEqual({ v: '[REDACTED]', url: '[REDACTED]', nested: '{"v":"[REDACTED]"}' });
    expect(r.body.logs.map((l: { message: string }) => l.message)).toEqual(['plain [REDACTED]', 'url [REDACTED]', 'hex [REDACTED]', 'b64 [REDACTED]']);

    const stored = await w.s.request('GET', `/v1/workspaces/${w.ws}/functions/leaky/invocations/${r.body.invocationId}`);
    expect(stored.text).not.toContain('p@ss');
    expect(stored.body.logs[0].message).toBe('plain [REDACTED]');
    expect(w.s.logs.join('\n')).not.toContain('p@ss');

    await deployed(w, 'thrower', 'export default async () => { throw new Error("bad " + await tailor.secretmanager.getSecret("default", "db-password")); };', { exposeSecrets: true });
    const failed = expectInvokeError(await w.invoke('thrower'), 422, 'function_error');
    expect(JSON.stringify(failed)).not.toContain('p@ss');
    expect((await w.invoke('thrower')).body.error.message).toBe('bad [REDACTED]');
  });

  it('exposeSecrets: true returns the value in the result while the logs stay redacted', async () => {
    await deployed(w, 'exposer', `export default async () => {
      const v = await tailor.secretmanager.getSecret("default", "db-password");
      console.log("value is", v);
      return { v };
    };`, { exposeSecrets: true });
    const r = await w.invoke('exposer');
    expect(r.body.result).toEqual({ v: 'p@ss w/rd+&=s3cret' });
    expect(r.body.logs[0].message).toBe('value is [REDACTED]');
    const stored = await w.s.request('GET', `/v1/workspaces/${w.ws}/functions/exposer/invocations/${r.body.invocationId}`);
    expect(stored.text).not.toContain('p@ss');
  });

  it('getSecrets returns the names found, each read audited once', async () => {
    await deployed(w, 'many', 'export default async () => Object.keys(await tailor.secretmanager.getSecrets("default", ["api-key", "db-password", "missing"])).sort();');
    const r = await w.invoke('many');
    expect(r.body.result).toEqual(['api-key', 'db-password']);
    const rows = await auditFor(w, r.body.invocationId);
    expect(rows.map((x) => [x.secret, x.outcome, x.detail.missing ?? false]).sort()).toEqual([['api-key', 'allowed', false], ['db-password', 'allowed', false], ['missing', 'allowed', true]]);
  });
});
