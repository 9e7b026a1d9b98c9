// Deploying, versioning, rolling back, deleting and invoking functions through the real server.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { sql } from 'drizzle-orm';
import { startFunctionWorld, deployed, expectInvokeError, type FunctionWorld } from './functions-fixture.ts';
import { selectRows } from '../support/assertions.ts';

const HELLO = 'export default async (args) => ({ hello: args?.name ?? "world" });';

describe('functions: deploy, versions, rollback, delete', () => {
  let w: FunctionWorld;
  beforeAll(async () => { w = await startFunctionWorld(); });
  afterAll(async () => { await w?.close(); });
  const path = (name: string, rest = '') => `/v1/workspaces/${w.ws}/functions/${name}${rest}`;

  it('the first deploy answers 201 with version 1; the next one 200 with version 2, and it becomes active', async () => {
    const first = await w.deploy('greet', HELLO, { description: 'says hello' }, w.users.editor.key);
    expect(first.status, first.text).toBe(201);
    expect(first.body).toMatchObject({ name: 'greet', activeVersion: 1, latestVersion: 1, active: { version: 1, timeoutMs: 10000, memoryMb: 128, exposeSecrets: false, description: 'says hello', deployedBy: w.users.editor.id } });
    expect(first.body.active.codeHash).toMatch(/^[0-9a-f]{64}$/);

    const second = await w.deploy('greet', 'export default async () => "v2";', { timeoutMs: 2000, memoryMb: 64 }, w.users.editor.key);
    expect(second.status, second.text).toBe(200);
    expect(second.body).toMatchObject({ activeVersion: 2, latestVersion: 2, active: { version: 2, timeoutMs: 2000, memoryMb: 64 } });
    expect((await w.invoke('greet')).body).toMatchObject({ result: 'v2', version: 2 });
  });

  it('lists functions and versions, and shows one version with its code', async () => {
    const list = await w.s.request('GET', `/v1/workspaces/${w.ws}/functions`, { key: w.users.viewer.key });
    expect(list.body.functions.map((f: { name: string }) => f.name)).toContain('greet');
    const versions = await w.s.request('GET', path('greet', '/versions'), { key: w.users.viewer.key });
    expect(versions.body.versions.map((v: { version: number; active: boolean }) => [v.version, v.active])).toEqual([[2, true], [1, false]]);
    expect(versions.text).not.toContain('export default');
    const one = await w.s.request('GET', path('greet', '/versions/1'), { key: w.users.viewer.key });
    expect(one.body).toMatchObject({ version: 1, active: false, code: HELLO });
    const shown = await w.s.request('GET', path('greet'), { key: w.users.viewer.key });
    expect(shown.body).toMatchObject({ name: 'greet', activeVersion: 2, active: { version: 2 } });
    expect(shown.body.code).toBeUndefined();
    expect((await w.s.request('GET', path('greet', '/versions/9'))).status).toBe(404);
  });

  it('activating an earlier version rolls back: the next invocation runs it', async () => {
    const rolled = await w.s.request('POST', path('greet', '/versions/1/activate'), { key: w.users.editor.key });
    expect(rolled.status, rolled.text).toBe(200);
    expect(rolled.body).toMatchObject({ activeVersion: 1, latestVersion: 2 });
    expect((await w.invoke('greet', { name: 'ada' })).body).toMatchObject({ result: { hello: 'ada' }, version: 1 });
    expect((await w.s.request('POST', path('greet', '/versions/7/activate'))).status).toBe(404);
    // A new deploy after a rollback takes the next number and becomes active.
    expect((await deployed(w, 'greet', 'export default () => 3')).activeVersion).toBe(3);
  });

  it('writes an audit row for deploy and activate, with the version and hash but not the code', async () => {
    const rows = await selectRows<{ action: string; workspace: string; function: string; detail: any }>(w.s.database.db,
      sql`select action, workspace, function, detail from audit_events where function = 'greet' and action like 'function.%' order by seq`);
    expect(rows.map((r) => r.action)).toEqual(['function.deploy', 'function.deploy', 'function.activate', 'function.deploy']);
    expect(rows[0]).toMatchObject({ workspace: w.ws, detail: { functionVersion: 1, timeoutMs: 10000, memoryMb: 128 } });
    expect(JSON.stringify(rows)).not.toContain('export default');
  });

  it('deleting a function removes it with its versions', async () => {
    await deployed(w, 'doomed', HELLO);
    expect((await w.s.request('DELETE', path('doomed'), { key: w.users.invoker.key })).status).toBe(403);
    expect((await w.s.request('DELETE', path('doomed'), { key: w.users.editor.key })).status).toBe(204);
    expect((await w.s.request('GET', path('doomed'))).status).toBe(404);
    expect((await w.invoke('doomed')).status).toBe(404);
    expect((await w.s.request('DELETE', path('doomed'))).status).toBe(404);
  });

  it('refuses limits out of range and code over 256 KiB', async () => {
    for (const extra of [{ timeoutMs: 60_001 }, { timeoutMs: 0 }, { memoryMb: 513 }, { memoryMb: 4 }, { timeoutMs: 1.5 }]) {
      const r = await w.deploy('limits', HELLO, extra);
      expect(r.status, JSON.stringify(extra)).toBe(400);
      expect(r.body.error.code).toBe('validation_failed');
    }
    expect((await w.deploy('limits', HELLO, { timeoutMs: 60_000, memoryMb: 512 })).status).toBe(201);
    const huge = `export default () => 1;\n//${'x'.repeat(256 * 1024)}`;
    const tooBig = await w.deploy('huge', huge);
    expect(tooBig.status, tooBig.text).toBe(413);
    expect(tooBig.body.error.code).toBe('payload_too_large');
  });
});

