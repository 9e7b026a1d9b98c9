import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, compileFunction, type Runtime } from '../../runtime/index.ts';
import { compile, countingReader, HELLO, REFERENCE, request, run } from './fixtures.ts';


let rt: Runtime;
beforeAll(() => { rt = createRuntime({ workers: 2 }); });
afterAll(async () => { await rt.close(); });

describe('invoke', () => {
  it('runs the reference example unmodified, with secrets redacted from logs and result', async () => {
    const { outcome, reader } = await run(rt, REFERENCE);
    expect(outcome).toMatchObject({ ok: true, result: { secrets: '{"test-secret-1":"[REDACTED]","test-secret-2":"[REDACTED]"}' } });
    expect(outcome.logs.map((l) => l.message)).toEqual([
      'start',
      'getSecrets: {"test-secret-1":"[REDACTED]","test-secret-2":"[REDACTED]"}',
      'getSecret with test-secret-1: [REDACTED]',
    ]);
    expect(reader.calls).toHaveLength(2); // the repeated test-secret-1 read came from the memo
  });

  it('with exposeSecrets the result keeps the values, the logs do not', async () => {
    const { outcome } = await run(rt, REFERENCE, { exposeSecrets: true });
    expect(outcome).toMatchObject({ ok: true, result: { secrets: '{"test-secret-1":"first-secret-value","test-secret-2":"second-secret-value"}' } });
    expect(outcome.logs[2].message).toBe('getSecret with test-secret-1: [REDACTED]');
  });

  it('passes args in and the result out, with timings', async () => {
    const { outcome } = await run(rt, HELLO, { args: { name: 'coffer', n: [1, 2] } });
    expect(outcome).toMatchObject({ ok: true, result: { hello: 'coffer' } });
    expect(outcome.durationMs).toBeGreaterThan(0);
    expect(outcome.cpuMs).toBeGreaterThan(0);
    expect(outcome.cpuMs).toBeLessThanOrEqual(outcome.durationMs);
  });

  it('cpu time counts the work the function did', async () => {
    const { outcome } = await run(rt, 'export default () => { let x = 0; for (let i = 0; i < 2e7; i++) x += i % 7; return x > 0; }');
    expect(outcome).toMatchObject({ ok: true, result: true });
    const idle = (await run(rt, HELLO)).outcome;
    // Twenty million loop turns cost more CPU than a hello, whatever the machine's speed.
    expect(outcome.cpuMs).toBeGreaterThan(idle.cpuMs);
  });

  it('a sync default export works and undefined becomes null', async () => {
    expect((await run(rt, 'export default (a) => a.x * 2', { args: { x: 21 } })).outcome).toMatchObject({ ok: true, result: 42 });
    expect((await run(rt, 'export default () => {}')).outcome).toMatchObject({ ok: true, result: null });
  });

  it('missing args reach the function as undefined; an explicit null stays null', async () => {
    const kind = 'export default (args) => (args === undefined ? "undefined" : args === null ? "null" : typeof args)';
    expect((await run(rt, kind, { args: undefined })).outcome).toMatchObject({ ok: true, result: 'undefined' });
    expect((await run(rt, kind, { args: null })).outcome).toMatchObject({ ok: true, result: 'null' });
    const destructuring = 'export default async ({ a } = {}) => a ?? "no a"';
    expect((await run(rt, destructuring, { args: undefined })).outcome).toMatchObject({ ok: true, result: 'no a' });
    expect((await run(rt, destructuring, { args: { a: 1 } })).outcome).toMatchObject({ ok: true, result: 1 });
  });

  it('args that are not JSON are refused before anything runs', async () => {
    expect((await run(rt, HELLO, { args: () => 1 })).outcome).toMatchObject({ ok: false, code: 'function_error', message: 'args must be a JSON value' });
  });

  it('runs export default function, named exports alongside, and top-level await', async () => {
    const code = 'export const base = await Promise.resolve(40);\nexport function add(x) { return x + base; }\nexport default function main(a) { return add(a); }';
    expect((await run(rt, code, { args: 2 })).outcome).toMatchObject({ ok: true, result: 42 });
  });

  it('a class default export fails when called, as a function_error', async () => {
    const { outcome } = await run(rt, 'export default class A {}');
    expect(outcome).toMatchObject({ ok: false, code: 'function_error' });
  });

  it('captures console output with levels', async () => {
    const { outcome } = await run(rt, `export default () => {
      console.log('a', 1, { b: 2 }); console.info('i'); console.warn('w'); console.error(new Error('e')); console.debug(undefined, null, 3n, Symbol('s'));
    }`);
    expect(outcome.ok).toBe(true);
    expect(outcome.logs.map((l) => l.level)).toEqual(['log', 'info', 'warn', 'error', 'debug']);
    expect(outcome.logs[0].message).toBe('a 1 {"b":2}');
    expect(outcome.logs[3].message).toMatch(/^Error: e\n\s+at \$default \(function\.js:2:/);
    expect(outcome.logs[4].message).toBe('undefined null 3n Symbol(s)');
    expect(new Date(outcome.logs[0].at).toISOString()).toBe(outcome.logs[0].at);
  });

  it('nothing survives between invocations', async () => {
    const code = 'export default () => { const seen = globalThis.leftover; globalThis.leftover = 1; Array.prototype.extra = 1; return { seen: seen ?? null, extra: [].extra ?? null }; }';
    const req = request(code);
    for (let i = 0; i < 3; i++) {
      const outcome = await rt.invoke({ ...req, invocationId: `again-${i}` }, countingReader());
      expect(outcome).toMatchObject({ ok: true, result: { seen: null, extra: 1 } });
    }
  });

  it('a guest error gives function_error with only sandbox frames in the stack', async () => {
    const { outcome } = await run(rt, 'function inner() {\n  throw new RangeError("bad range");\n}\nexport default async () => {\n  await null;\n  inner();\n};');
    expect(outcome).toMatchObject({ ok: false, code: 'function_error', message: 'bad range' });
    if (outcome.ok) return;
    expect(outcome.stack).toMatch(/^RangeError: bad range\n\s+at inner \(function\.js:2:9\)/);
    expect(outcome.stack).not.toMatch(/\/work\/|node:|coffer-bootstrap|node_modules/);
  });

  it('the column on line 1 points into the user source', async () => {
    const { outcome } = await run(rt, 'export default () => { throw new Error("x"); };');
    if (outcome.ok) throw new Error('expected failure');
    expect(outcome.stack).toContain('function.js:1:30');
  });

  it('a thrown non-Error is reported clearly', async () => {
    const { outcome } = await run(rt, 'export default () => { throw "plain"; }');
    expect(outcome).toMatchObject({ ok: false, code: 'function_error', message: 'a non-Error value was thrown: plain' });
  });

  it('contexts are released: many invocations fit in a small heap', async () => {
    const req = request('export default () => { globalThis.keep = new Array(50000).fill(1); return 1; }', { limits: { timeoutMs: 2000, memoryMb: 16 } });
    // 200 x 400 KB kept on each context's global: only fits if every context is released.
    for (let n = 0; n < 200; n++) {
      const outcome = await rt.invoke({ ...req, invocationId: `m${n}` }, countingReader());
      expect(outcome.ok, JSON.stringify(outcome)).toBe(true);
    }
  });

  it('the gateway process never loads isolated-vm', () => {
    const require = createRequire(import.meta.url);
    expect(Object.keys(require.cache).some((k) => k.includes('isolated-vm'))).toBe(false);
    expect(rt.stats()).toMatchObject({ workers: 2 });
  });
});

describe('secrets', () => {
  it('getSecret resolves to the value, or undefined when missing', async () => {
    const { outcome } = await run(rt, `export default async () => ({
      found: (await tailor.secretmanager.getSecret('default', 'test-secret-2')).length,
      missing: typeof await tailor.secretmanager.getSecret('default', 'nope'),
      noVault: typeof await tailor.secretmanager.getSecret('ghost', 'nope'),
    })`);
    expect(outcome).toMatchObject({ ok: true, result: { found: 19, missing: 'undefined', noVault: 'undefined' } });
  });

  it('getSecrets leaves missing keys out', async () => {
    const { outcome } = await run(rt, `export default async () => Object.keys(await tailor.secretmanager.getSecrets('default', ['test-secret-1', 'missing', 'test-secret-2']))`);
    expect(outcome).toMatchObject({ ok: true, result: ['test-secret-1', 'test-secret-2'] });
  });

  it('a denied vault rejects with an isolate-realm Error naming the vault', async () => {
    const { outcome } = await run(rt, `export default async () => {
      try { await tailor.secretmanager.getSecret('prod', 'api-key'); return 'read'; }
      catch (e) { return { message: e.message, isError: e instanceof Error, ctor: e.constructor === Error }; }
    }`);
    expect(outcome).toMatchObject({ ok: true, result: { message: 'access denied to vault "prod"', isError: true, ctor: true } });
  });

  it('an unexpected reader error becomes a generic error without host text', async () => {
    const { outcome } = await run(rt, `export default async () => { await tailor.secretmanager.getSecret('broken', 'x'); }`);
    expect(outcome).toMatchObject({ ok: false, code: 'function_error', message: 'secret read failed' });
    expect(JSON.stringify(outcome)).not.toContain('postgres');
  });

  it('bad arguments reject with a TypeError before any lookup', async () => {
    const { outcome, reader } = await run(rt, `export default async () => {
      const sm = tailor.secretmanager, out = [];
      const attempts = [
        () => sm.getSecret(1, 'a'), () => sm.getSecret('default', 2), () => sm.getSecret('Bad Vault', 'a'),
        () => sm.getSecret('default', '../etc'), () => sm.getSecret('default', 'a..b'), () => sm.getSecret({ toString() { return 'default'; } }, 'a'),
        () => sm.getSecrets('default', 'test-secret-1'), () => sm.getSecrets('default', [1]),
        () => sm.getSecrets('default', Array.from({ length: 101 }, (_, i) => 's' + i)),
        () => sm.getSecrets('default', new Proxy(['a'], { get() { throw new Error('trap'); } })),
      ];
      for (const a of attempts) {
        try { await a(); out.push('resolved'); } catch (e) { out.push(e instanceof TypeError ? 'TypeError' : 'other:' + e.message); }
      }
      return out;
    }`);
    expect(outcome.ok).toBe(true);
    if (!outcome.ok) return;
    const results = outcome.result as string[];
    expect(results.slice(0, 9)).toEqual(Array(9).fill('TypeError'));
    expect(results[9]).not.toBe('resolved');
    expect(reader.calls).toHaveLength(0);
  });

  it('100 names in one call are accepted', async () => {
    const { outcome, reader } = await run(rt, `export default async () => Object.keys(await tailor.secretmanager.getSecrets('default', Array.from({ length: 100 }, (_, i) => 's' + i))).length`);
    expect(outcome).toMatchObject({ ok: true, result: 0 });
    expect(reader.calls).toHaveLength(100);
  });

  it('repeated and concurrent reads of one secret call the reader once', async () => {
    const { outcome, reader } = await run(rt, `export default async () => {
      const sm = tailor.secretmanager;
      await Promise.all([sm.getSecret('default', 'test-secret-1'), sm.getSecret('default', 'test-secret-1'), sm.getSecrets('default', ['test-secret-1'])]);
      await sm.getSecret('default', 'test-secret-1');
      return 'ok';
    }`);
    expect(outcome).toMatchObject({ ok: true, result: 'ok' });
    expect(reader.calls).toHaveLength(1);
  });

  it('redacts every encoding of a value read, in logs, errors and results', async () => {
    const { outcome } = await run(rt, `export default async () => {
      const v = await tailor.secretmanager.getSecret('other', 'weird.name');
      // The value is ASCII, so char codes are its UTF-8 bytes (the sandbox has no TextEncoder or btoa).
      const bytes = Array.from(v, (c) => c.charCodeAt(0));
      const hex = bytes.map((b) => b.toString(16).padStart(2, '0')).join('');
      const A = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
      let b64 = '';
      for (let i = 0; i < bytes.length; i += 3) {
        const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
        b64 += A[(n >> 18) & 63] + A[(n >> 12) & 63] + (i + 1 < bytes.length ? A[(n >> 6) & 63] : '=') + (i + 2 < bytes.length ? A[n & 63] : '=');
      }
      const forms = [v, hex, hex.toUpperCase(), b64, b64.replace(/=+$/, ''), b64.replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, ''), encodeURIComponent(v)];
      for (const f of forms) console.log('value: ' + f);
      return { forms, key: { [v]: 1 }, nested: JSON.stringify({ v }) };
    }`);
    expect(outcome.ok).toBe(true);
    if (!outcome.ok) return;
    for (const l of outcome.logs) expect(l.message).toBe('value: [REDACTED]');
    const result = outcome.result as any;
    expect(result.forms).toEqual(Array(7).fill('[REDACTED]'));
    expect(Object.keys(result.key)).toEqual(['[REDACTED]']);
    expect(result.nested).toBe('{"v":"[REDACTED]"}');
    expect(JSON.stringify(outcome)).not.toContain('quoted');
  });

  it('redacts secret values from error messages and stacks', async () => {
    const { outcome } = await run(rt, `export default async () => { const v = await tailor.secretmanager.getSecret('default', 'test-secret-1'); throw new Error('oops ' + v); }`);
    expect(outcome).toMatchObject({ ok: false, code: 'function_error', message: 'oops [REDACTED]' });
    expect(JSON.stringify(outcome)).not.toContain('first-secret-value');
  });

  it('a value shorter than 8 characters is not redacted (a marker would confirm a guess of it)', async () => {
    SECRETS.nums = { short: '9876543' };
    const { outcome } = await run(rt, `export default async () => { const v = await tailor.secretmanager.getSecret('nums', 'short'); console.log(v); return v; }`);
    expect(outcome).toMatchObject({ ok: true, result: '9876543', logs: [{ message: '9876543' }] });
  });

  it('a secret returned as a number-like value is still redacted', async () => {
    SECRETS_NUM();
    const { outcome } = await run(rt, `export default async () => { const v = await tailor.secretmanager.getSecret('nums', 'pin'); return { asNumber: Number(v), list: [Number(v)] }; }`);
    expect(outcome).toMatchObject({ ok: true, result: { asNumber: '[REDACTED]', list: ['[REDACTED]'] } });
  });
});

import { SECRETS } from './fixtures.ts';
function SECRETS_NUM() { SECRETS.nums = { pin: '98765432' }; }

describe('prefetched reads', () => {
  const TWO = `export default async () => {
    const a = await tailor.secretmanager.getSecret("default", "test-secret-1");
    const b = await tailor.secretmanager.getSecrets("default", ["test-secret-2", "gone"]);
    console.log("read", a, JSON.stringify(b));
    return { a, b };
  }`;
  const PREFETCH: [string, string, string | null][] = [
    ['default', 'test-secret-1', 'first-secret-value'], ['default', 'test-secret-2', 'second-secret-value'], ['default', 'gone', null],
    ['default', 'unasked', 'a-value-never-asked-for'],
  ];

  it('are answered in the worker without asking the reader, reported by index, and redacted like any read', async () => {
    const { outcome, reader } = await run(rt, TWO, { prefetch: PREFETCH });
    expect(reader.calls).toEqual([]);
    expect(outcome).toMatchObject({ ok: true, result: { a: '[REDACTED]', b: { 'test-secret-2': '[REDACTED]' } } });
    expect(outcome.logs.map((l) => l.message)).toEqual(['read [REDACTED] {"test-secret-2":"[REDACTED]"}']);
    expect(outcome.prefetchUsed?.sort()).toEqual([0, 1, 2]);
  });

  it('a call naming anything not prefetched goes to the reader whole; no prefetch, no prefetchUsed', async () => {
    const { outcome, reader } = await run(rt, TWO, { prefetch: [PREFETCH[1], PREFETCH[2]], exposeSecrets: true });
    expect(reader.calls.map((c) => c.name)).toEqual(['test-secret-1']);
    expect(outcome).toMatchObject({ ok: true, result: { a: 'first-secret-value', b: { 'test-secret-2': 'second-secret-value' } }, prefetchUsed: [0, 1] });
    expect((await run(rt, TWO)).outcome.prefetchUsed).toBeUndefined();
    expect((await run(rt, HELLO, { prefetch: PREFETCH })).outcome).toMatchObject({ ok: true, prefetchUsed: [] });
  });

  it('count towards the distinct-name cap from the start', async () => {
    const small = createRuntime({ workers: 1, maxSecretNamesPerInvocation: 2 });
    try {
      const { outcome } = await run(small, 'export default async () => tailor.secretmanager.getSecret("other", "weird.name")', { prefetch: PREFETCH.slice(0, 2) });
      expect(outcome).toMatchObject({ ok: false, code: 'secret_read_limit' });
      const within = await run(small, 'export default async () => tailor.secretmanager.getSecret("other", "weird.name")', { prefetch: PREFETCH.slice(0, 1) });
      expect(within.outcome).toMatchObject({ ok: true });
    } finally {
      await small.close();
    }
  });
});

describe('validate', () => {
  const limits = { timeoutMs: 1000, memoryMb: 64 };
  it('accepts a callable default export', async () => {
    expect(await rt.validate(compile(HELLO), limits, 'ws-test')).toEqual({ ok: true });
  });
  it('refuses a default export that is not callable', async () => {
    expect(await rt.validate(compile('export default 42'), limits, 'ws-test')).toMatchObject({ ok: false, code: 'not_callable' });
  });
  it('reports a top-level error with its line', async () => {
    const r = await rt.validate(compile('const a = 1;\nnull.x;\nexport default () => a;'), limits, 'ws-test');
    expect(r).toMatchObject({ ok: false, code: 'function_error', line: 2 });
  });
  it('times out a top level that never ends', async () => {
    const r = await rt.validate(compile('while (true) {}\nexport default () => 1;'), { timeoutMs: 300, memoryMb: 64 }, 'ws-test');
    expect(r).toMatchObject({ ok: false, code: 'timeout' });
  });
  it('secrets cannot be read while validating', async () => {
    const c = compileFunction('await tailor.secretmanager.getSecret("default", "test-secret-1");\nexport default () => 1;');
    if (!c.ok) throw new Error('compile');
    expect(await rt.validate(c.script, limits, 'ws-test')).toMatchObject({ ok: false, code: 'function_error' });
  });
});

describe('isolate counts', () => {
  // Runtimes of their own with one worker, so the counts are these tests' alone; `swept` gives idle isolates back fast.
  let one: Runtime;
  let swept: Runtime;
  beforeAll(() => {
    one = createRuntime({ workers: 1 });
    swept = createRuntime({ workers: 1, isolateIdleMs: 300 });
  });
  afterAll(async () => { await Promise.all([one.close(), swept.close()]); });
  const counts = (r = one) => r.stats().isolates;
  const waitFor = async (want: { active: number; idle: number }, r = one) => {
    for (const end = Date.now() + 5000; Date.now() < end; await new Promise((res) => setTimeout(res, 20))) {
      if (counts(r).active === want.active && counts(r).idle === want.idle) return;
    }
    expect(counts(r)).toEqual(want);
  };

  it('start at zero, and an answered invocation\'s isolate is idle at once', async () => {
    expect(counts()).toEqual({ active: 0, idle: 0 });
    const ws = 'ws-counts-1';
    expect((await run(one, HELLO, { workspaceId: ws })).outcome.ok).toBe(true);
    // Carried by the answer itself: no wait.
    expect(counts()).toEqual({ active: 0, idle: 1 });
  });

  it('count an isolate that is running as active, and drop one disposed after a timeout', async () => {
    const ws = 'ws-counts-2';
    const slow = run(one, 'export default () => { const end = Date.now() + 800; while (Date.now() < end); return 1; }', { workspaceId: ws });
    await new Promise((r) => setTimeout(r, 200));
    // The fast one answers while the slow one runs on the same worker, in an isolate of its own.
    expect((await run(one, HELLO, { workspaceId: ws })).outcome.ok).toBe(true);
    expect(counts().active).toBe(1);
    expect((await slow).outcome.ok).toBe(true);
    expect(counts().active).toBe(0);
    const idle = counts().idle;
    expect(idle).toBe(3);
    // A timed-out isolate is disposed, never pooled: the counts do not grow by it.
    const { outcome } = await run(one, 'export default () => new Promise(() => {})', { workspaceId: 'ws-counts-3', limits: { timeoutMs: 300, memoryMb: 32 } });
    expect(outcome).toMatchObject({ ok: false, code: 'timeout' });
    await waitFor({ active: 0, idle });
  });

  it('report idle isolates swept after isolateIdleMs, with no invocation to carry it', async () => {
    expect((await run(swept, HELLO, { workspaceId: 'ws-counts-4' })).outcome.ok).toBe(true);
    expect(counts(swept)).toEqual({ active: 0, idle: 1 });
    await waitFor({ active: 0, idle: 0 }, swept);
  });
});
