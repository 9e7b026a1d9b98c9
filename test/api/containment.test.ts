// Runtime containment through the real server, on both drivers: each hostile case of the containment
// review, and after each one a healthy invocation in the same workspace and in another one.
import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest';
import crypto from 'node:crypto';
import { startFunctionWorld, deployed, expectInvokeError, type FunctionWorld } from './functions-fixture.ts';

let w: FunctionWorld;
const OTHER = 'containment-other';
/** A CA bundle's size: 12,300 random bytes, base64-encoded (16,400 characters). */
const BIG = crypto.randomBytes(12_300).toString('base64');
const TOKEN = `tok_${crypto.randomBytes(24).toString('hex')}`;
const PIN = '4821';

beforeAll(async () => {
  w = await startFunctionWorld({ env: { COFFER_WORKERS: '2' } });
  await w.grant();
  for (const [name, value] of [['big', BIG], ['token', TOKEN], ['pin', PIN]]) expect((await w.putSecret(name, value)).status).toBe(201);
  expect((await w.s.request('POST', '/v1/workspaces', { body: { name: OTHER } })).status).toBe(201);
  await w.grant(w.vault, OTHER);
  expect((await w.s.request('PUT', `/v1/workspaces/${OTHER}/functions/hello`, { body: { code: 'export default () => ({ hello: "other" })' } })).status).toBe(201);
  await deployed(w, 'hello', 'export default () => ({ hello: "same" })');
});
afterAll(async () => { await w?.close(); });

afterEach(async () => {
  const [same, other] = await Promise.all([w.invoke('hello'), w.invoke('hello', undefined, undefined, OTHER)]);
  expect({ status: same.status, body: same.body }, same.text).toEqual({ status: 200, body: expect.objectContaining({ result: { hello: 'same' } }) });
  expect({ status: other.status, body: other.body }, other.text).toEqual({ status: 200, body: expect.objectContaining({ result: { hello: 'other' } }) });
  expect((await w.s.request('GET', '/healthz', { key: null })).status).toBe(200);
});

/** Every trace a value could leave outside the response: the server's logs and the audit trail. */
async function traces(): Promise<string> {
  const audit = await w.s.request('GET', '/v1/audit?limit=500');
  return [audit.text, ...w.s.logs].join('\n');
}

async function auditRowsOf(invocationId: string): Promise<any[]> {
  const audit = await w.s.request('GET', '/v1/audit?limit=500');
  return audit.body.events.filter((e: any) => e.invocationId === invocationId);
}

describe('a secret of 16 KiB', () => {
  it('read and then a log line: 200, the read audited, the value nowhere', async () => {
    await deployed(w, 'big-log', 'export default async () => { const v = await tailor.secretmanager.getSecret("default", "big"); console.log("loaded"); return v.length; }');
    const r = await w.invoke('big-log');
    expect(r.status, r.text).toBe(200);
    expect(r.body).toMatchObject({ result: BIG.length, logs: [expect.objectContaining({ message: 'loaded' })] });
    const rows = await auditRowsOf(r.body.invocationId);
    expect(rows).toEqual([expect.objectContaining({ action: 'secret.read', outcome: 'allowed', secret: 'big' })]);
    expect(await traces()).not.toContain(BIG.slice(5000, 5032));
  });

  it('returned, logged, thrown and logged before a timeout: redacted whole, never a prefix', async () => {
    await deployed(w, 'big-return', 'export default async () => ({ v: await tailor.secretmanager.getSecret("default", "big") })');
    const returned = await w.invoke('big-return');
    expect(returned.status, returned.text).toBe(200);
    expect(returned.body.result).toEqual({ v: '[REDACTED]' });

    await deployed(w, 'big-throw', 'export default async () => { const v = await tailor.secretmanager.getSecret("default", "big"); console.log("v=" + v); throw new Error("bad " + v); }');
    const thrown = await w.invoke('big-throw');
    const d = expectInvokeError(thrown, 422, 'function_error');
    expect(thrown.body.error.message).toContain('[REDACTED]');
    expect(d.logs.map((l) => l.message)).toEqual(['v=[REDACTED]']);

    await deployed(w, 'big-timeout', 'export default async () => { const v = await tailor.secretmanager.getSecret("default", "big"); console.log(v); for (;;) {} }', { timeoutMs: 300 });
    const timedOut = await w.invoke('big-timeout');
    expect(expectInvokeError(timedOut, 504, 'timeout').logs.map((l) => l.message)).toEqual(['[REDACTED]']);

    for (const text of [returned.text, thrown.text, timedOut.text, await traces()]) {
      expect(text).not.toContain(BIG.slice(0, 16));
      expect(text).not.toContain(BIG.slice(-16));
    }
  });
});

describe('memory the limit would not count', () => {
  it('resizable and growable buffers, WebAssembly and Atomics are not in the sandbox', async () => {
    await deployed(w, 'features', `export default () => ({
      wasm: typeof WebAssembly, sab: typeof SharedArrayBuffer, atomics: typeof Atomics, finalization: typeof FinalizationRegistry,
      resizable: (() => { try { new ArrayBuffer(0, { maxByteLength: 2 ** 30 }); return "allowed"; } catch (e) { return e.name; } })(),
    })`, { memoryMb: 8 });
    const r = await w.invoke('features');
    expect(r.status, r.text).toBe(200);
    expect(r.body.result).toEqual({ wasm: 'undefined', sab: 'undefined', atomics: 'undefined', finalization: 'undefined', resizable: 'TypeError' });
  });

  it('an allocation past memoryMb is memory_limit, and only that invocation fails', async () => {
    await deployed(w, 'hog', 'export default () => { const a = []; for (;;) a.push({ i: a.length, s: "y" + a.length }); }', { memoryMb: 8 });
    expectInvokeError(await w.invoke('hog'), 422, 'memory_limit');
  });
});