describe('functions: compile errors', () => {
  let w: FunctionWorld;
  beforeAll(async () => { w = await startFunctionWorld(); });
  afterAll(async () => { await w?.close(); });

  const cases: [string, string, number, number, RegExp][] = [
    ['a syntax error', 'export default async () => {\n  const x = ;\n};', 2, 13, /SyntaxError/],
    ['an import', '// deps\nimport fs from "node:fs";\nexport default () => fs;', 2, 1, /import is not supported/],
    ['a dynamic import', 'export default async () => {\n  return await import("node:fs");\n};', 2, 16, /dynamic import/],
    ['no default export', 'export const x = 1;', 1, 1, /default export/],
    ['a default export that is not callable', '\n\nexport default { a: 1 };', 3, 1, /must be a function/],
    ['a top level that throws', 'const a = 1;\nthrow new Error("top");\nexport default () => a;', 2, 7, /top level failed.*top/],
  ];
  for (const [what, code, line, column, message] of cases) {
    it(`${what} is a 400 compile_error with line ${line} and column ${column}`, async () => {
      const r = await w.deploy('broken', code);
      expect(r.status, r.text).toBe(400);
      expect(r.body.error.code).toBe('compile_error');
      expect(r.body.error.details).toMatchObject({ line, column });
      expect(r.body.error.message).toMatch(message);
      expect(r.body.error.message).toContain(`line ${line}, column ${column}`);
    });
  }

  it('a failed deploy creates no version', async () => {
    expect((await w.s.request('GET', `/v1/workspaces/${w.ws}/functions/broken`)).status).toBe(404);
  });
});

describe('functions: roles', () => {
  let w: FunctionWorld;
  beforeAll(async () => {
    w = await startFunctionWorld();
    await deployed(w, 'hello', HELLO);
  });
  afterAll(async () => { await w?.close(); });

  it('an invoker can invoke but not deploy or roll back', async () => {
    expect((await w.invoke('hello', { name: 'i' }, w.users.invoker.key)).body).toMatchObject({ result: { hello: 'i' } });
    expect((await w.deploy('hello', HELLO, {}, w.users.invoker.key)).status).toBe(403);
    expect((await w.s.request('POST', `/v1/workspaces/${w.ws}/functions/hello/versions/1/activate`, { key: w.users.invoker.key })).status).toBe(403);
  });

  it('a viewer can see functions and invocations but not invoke', async () => {
    const r = await w.invoke('hello', {}, w.users.viewer.key);
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe('forbidden');
    expect((await w.s.request('GET', `/v1/workspaces/${w.ws}/functions/hello`, { key: w.users.viewer.key })).status).toBe(200);
    expect((await w.s.request('GET', `/v1/workspaces/${w.ws}/functions/hello/invocations`, { key: w.users.viewer.key })).status).toBe(200);
  });

  it('a non-member gets 404 for everything, as if the workspace did not exist', async () => {
    const key = w.users.outsider.key;
    for (const r of [
      await w.invoke('hello', {}, key),
      await w.deploy('hello', HELLO, {}, key),
      await w.s.request('GET', `/v1/workspaces/${w.ws}/functions`, { key }),
      await w.s.request('GET', `/v1/workspaces/${w.ws}/functions/hello/invocations`, { key }),
    ]) {
      expect(r.status, r.text).toBe(404);
      expect(r.body.error.code).toBe('not_found');
    }
  });

  it('an unknown function is 404 and a bad name is 400', async () => {
    expect((await w.invoke('nope')).status).toBe(404);
    expect((await w.invoke('No_Such/../x')).status).toBe(404);
    expect((await w.s.request('PUT', `/v1/workspaces/${w.ws}/functions/Bad.Name`, { body: { code: HELLO } })).status).toBe(400);
  });
});

