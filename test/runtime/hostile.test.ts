// Functions that try to escape, starve or crash the sandbox. After each, a normal function must work.
import fs from 'node:fs';
import os from 'node:os';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, workerPids, type InvocationRequest, type Runtime } from '../../runtime/index.ts';
import { MAX_IN_FLIGHT } from '../../runtime/pool.ts';
import { countingReader, expectHealthy, HELLO, request, run } from './fixtures.ts';

const SHORT = { timeoutMs: 500, memoryMb: 32 };
let rt: Runtime;
beforeAll(() => { rt = createRuntime({ workers: 2 }); });
afterAll(async () => { await rt.close(); });
afterEach(async () => { await expectHealthy(rt); });

describe('limits', () => {
  it('a sync infinite loop times out', async () => {
    const { outcome } = await run(rt, 'export default () => { for (;;) {} }', { limits: SHORT });
    expect(outcome).toMatchObject({ ok: false, code: 'timeout' });
    expect(outcome.durationMs).toBeLessThan(SHORT.timeoutMs + 1500);
  });

  it('an async infinite loop times out', async () => {
    const { outcome } = await run(rt, 'export default async () => { for (;;) await null; }', { limits: SHORT });
    expect(outcome).toMatchObject({ ok: false, code: 'timeout' });
  });

  it('an infinite loop at the top level times out', async () => {
    const { outcome } = await run(rt, 'while (true) {}\nexport default () => 1;', { limits: SHORT });
    expect(outcome).toMatchObject({ ok: false, code: 'timeout' });
  });

  it('a script that runs code as it is evaluated (not made by compileFunction) is bounded too', async () => {
    const before = rt.stats().restarts;
    const outcome = await rt.invoke({ ...request('export default () => 1', { limits: SHORT }), script: 'for (;;) {}' }, countingReader());
    expect(outcome).toMatchObject({ ok: false, code: 'timeout' });
    expect(outcome.durationMs).toBeLessThan(SHORT.timeoutMs + 1500);
    expect(rt.stats().restarts).toBe(before);
  });

  it('a never-settling promise times out', async () => {
    const { outcome } = await run(rt, 'export default () => new Promise(() => {})', { limits: SHORT });
    expect(outcome).toMatchObject({ ok: false, code: 'timeout' });
  });

  it('a memory bomb hits memory_limit, and the workspace isolate is replaced', async () => {
    const { outcome } = await run(rt, 'export default () => { const a = []; for (;;) a.push(new Array(1e5).fill(Math.random())); }', { limits: { timeoutMs: 5000, memoryMb: 32 } });
    expect(outcome).toMatchObject({ ok: false, code: 'memory_limit' });
    await expectHealthy(rt);
  });

  it('deep recursion is a RangeError function_error', async () => {
    const { outcome } = await run(rt, 'const f = (n) => f(n + 1) + 1;\nexport default () => f(0);');
    expect(outcome).toMatchObject({ ok: false, code: 'function_error' });
    if (!outcome.ok) expect(outcome.stack ?? outcome.message).toMatch(/call stack/);
  });

  it('a huge result is result_too_large', async () => {
    const { outcome } = await run(rt, 'export default () => "x".repeat(2 * 1024 * 1024)');
    expect(outcome).toMatchObject({ ok: false, code: 'result_too_large' });
  });

  it('console flood is truncated with one marker line', async () => {
    const { outcome } = await run(rt, 'export default () => { for (let i = 0; i < 100000; i++) console.log("line " + i); return "done"; }');
    expect(outcome).toMatchObject({ ok: true, result: 'done' });
    expect(outcome.logs).toHaveLength(1001);
    expect(outcome.logs[1000].message).toMatch(/truncated/);
  });

  it('a huge single log line is bounded by the byte budget', async () => {
    const { outcome } = await run(rt, 'export default () => { console.log("y".repeat(10 * 1024 * 1024)); console.log("after"); return 1; }');
    expect(outcome.ok).toBe(true);
    const bytes = outcome.logs.reduce((n, l) => n + l.message.length, 0);
    expect(bytes).toBeLessThanOrEqual(256 * 1024 + 200);
  });

  it('a flood of 10k concurrent getSecret calls is bounded and contained', async () => {
    const { outcome, reader } = await run(rt, `export default async () => {
      const all = await Promise.allSettled(Array.from({ length: 10000 }, () => tailor.secretmanager.getSecret('default', 'test-secret-1')));
      return { ok: all.filter((r) => r.status === 'fulfilled').length, refused: all.filter((r) => r.status === 'rejected').length };
    }`, { limits: { timeoutMs: 5000, memoryMb: 64 } });
    expect(outcome).toMatchObject({ ok: true, result: { ok: 1000, refused: 9000 } });
    expect(reader.calls).toHaveLength(1);
  });
});