describe('work that would outlive its invocation', () => {
  it('a loop chained on a secret read after returning never delays the next invocations', async () => {
    await deployed(w, 'leftover', 'export default () => { tailor.secretmanager.getSecret("default", "token").then(() => { for (;;) {} }); return "answered"; }', { timeoutMs: 2000 });
    for (let i = 0; i < 3; i++) {
      const r = await w.invoke('leftover');
      expect(r.status, r.text).toBe(200);
      expect(r.body.result).toBe('answered');
      // A pooled isolate still running the loop would make this wait and time out (504), or stall the worker (502).
      expect((await w.invoke('hello')).status).toBe(200);
    }
  });
});

describe('fair shares', () => {
  it("twenty sleeping invocations of one workspace do not hold up another workspace's call", async () => {
    await deployed(w, 'sleeper', 'export default () => new Promise(() => {})', { timeoutMs: 1500 });
    let settled = 0;
    const sleepers = Array.from({ length: 20 }, () => w.invoke('sleeper').then((r) => { settled++; return r; }));
    await new Promise((r) => setTimeout(r, 200));
    const other = await w.invoke('hello', undefined, undefined, OTHER);
    expect(other.status).toBe(200);
    // The other workspace was answered while every sleeper was still holding or waiting for a slot.
    expect(settled).toBe(0);
    for (const r of await Promise.all(sleepers)) expect([504, 429]).toContain(r.status);
  });

  it('one invocation reads at most 100 distinct names, so it writes a bounded number of audit rows', async () => {
    await deployed(w, 'name-flood', `export default async () => {
      for (let i = 0; i < 1000; i++) await tailor.secretmanager.getSecrets("default", Array.from({ length: 100 }, (_, k) => "made-up-" + i + "-" + k));
    }`);
    const r = await w.invoke('name-flood');
    expectInvokeError(r, 422, 'secret_read_limit');
    expect((await auditRowsOf(r.body.error.details.invocationId)).length).toBeLessThanOrEqual(101);
  });

  it('reads of vaults the workspace cannot read end the invocation after 5 denials', async () => {
    expect((await w.s.request('POST', '/v1/vaults', { body: { name: 'elsewhere' } })).status).toBe(201);
    await deployed(w, 'prober', `export default async () => {
      for (let i = 0; i < 100; i++) { try { await tailor.secretmanager.getSecret("elsewhere", "n" + i); } catch {} }
      return "not stopped";
    }`);
    const r = await w.invoke('prober');
    expectInvokeError(r, 422, 'secret_read_limit');
    const rows = await auditRowsOf(r.body.error.details.invocationId);
    // Five denials are allowed; the sixth is audited and ends the invocation.
    expect(rows.filter((e) => e.outcome === 'denied')).toHaveLength(6);
  });
});

describe('redaction is not an oracle', () => {
  it('a short value is never redacted, so echoed guesses all look alike; a long one is, in its encoded forms', async () => {
    await deployed(w, 'echo', `export default async (args) => {
      await tailor.secretmanager.getSecret("default", "pin");
      const token = await tailor.secretmanager.getSecret("default", "token");
      const A = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
      const b64 = (t) => { let o = ""; for (let i = 0; i < t.length; i += 3) { const n = (t.charCodeAt(i) << 16) | ((t.charCodeAt(i + 1) || 0) << 8) | (t.charCodeAt(i + 2) || 0);
        o += A[(n >> 18) & 63] + A[(n >> 12) & 63] + (i + 1 < t.length ? A[(n >> 6) & 63] : "=") + (i + 2 < t.length ? A[n & 63] : "="); } return o; };
      console.log("auth: Basic " + b64("user:" + token), encodeURI("?t=" + token + " x"));
      return { guess: args.guess };
    }`);
    const answers = [];
    for (const guess of ['1111', PIN, '9999']) {
      const r = await w.invoke('echo', { guess });
      expect(r.status, r.text).toBe(200);
      answers.push(r.body.result.guess);
      expect(r.text).not.toContain(TOKEN);
      expect(r.text).not.toContain(Buffer.from(`user:${TOKEN}`).toString('base64').slice(8, 40));
      expect(r.body.logs[0].message).toContain('[REDACTED]');
    }
    expect(answers).toEqual(['1111', PIN, '9999']);
  });
});

describe('results of any depth', () => {
  it('a result nested 5,000 levels deep is 422 invalid_result', async () => {
    await deployed(w, 'deep', 'export default () => { let o = {}; for (let i = 0; i < 5000; i++) o = { o }; return o; }');
    expectInvokeError(await w.invoke('deep'), 422, 'invalid_result');
    await deployed(w, 'deep-array', 'export default () => { let o = []; for (let i = 0; i < 5000; i++) o = [o]; return o; }');
    expectInvokeError(await w.invoke('deep-array'), 422, 'invalid_result');
  });
});