describe('functions: invoking, failures and invocation records', () => {
  let w: FunctionWorld;
  beforeAll(async () => { w = await startFunctionWorld(); });
  afterAll(async () => { await w?.close(); });

  it('answers {result, logs, durationMs, cpuMs, invocationId, version}; args are optional', async () => {
    await deployed(w, 'echo', 'export default async (args) => { console.info("got", args); return { args }; };');
    const r = await w.invoke('echo', { a: [1, 'two', null] });
    expect(r.status, r.text).toBe(200);
    expect(r.body).toMatchObject({ result: { args: { a: [1, 'two', null] } }, version: 1, invocationId: expect.stringMatching(/^inv_/) });
    expect(r.body.logs).toEqual([{ level: 'info', message: 'got {"a":[1,"two",null]}', at: expect.any(String) }]);
    expect(r.body.durationMs).toBeGreaterThan(0);
    expect(typeof r.body.cpuMs).toBe('number');
    const bare = await w.s.request('POST', `/v1/workspaces/${w.ws}/functions/echo/invoke`);
    expect(bare.body.result).toEqual({}); // missing args reach the function as undefined, which JSON leaves out
  });

  it('function_error: 422 with the message and a stack of sandbox frames only', async () => {
    await deployed(w, 'thrower', 'function inner() {\n  throw new TypeError("bad input");\n}\nexport default async () => { console.log("before"); inner(); };');
    const d = expectInvokeError(await w.invoke('thrower'), 422, 'function_error');
    expect(d.stack).toMatch(/TypeError: bad input\n\s+at inner \(function\.js:2:9\)/);
    expect(d.stack).not.toMatch(/\/work\/|node_modules|coffer-bootstrap|\.ts:/);
    expect(d.logs.map((l) => l.message)).toEqual(['before']);
  });

  it('timeout: 504 after the function\'s own timeoutMs', async () => {
    await deployed(w, 'spin', 'export default () => { for (;;) {} };', { timeoutMs: 300, memoryMb: 32 });
    const started = Date.now();
    const d = expectInvokeError(await w.invoke('spin'), 504, 'timeout');
    expect(Date.now() - started).toBeLessThan(3000);
    expect(d.durationMs).toBeGreaterThanOrEqual(290);
  });

  it('memory_limit: 422 when the function outgrows memoryMb', async () => {
    await deployed(w, 'bomb', 'export default () => { const a = []; for (;;) a.push(new Array(100000).fill("x" + a.length)); };', { memoryMb: 16, timeoutMs: 5000 });
    expectInvokeError(await w.invoke('bomb'), 422, 'memory_limit');
  });

  it('result_too_large: 422 for a result over 1 MiB', async () => {
    await deployed(w, 'big', 'export default () => "x".repeat(2 * 1024 * 1024);');
    expectInvokeError(await w.invoke('big'), 422, 'result_too_large');
  });

  it('invalid_result: 422 for a result with no JSON form', async () => {
    await deployed(w, 'cyclic', 'export default () => { const a = {}; a.a = a; return a; };');
    expectInvokeError(await w.invoke('cyclic'), 422, 'invalid_result');
  });

  it('the server keeps serving /healthz and other functions while one function loops', async () => {
    const other = `${w.ws}-b`;
    expect((await w.s.request('POST', '/v1/workspaces', { body: { name: other } })).status).toBe(201);
    expect((await w.s.request('PUT', `/v1/workspaces/${other}/functions/quick`, { body: { code: HELLO } })).status).toBe(201);
    await deployed(w, 'forever', 'export default async () => { while (true) {} };', { timeoutMs: 1500 });
    const looping = w.invoke('forever');
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    expect((await w.s.request('GET', '/healthz', { key: null })).status).toBe(200);
    for (let i = 0; i < 3; i++) {
      expect((await w.invoke('quick', { name: `n${i}` }, undefined, other)).body).toMatchObject({ result: { hello: `n${i}` } });
    }
    expect(Date.now() - t0).toBeLessThan(1000);
    expectInvokeError(await looping, 504, 'timeout');
  });

  it('records invocations, newest first, with outcome, error code and redacted logs', async () => {
    const list = await w.s.request('GET', `/v1/workspaces/${w.ws}/functions/thrower/invocations?limit=5`, { key: w.users.viewer.key });
    expect(list.status).toBe(200);
    expect(list.body.invocations[0]).toMatchObject({ version: 1, outcome: 'error', errorCode: 'function_error', errorMessage: 'bad input', trigger: 'api' });
    expect(list.body.invocations[0].logs.map((l: { message: string }) => l.message)).toEqual(['before']);

    const ok = await w.invoke('echo', { n: 1 });
    const ok2 = await w.invoke('echo', { n: 2 });
    const recent = await w.s.request('GET', `/v1/workspaces/${w.ws}/functions/echo/invocations?limit=2`);
    expect(recent.body.invocations.map((i: { id: string }) => i.id)).toEqual([ok2.body.invocationId, ok.body.invocationId]);
    const one = await w.s.request('GET', `/v1/workspaces/${w.ws}/functions/echo/invocations/${ok.body.invocationId}`);
    expect(one.body).toMatchObject({ id: ok.body.invocationId, outcome: 'ok', errorCode: null, version: 1 });
    expect((await w.s.request('GET', `/v1/workspaces/${w.ws}/functions/thrower/invocations/${ok.body.invocationId}`)).status).toBe(404);

    const timeouts = await w.s.request('GET', `/v1/workspaces/${w.ws}/functions/spin/invocations`);
    expect(timeouts.body.invocations[0]).toMatchObject({ outcome: 'error', errorCode: 'timeout' });
  });

  it('prunes invocation records older than the retention period', async () => {
    await w.s.database.db.execute(sql`update invocations set started_at = now() - interval '25 hours' where function_id in (select id from functions where name = 'cyclic')`);
    await w.s.running.services.functions.prune();
    const left = await w.s.request('GET', `/v1/workspaces/${w.ws}/functions/cyclic/invocations`);
    expect(left.body.invocations).toEqual([]);
    expect((await w.s.request('GET', `/v1/workspaces/${w.ws}/functions/echo/invocations`)).body.invocations.length).toBeGreaterThan(0);
  });
});

describe('functions: overload', () => {
  let w: FunctionWorld;
  beforeAll(async () => { w = await startFunctionWorld({ env: { COFFER_WORKERS: '1', COFFER_MAX_QUEUE: '1' } }); });
  afterAll(async () => { await w?.close(); });

  it('a full queue answers 429 overloaded with Retry-After', async () => {
    await deployed(w, 'wait', 'export default () => new Promise(() => {});', { timeoutMs: 400, memoryMb: 16 });
    // 8 run at once on the one worker, 1 waits in the queue: the rest are refused at once.
    const replies = await Promise.all(Array.from({ length: 12 }, () => w.invoke('wait')));
    const refused = replies.filter((r) => r.status === 429);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    const d = expectInvokeError(refused[0], 429, 'overloaded');
    expect(d.invocationId).toMatch(/^inv_/);
    expect(refused[0].headers.get('retry-after')).toBe('1');
    // The others ran and timed out; a timeout ends only its own invocation, never a neighbour's.
    expect(refused).toHaveLength(12 - 9);
    const ran = replies.filter((r) => r.status !== 429);
    for (const r of ran) expectInvokeError(r, 504, 'timeout');
  });
});