describe('escape attempts', () => {
  it('no require, process, fetch, timers, or import()', async () => {
    const { outcome } = await run(rt, `export default async () => ({
      require: typeof require, process: typeof process, fetch: typeof fetch, setTimeout: typeof setTimeout,
      setInterval: typeof setInterval, queueMicrotask: typeof queueMicrotask, Buffer: typeof Buffer,
      globals: Object.getOwnPropertyNames(globalThis).filter((k) => !/^[A-Z]/.test(k)).sort(),
      importFn: await (async () => { try { return await (0, eval)('import("fs")'); } catch (e) { return e.name; } })(),
    })`);
    expect(outcome.ok).toBe(true);
    if (!outcome.ok) return;
    const r = outcome.result as any;
    expect(r).toMatchObject({ require: 'undefined', process: 'undefined', fetch: 'undefined', setTimeout: 'undefined', setInterval: 'undefined', Buffer: 'undefined' });
    expect(r.importFn).not.toBe('object');
    expect(r.globals).not.toContain('_ivm');
    for (const g of r.globals) expect(['console', 'decodeURI', 'decodeURIComponent', 'encodeURI', 'encodeURIComponent', 'escape', 'eval', 'globalThis', 'isFinite', 'isNaN', 'parseFloat', 'parseInt', 'tailor', 'unescape', 'undefined', 'Infinity', 'NaN']).toContain(g);
  });

  it("constructor.constructor('return this')() is only the isolate global", async () => {
    const { outcome } = await run(rt, `export default () => {
      const g = (() => {}).constructor.constructor('return this')();
      const g2 = tailor.secretmanager.getSecret.constructor('return this')();
      return { same: g === globalThis && g2 === globalThis, process: typeof g.process, require: typeof g.require };
    }`);
    expect(outcome).toMatchObject({ ok: true, result: { same: true, process: 'undefined', require: 'undefined' } });
  });

  it('Error.prepareStackTrace and CallSite tricks reveal no functions or host frames', async () => {
    const { outcome } = await run(rt, `export default async () => {
      const seen = [];
      Error.prepareStackTrace = (e, frames) => { for (const f of frames) seen.push({ file: f.getFileName(), fn: typeof f.getFunction(), self: typeof f.getThis() }); return 'x'; };
      const probe = () => new Error('probe').stack;
      console.log({ toString: probe, toJSON: probe });
      try { await tailor.secretmanager.getSecrets('default', { get length() { probe(); return 1; }, 0: 'test-secret-1' }); } catch {}
      await tailor.secretmanager.getSecrets('default', [{ toString: probe }]).catch(() => {});
      JSON.stringify({ toJSON: probe });
      probe();
      return seen;
    }`);
    expect(outcome.ok).toBe(true);
    if (!outcome.ok) return;
    const frames = outcome.result as { file: string | null; fn: string; self: string }[];
    expect(frames.length).toBeGreaterThan(0);
    for (const f of frames) {
      expect(f.fn).toBe('undefined');
      expect(f.file ?? '').not.toMatch(/\/work|node:|\.ts$/);
    }
  });

  it('tailor and its methods cannot be redefined', async () => {
    const { outcome } = await run(rt, `export default async () => {
      const tries = [
        () => { tailor = 1; }, () => { delete globalThis.tailor; }, () => { tailor.secretmanager = {}; },
        () => { tailor.secretmanager.getSecret = () => 'fake'; }, () => { Object.defineProperty(globalThis, 'tailor', { value: 1 }); },
        () => { tailor.secretmanager.getSecret.call = () => 1; },
      ];
      const failed = tries.map((t) => { try { t(); return false; } catch { return true; } });
      return { failed, frozen: Object.isFrozen(tailor) && Object.isFrozen(tailor.secretmanager) && Object.isFrozen(tailor.secretmanager.getSecret), works: await tailor.secretmanager.getSecret('default', 'test-secret-1') !== undefined };
    }`);
    expect(outcome).toMatchObject({ ok: true, result: { failed: [true, true, true, true, true, true], frozen: true, works: true } });
  });

  it('monkey-patched built-ins do not break the bridge or the result', async () => {
    const { outcome } = await run(rt, `export default async () => {
      JSON.stringify = () => '"hijacked"'; JSON.parse = () => 'hijacked';
      Array.prototype.push = () => { throw new Error('no push'); };
      Object.defineProperty(Object.prototype, 'test-secret-1', { set() { throw new Error('setter'); }, configurable: true });
      String.prototype.slice = () => 'sliced'; Map.prototype.get = () => 'x'; Function.prototype.call = () => 'x'; Function.prototype.apply = () => 'x';
      Reflect.apply = () => 'x'; Object.freeze = (o) => o; Object.defineProperty = () => { throw new Error('no'); };
      const secrets = await tailor.secretmanager.getSecrets('default', ['test-secret-1']);
      Promise.prototype.then = function () { throw new Error('then hijacked'); };
      console.log('still logging');
      return { n: Object.keys(secrets).length };
    }`);
    expect(outcome).toMatchObject({ ok: true, result: { n: 1 } });
    expect(outcome.logs[0].message).toBe('still logging');
  });

  it('a Proxy thrown as an error is reported without crashing', async () => {
    const { outcome } = await run(rt, `export default () => { throw new Proxy({}, { get() { throw new Proxy({}, { get() { throw 1; } }); }, getPrototypeOf() { throw 2; } }); }`);
    expect(outcome).toMatchObject({ ok: false, code: 'function_error' });
  });

  it('a Proxy returned as the result is serialised inside the isolate or refused', async () => {
    const a = await run(rt, `export default () => new Proxy({}, { ownKeys() { throw new Error('keys'); } })`);
    expect(a.outcome).toMatchObject({ ok: false, code: 'invalid_result' });
    const b = await run(rt, `export default () => new Proxy({ a: 1 }, {})`);
    expect(b.outcome).toMatchObject({ ok: true, result: { a: 1 } });
  });

  it('Symbol.species and then-able tricks on the result do not escape', async () => {
    const { outcome } = await run(rt, `export default () => {
      class Evil extends Array { static get [Symbol.species]() { return function () { return globalThis; }; } }
      const e = Evil.from([1, 2, 3]);
      let mapped;
      try { mapped = e.map((x) => x).length ?? null; } catch (err) { mapped = err.name; }
      return { mapped, thenable: { then: 1 }, globalIntact: typeof globalThis.tailor.secretmanager.getSecret };
    }`);
    // The species trick stays inside the isolate, a then-able result is plain data, not awaited.
    expect(outcome).toEqual(expect.objectContaining({ ok: true, result: { mapped: null, thenable: { then: 1 }, globalIntact: 'function' } }));
  });

  it('non-serialisable results give invalid_result', async () => {
    for (const code of [
      'export default () => () => 1',
      'export default () => Symbol("s")',
      'export default () => 10n',
      'export default () => { const a = {}; a.self = a; return a; }',
      'export default () => { let o = {}; for (let i = 0; i < 1e6; i++) o = { o }; return o; }',
    ]) {
      const { outcome } = await run(rt, code, { limits: { timeoutMs: 3000, memoryMb: 128 } });
      expect(outcome, code).toMatchObject({ ok: false, code: 'invalid_result' });
    }
  });

  it('a detached promise cannot read a secret after the function returned', async () => {
    const reader = countingReader();
    const { outcome } = await run(rt, `export default async () => {
      (async () => {
        for (let i = 0; i < 50; i++) await null;
        try { await tailor.secretmanager.getSecret('default', 'test-secret-2'); } catch {}
      })();
      return typeof FinalizationRegistry === 'undefined' ? 'returned' : 'FinalizationRegistry exists';
    }`, {}, reader);
    expect(outcome).toMatchObject({ ok: true, result: 'returned' });
    await new Promise((r) => setTimeout(r, 300));
    expect(reader.calls).toHaveLength(0);
  });

  it('a secret read started after the deadline is dropped', async () => {
    const reader = countingReader();
    const { outcome } = await run(rt, `export default async () => {
      const t = Date.now(); while (Date.now() - t < 450) {}
      await tailor.secretmanager.getSecret('default', 'test-secret-2');
    }`, { limits: { timeoutMs: 400, memoryMb: 32 } }, reader);
    expect(outcome).toMatchObject({ ok: false, code: 'timeout' });
    await new Promise((r) => setTimeout(r, 200));
    expect(reader.calls).toHaveLength(0);
  });
});

describe('workers', () => {
  it.runIf(process.platform === 'linux')('every thread of a worker, isolate threads included, runs below the gateway (nice 10 by default, or as configured)', async () => {
    const niceOf = (pid: number) => fs.readdirSync(`/proc/${pid}/task`).map((tid) => {
      try {
        // Field 19 of stat, counted after the command name (which may hold spaces).
        return Number(fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'latin1').split(') ')[1].split(' ')[16]);
      } catch {
        return undefined; // a thread that ended meanwhile
      }
    }).filter((n) => n !== undefined);
    await Promise.all([0, 1, 2, 3].map((n) => run(rt, HELLO, { workspaceId: `ws-nice-${n}` })));
    const own = os.getPriority();
    for (const pid of workerPids(rt)) {
      const nices = niceOf(pid);
      expect(nices.length).toBeGreaterThan(4);
      expect(new Set(nices)).toEqual(new Set([Math.max(own, 10)]));
    }
    const asIs = createRuntime({ workers: 1, workerNice: 0 });
    try {
      await run(asIs, HELLO, { workspaceId: 'ws-nice-0' });
      expect(new Set(niceOf(workerPids(asIs)[0]))).toEqual(new Set([own]));
    } finally {
      await asIs.close();
    }
  });

  it('a worker killed mid-invocation answers worker_crashed; the pool restarts it', async () => {
    const before = rt.stats().restarts;
    const pids = workerPids(rt);
    expect(pids).toHaveLength(2);
    const reqs = [0, 1, 2, 3].map((n) => request('export default () => new Promise(() => {})', { workspaceId: `ws-kill-${n}`, limits: { timeoutMs: 5000, memoryMb: 32 } }));
    const pending = reqs.map((r) => rt.invoke(r, countingReader()));
    await new Promise((r) => setTimeout(r, 300));
    process.kill(pids[0], 'SIGKILL');
    process.kill(pids[1], 'SIGKILL');
    const outcomes = await Promise.all(pending);
    for (const o of outcomes) expect(o).toMatchObject({ ok: false, code: 'worker_crashed' });
    await expectHealthy(rt);
    expect(rt.stats().restarts).toBe(before + 2);
    expect(workerPids(rt)).not.toContain(pids[0]);
  });

  it('a timeout in one workspace does not disturb another workspace', async () => {
    const slow = run(rt, 'export default () => { for (;;) {} }', { workspaceId: 'ws-a', limits: SHORT });
    const fast = await run(rt, 'export default async () => 7', { workspaceId: 'ws-b' });
    expect(fast.outcome).toMatchObject({ ok: true, result: 7 });
    expect((await slow).outcome).toMatchObject({ ok: false, code: 'timeout' });
  });

  it('a worker is recycled after its invocation budget, without failing anything', async () => {
    const small = createRuntime({ workers: 1, recycleAfterInvocations: 5 });
    try {
      const req = request('export default (a) => a + 1', { args: 1 });
      const pids = new Set<number>();
      for (let n = 0; n < 12; n++) {
        expect(await small.invoke({ ...req, invocationId: `r${n}` }, countingReader())).toMatchObject({ ok: true, result: 2 });
        for (const pid of workerPids(small)) pids.add(pid);
      }
      expect(pids.size).toBeGreaterThanOrEqual(3);
      expect(small.stats()).toMatchObject({ workers: 1, restarts: 0 });
    } finally {
      await small.close();
    }
  });

  it('a full queue answers overloaded at once', async () => {
    const maxQueue = 2;
    const small = createRuntime({ workers: 1, maxQueue });
    try {
      // One finished invocation shows the worker is up; before that, everything would be queued.
      await expectHealthy(small);
      const block = request('export default () => new Promise(() => {})', { limits: { timeoutMs: 600, memoryMb: 32 } });
      const outcomes = await Promise.all(Array.from({ length: 14 }, (_, n) => small.invoke({ ...block, invocationId: `b${n}` }, countingReader())));
      const codes = outcomes.map((o) => (o.ok ? 'ok' : o.code));
      // Submitted in one tick: MAX_IN_FLIGHT start on the worker, maxQueue wait, the rest are refused.
      expect(codes.filter((c) => c === 'overloaded')).toHaveLength(14 - MAX_IN_FLIGHT - maxQueue);
      // Each ran in an isolate of its own, so each timed out by itself (none was reset by a neighbour).
      expect(codes.filter((c) => c === 'timeout')).toHaveLength(MAX_IN_FLIGHT + maxQueue);
    } finally {
      await small.close();
    }
  });

  it('close answers pending invocations with worker_crashed and is idempotent', async () => {
    const other = createRuntime({ workers: 1 });
    const p = other.invoke(request('export default () => new Promise(() => {})', { limits: { timeoutMs: 5000, memoryMb: 32 } }), countingReader());
    await new Promise((r) => setTimeout(r, 300));
    await Promise.all([other.close(), other.close()]);
    expect(await p).toMatchObject({ ok: false, code: 'worker_crashed' });
    expect(await other.invoke(request('export default () => 1'), countingReader())).toMatchObject({ ok: false, code: 'worker_crashed' });
  });
});

describe('one invocation per isolate', () => {
  // One worker, so that every invocation of the workspace lands on the same process.
  let single: Runtime;
  beforeAll(async () => { single = createRuntime({ workers: 1 }); await expectHealthy(single, 'ws-one'); });
  afterAll(async () => { await single.close(); });
  const opts = (over: Partial<InvocationRequest> = {}) => ({ workspaceId: 'ws-one', limits: { timeoutMs: 2000, memoryMb: 32 }, ...over });
  const BUSY_400_MS = 'export default () => { const t = Date.now(); while (Date.now() - t < 400) {} return "done"; }';

  it('a looping function does not block another invocation of its workspace', async () => {
    const loop = run(single, 'export default () => { for (;;) {} }', opts({ limits: { timeoutMs: 1500, memoryMb: 32 } }));
    await new Promise((r) => setTimeout(r, 50));
    const { outcome } = await run(single, HELLO, opts());
    expect(outcome).toMatchObject({ ok: true, result: { hello: 'world' } });
    expect(outcome.durationMs).toBeLessThan(1000);
    expect((await loop).outcome).toMatchObject({ ok: false, code: 'timeout' });
  });

  it('a timeout affects only the invocation that caused it', async () => {
    const busy = [0, 1, 2].map(() => run(single, BUSY_400_MS, opts()));
    const loop = await run(single, 'export default () => { for (;;) {} }', opts({ limits: { timeoutMs: 100, memoryMb: 32 } }));
    expect(loop.outcome).toMatchObject({ ok: false, code: 'timeout' });
    for (const b of await Promise.all(busy)) expect(b.outcome).toMatchObject({ ok: true, result: 'done' });
  });

  it('a memory bomb affects only the invocation that caused it', async () => {
    // The normal invocation is suspended in a slow secret read while the bomb goes off.
    const slowReader = countingReader();
    const reader = Object.assign(async (v: string, n: string) => { await new Promise((r) => setTimeout(r, 400)); return slowReader(v, n); }, { calls: slowReader.calls });
    const busy = run(single, 'export default async () => (await tailor.secretmanager.getSecret("default", "test-secret-1")).length', opts(), reader);
    await new Promise((r) => setTimeout(r, 50));
    const bomb = await run(single, 'export default () => { const a = []; for (;;) a.push(new Array(1e5).fill(Math.random())); }', opts());
    expect(bomb.outcome).toMatchObject({ ok: false, code: 'memory_limit' });
    expect((await busy).outcome).toMatchObject({ ok: true, result: 18 });
  });

  it('beyond the isolate cap, an invocation waits for a free isolate instead of sharing one', async () => {
    const capped = createRuntime({ workers: 1, maxIsolatesPerWorker: 1 });
    try {
      await expectHealthy(capped, 'ws-x');
      const busy = run(capped, BUSY_400_MS, opts({ workspaceId: 'ws-x' }));
      const late = run(capped, HELLO, opts({ workspaceId: 'ws-z', limits: { timeoutMs: 100, memoryMb: 32 } }));
      const waits = await run(capped, HELLO, opts({ workspaceId: 'ws-y' }));
      expect(waits.outcome).toMatchObject({ ok: true, result: { hello: 'world' } });
      expect(waits.outcome.durationMs).toBeGreaterThan(250);
      expect((await busy).outcome).toMatchObject({ ok: true, result: 'done' });
      expect((await late).outcome).toMatchObject({ ok: false, code: 'timeout' });
    } finally {
      await capped.close();
    }
  });

  it('concurrent invocations of one workspace each get a fresh global', async () => {
    const code = 'export default async () => { const seen = globalThis.mine ?? null; globalThis.mine = 1; for (let i = 0; i < 100; i++) await null; return seen; }';
    const outcomes = await Promise.all([0, 1, 2, 3, 4, 5].map(() => run(single, code, opts())));
    for (const { outcome } of outcomes) expect(outcome).toMatchObject({ ok: true, result: null });
  });
});
