// Executors as a resource, token and bearer webhooks, sync and async modes, response "http",
// idempotency keys, body limits, retries, cancel and manual retry: over real HTTP, on the driver
// the run selects (PGlite, or PostgreSQL with DATABASE_URL).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { accessChanged } from '../../db/access-cache.ts';
import { startExecutorWorld, ok, type ExecutorWorld } from './fixture.ts';

let w: ExecutorWorld;
const SECRET_VALUE = 'sk_live_executor_secret_0123456789';
const ECHO = `export default async (a) => ({
  trigger: a.trigger, executor: a.executor, jobId: a.jobId, attempt: a.attempt,
  method: a.method, path: a.path, query: a.query, headers: a.headers, body: a.body, rawBody: a.rawBody,
})`;
const FLAKY = `export default async (a) => {
  if (a.attempt < 3) throw new Error('not yet, attempt ' + a.attempt);
  return { finallyAt: a.attempt };
}`;
const LEAKY = `export default async () => {
  const v = await tailor.secretmanager.getSecret('default', 'api-token');
  throw new Error('upstream refused token ' + v);
}`;
const SLOW = 'export default async () => { const end = Date.now() + 5000; while (Date.now() < end) {} return 1; }';

const target = (fn: string, extra = {}) => ({ kind: 'function', function: fn, ...extra });

beforeAll(async () => {
  w = await startExecutorWorld({ env: { COFFER_WEBHOOK_ROTATION_GRACE_HOURS: '1' } });
  await w.grant();
  ok(await w.putSecret('api-token', SECRET_VALUE), 201);
  for (const [name, code] of Object.entries({ echo: ECHO, flaky: FLAKY, leaky: LEAKY, slow: SLOW })) {
    expect([200, 201]).toContain((await w.deploy(name, code, name === 'slow' ? { timeoutMs: 200 } : {})).status);
  }
  ok(await w.deploy('fails', 'export default async () => { throw new Error("internal detail: db password is hunter2") }'), 201);
  ok(await w.deploy('shape', `export default async (a) => a.body?.type === 'url_verification'
    ? { status: 200, headers: { 'content-type': 'text/plain', 'x-coffer-example': 'yes' }, body: a.body.challenge }
    : { status: 201, body: { created: true } }`), 201);
});
afterAll(async () => { await w?.close(); });

describe('the executor resource', () => {
  it('is created by an editor, shown to a viewer, refused to a viewer writing, and audited', async () => {
    const created = ok(await w.putExecutor('res-a', { description: 'd', trigger: { kind: 'webhook' }, target: target('echo') }, w.users.editor.key), 201);
    expect(created.body).toMatchObject({ name: 'res-a', disabled: false, trigger: { kind: 'webhook', auth: { mode: 'token' }, mode: 'async', methods: ['POST'] }, retry: { maxAttempts: 5 } });
    expect(created.body.webhookUrlPath).toBe(`/hooks/${w.ws}/res-a/${created.body.token}`);
    const shown = ok(await w.s.request('GET', `/v1/workspaces/${w.ws}/executors/res-a`, { key: w.users.viewer.key }), 200);
    expect(shown.body.token).toBeUndefined();
    expect(shown.text).not.toContain(created.body.token);
    const replaced = ok(await w.putExecutor('res-a', { trigger: { kind: 'webhook' }, target: target('echo') }), 200);
    expect(replaced.body.token).toBeUndefined();
    ok(await w.putExecutor('res-b', { trigger: { kind: 'webhook' }, target: target('echo') }, w.users.viewer.key), 403);
    ok(await w.putExecutor('res-b', { trigger: { kind: 'webhook' }, target: target('echo') }, w.users.outsider.key), 404);
    const list = ok(await w.s.request('GET', `/v1/workspaces/${w.ws}/executors`, { key: w.users.viewer.key }), 200);
    expect(list.body.executors.map((e: any) => e.name)).toContain('res-a');
    ok(await w.s.request('DELETE', `/v1/workspaces/${w.ws}/executors/res-a`, { key: w.users.editor.key }), 204);
    ok(await w.s.request('GET', `/v1/workspaces/${w.ws}/executors/res-a`), 404);
    const audit = ok(await w.s.request('GET', '/v1/audit?limit=200'), 200);
    const actions = audit.body.events.map((e: any) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['executor.put', 'executor.delete']));
    expect(audit.text).not.toContain(created.body.token);
  });

  it('rejects bad definitions with clear 400s', async () => {
    const bad = [
      { trigger: { kind: 'schedule', cron: '* * * * * *' }, target: target('echo') },
      { trigger: { kind: 'schedule', cron: 'every day' }, target: target('echo') },
      { trigger: { kind: 'schedule', cron: '0 2 * * *', timezone: 'Mars/Olympus' }, target: target('echo') },
      { trigger: { kind: 'webhook', auth: { mode: 'hmac', scheme: 'paypal', secret: { vault: 'default', name: 'k' } } }, target: target('echo') },
      { trigger: { kind: 'webhook', maxBodyBytes: 11 * 1024 * 1024 }, target: target('echo') },
      { trigger: { kind: 'webhook' }, target: target('echo'), retry: { maxAttempts: 11 } },
      { trigger: { kind: 'webhook' }, target: target('nope') },
      { trigger: { kind: 'email' }, target: target('echo') },
    ];
    for (const body of bad) {
      const r = await w.putExecutor('bad', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(['validation_failed', 'invalid_request']).toContain(r.body.error.code);
    }
    expect((await w.putExecutor('Bad Name', { trigger: { kind: 'webhook' }, target: target('echo') })).status).toBe(400);
  });
});

describe('the executor API in /openapi.json', () => {
  it('lists the executor, job and hook routes', async () => {
    const doc = ok(await w.s.request('GET', '/openapi.json', { key: null }), 200).body;
    const routes = [
      ['get', '/v1/workspaces/{ws}/executors'], ['put', '/v1/workspaces/{ws}/executors/{name}'], ['get', '/v1/workspaces/{ws}/executors/{name}'],
      ['delete', '/v1/workspaces/{ws}/executors/{name}'], ['post', '/v1/workspaces/{ws}/executors/{name}/rotate-token'],
      ['post', '/v1/workspaces/{ws}/executors/{name}/trigger'], ['get', '/v1/workspaces/{ws}/executors/{name}/jobs'],
      ['get', '/v1/workspaces/{ws}/jobs/{id}'], ['post', '/v1/workspaces/{ws}/jobs/{id}/retry'], ['post', '/v1/workspaces/{ws}/jobs/{id}/cancel'],
      ['post', '/hooks/{ws}/{executor}'], ['post', '/hooks/{ws}/{executor}/{token}'],
    ];
    for (const [method, path] of routes) expect(doc.paths[path]?.[method], `${method} ${path}`).toBeDefined();
    expect(doc.paths['/hooks/{ws}/{executor}'].post.responses).toHaveProperty('413');
  });

  it('stores hostile text in a description without failing the request', async () => {
    const r = ok(await w.putExecutor('hostile', { description: 'a\u0000b\ud800c', trigger: { kind: 'webhook' }, target: target('echo') }), 201);
    expect(r.body.description).toBe('a\ufffdb\ufffdc');
  });
});

describe('token webhooks', () => {
  let path: string;
  beforeAll(async () => {
    path = ok(await w.putExecutor('tok', { trigger: { kind: 'webhook', mode: 'sync' }, target: target('echo') }), 201).body.webhookUrlPath;
  });

  it('gives the function the request, without credentials, signatures or the token', async () => {
    const r = ok(await w.hook(`${path}?x=1&y=two`, {
      body: '{"hello":"world"}', headers: { authorization: 'Bearer nope', cookie: 'a=b', 'x-hub-signature-256': 'sha256=00', 'X-Custom': 'Kept' },
    }), 200);
    expect(r.body).toMatchObject({
      trigger: 'webhook', executor: 'tok', attempt: 1, method: 'POST', path: `/hooks/${w.ws}/tok`,
      query: { x: '1', y: 'two' }, body: { hello: 'world' }, rawBody: '{"hello":"world"}',
    });
    expect(r.body.jobId).toMatch(/^job_/);
    expect(r.body.headers['x-custom']).toBe('Kept');
    for (const h of ['authorization', 'cookie', 'x-hub-signature-256']) expect(r.body.headers[h]).toBeUndefined();
    expect(JSON.stringify(r.body)).not.toContain(path.split('/').pop());
    // The path token is a credential: the request log shows where it went, not the token.
    expect(w.s.logs.join('\n')).not.toContain(path.split('/').pop());
    expect(w.s.logs.some((l) => l.includes(`/hooks/${w.ws}/tok/[token]`))).toBe(true);
  });

  it('parses form bodies and leaves other bodies as rawBody', async () => {
    const form = ok(await w.hook(path, { body: 'a=1&b=x%20y', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 200);
    expect(form.body.body).toEqual({ a: '1', b: 'x y' });
    const text = ok(await w.hook(path, { body: 'plain', headers: { 'content-type': 'text/plain' } }), 200);
    expect(text.body).toMatchObject({ body: null, rawBody: 'plain' });
  });

  it('answers the same 404 for an unknown executor, a disabled one and a wrong token', async () => {
    const put = ok(await w.putExecutor('tok-off', { trigger: { kind: 'webhook' }, target: target('echo') }), 201);
    ok(await w.putExecutor('tok-off', { disabled: true, trigger: { kind: 'webhook' }, target: target('echo') }), 200);
    const replies = [
      await w.hook(`/hooks/${w.ws}/no-such/whk_x`),
      await w.hook(`/hooks/no-such-ws/tok/whk_x`),
      await w.hook(put.body.webhookUrlPath),
      await w.hook(`/hooks/${w.ws}/tok/whk_wrong`),
      await w.hook(`/hooks/${w.ws}/tok`),
    ];
    for (const r of replies) {
      expect(r.status).toBe(404);
      expect({ ...r.body.error, requestId: null }).toEqual({ code: 'not_found', message: 'no such webhook', requestId: null });
    }
  });

  it('rotates the token: the new one works at once, the old one during the grace period only', async () => {
    const put = ok(await w.putExecutor('tok-rot', { trigger: { kind: 'webhook' }, target: target('echo') }), 201);
    const rotated = ok(await w.s.request('POST', `/v1/workspaces/${w.ws}/executors/tok-rot/rotate-token`), 200);
    expect(new Date(rotated.body.previousTokenValidUntil).getTime()).toBeGreaterThan(Date.now() + 59 * 60_000);
    ok(await w.hook(rotated.body.webhookUrlPath), 202);
    ok(await w.hook(put.body.webhookUrlPath), 202);
    await w.s.database.db.execute(sql`update executors set previous_token_until = now() - interval '1 second' where name = 'tok-rot'`);
    accessChanged(); // a raw update, not a Coffer write: tell the hot-path caches, as a committed write would
    ok(await w.hook(put.body.webhookUrlPath), 404);
    ok(await w.hook(rotated.body.webhookUrlPath), 202);
  });

  it('refuses a method the executor does not accept, and a chain of executors more than 10 deep', async () => {
    const r = await w.hook(path, { method: 'GET' });
    expect(r.status).toBe(405);
    expect(r.headers.get('allow')).toBe('POST');
    const deep = await w.hook(path, { headers: { 'coffer-executor-depth': '10' } });
    expect(deep.status).toBe(508);
    expect(deep.body.error.code).toBe('recursion_limit');
    ok(await w.hook(path, { headers: { 'coffer-executor-depth': '9' } }), 200);
  });
});

describe('bearer webhooks', () => {
  it('need an invoker: none 401, viewer 403, outsider the same 404, invoker and editor accepted', async () => {
    ok(await w.putExecutor('bear', { trigger: { kind: 'webhook', auth: { mode: 'bearer' }, mode: 'sync' }, target: target('echo') }), 201);
    const p = `/hooks/${w.ws}/bear`;
    expect((await w.hook(p)).status).toBe(401);
    expect((await w.hook(p, { key: 'coffer_' + 'x'.repeat(40) })).status).toBe(401);
    expect((await w.hook(p, { key: w.users.viewer.key })).status).toBe(403);
    const outsider = await w.hook(p, { key: w.users.outsider.key });
    expect(outsider.status).toBe(404);
    expect(outsider.body.error.message).toBe('no such webhook');
    const r = ok(await w.hook(p, { key: w.users.invoker.key, body: '{"n":1}' }), 200);
    expect(r.body.headers.authorization).toBeUndefined();
    ok(await w.hook(p, { key: w.users.editor.key }), 200);
    expect((await w.hook(`${p}/whk_token`, { key: w.users.invoker.key })).status).toBe(404);
  });
});

describe('sync mode', () => {
  it('shapes the response with response "http" (Slack URL verification)', async () => {
    const path = ok(await w.putExecutor('shape', { trigger: { kind: 'webhook', mode: 'sync', response: 'http' }, target: target('shape') }), 201).body.webhookUrlPath;
    const challenge = ok(await w.hook(path, { body: JSON.stringify({ type: 'url_verification', challenge: 'abc123' }) }), 200);
    expect(challenge.text).toBe('abc123');
    expect(challenge.headers.get('content-type')).toBe('text/plain');
    expect(challenge.headers.get('x-coffer-example')).toBe('yes');
    const created = ok(await w.hook(path, { body: '{}' }), 201);
    expect(created.body).toEqual({ created: true });
  });

  it('answers a function failure with 502 and nothing but a code and the request id, a timeout with 504', async () => {
    const failPath = ok(await w.putExecutor('sync-fail', { trigger: { kind: 'webhook', mode: 'sync' }, target: target('fails') }), 201).body.webhookUrlPath;
    const r = await w.hook(failPath, { body: '{}' });
    expect(r.status).toBe(502);
    expect(r.body).toEqual({ error: { code: 'function_error', requestId: r.headers.get('x-request-id') } });
    expect(r.text).not.toMatch(/hunter2|internal detail|stack/);
    const slowPath = ok(await w.putExecutor('sync-slow', { trigger: { kind: 'webhook', mode: 'sync' }, target: target('slow') }), 201).body.webhookUrlPath;
    const t = await w.hook(slowPath, { body: '{}' });
    expect(t.status).toBe(504);
    expect(t.body).toEqual({ error: { code: 'timeout', requestId: t.headers.get('x-request-id') } });
  });
});

describe('async mode and jobs', () => {
  it('answers 202 with a job that runs and is listed with its attempts', async () => {
    const path = ok(await w.putExecutor('async-echo', { trigger: { kind: 'webhook' }, target: target('echo') }), 201).body.webhookUrlPath;
    const r = ok(await w.hook(path, { body: '{"marker":"body-marker-7731"}' }), 202);
    const job = await w.waitForJob(r.body.jobId);
    expect(job).toMatchObject({ status: 'succeeded', executor: 'async-echo', trigger: 'webhook', attemptCount: 1, requestKept: false });
    expect(job.attempts).toEqual([expect.objectContaining({ attempt: 1, outcome: 'succeeded', invocationId: expect.stringMatching(/^inv_/) })]);
    const listed = ok(await w.s.request('GET', `/v1/workspaces/${w.ws}/executors/async-echo/jobs?status=succeeded`), 200);
    expect(listed.body.jobs.map((j: any) => j.id)).toContain(r.body.jobId);
    // The invocation record shows the executor ran it.
    const inv = ok(await w.s.request('GET', `/v1/workspaces/${w.ws}/functions/echo/invocations/${job.attempts[0].invocationId}`), 200);
    expect(inv.body.trigger).toBe('webhook');
    // Nothing of the body stays in the database once the job is done.
    const rows = await w.s.database.db.execute(sql`select * from jobs where id = ${r.body.jobId}`);
    expect(JSON.stringify(rows)).not.toContain('body-marker-7731');
  });

  it('pages through jobs with a cursor', async () => {
    const path = ok(await w.putExecutor('pages', { trigger: { kind: 'webhook' }, target: target('echo') }), 201).body.webhookUrlPath;
    const ids = new Set<string>();
    for (let i = 0; i < 5; i++) ids.add(ok(await w.hook(path, { body: '{}' }), 202).body.jobId);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const q: string = cursor ? `&cursor=${cursor}` : '';
      const page = ok(await w.s.request('GET', `/v1/workspaces/${w.ws}/executors/pages/jobs?limit=2${q}`), 200);
      seen.push(...page.body.jobs.map((j: any) => j.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(new Set(seen)).toEqual(ids);
    expect((await w.s.request('GET', `/v1/workspaces/${w.ws}/executors/pages/jobs?cursor=garbage`)).status).toBe(400);
    expect((await w.s.request('GET', `/v1/workspaces/${w.ws}/executors/pages/jobs?status=lost`)).status).toBe(400);
  });

  it('returns the same job for a repeated Idempotency-Key', async () => {
    const path = ok(await w.putExecutor('idem', { trigger: { kind: 'webhook' }, target: target('echo') }), 201).body.webhookUrlPath;
    const a = ok(await w.hook(path, { body: '{}', headers: { 'idempotency-key': 'evt_1' } }), 202);
    const b = ok(await w.hook(path, { body: '{}', headers: { 'idempotency-key': 'evt_1' } }), 202);
    const c = ok(await w.hook(path, { body: '{}', headers: { 'idempotency-key': 'evt_2' } }), 202);
    expect(b.body.jobId).toBe(a.body.jobId);
    expect(b.headers.get('idempotent-replayed')).toBe('true');
    expect(c.body.jobId).not.toBe(a.body.jobId);
    // After 24 hours the key starts a new job.
    await w.s.database.db.execute(sql`update jobs set created_at = now() - interval '25 hours' where id = ${a.body.jobId}`);
    const d = ok(await w.hook(path, { body: '{}', headers: { 'idempotency-key': 'evt_1' } }), 202);
    expect(d.body.jobId).not.toBe(a.body.jobId);
  });

  it('retries with backoff until success', async () => {
    const path = ok(await w.putExecutor('flaky', {
      trigger: { kind: 'webhook' }, target: target('flaky'), retry: { maxAttempts: 4, initialBackoffMs: 20, maxBackoffMs: 100 },
    }), 201).body.webhookUrlPath;
    const job = await w.waitForJob(ok(await w.hook(path, { body: '{}' }), 202).body.jobId);
    expect(job.status).toBe('succeeded');
    expect(job.attempts.map((a: any) => a.outcome)).toEqual(['failed', 'failed', 'succeeded']);
    expect(job.attempts[0]).toMatchObject({ errorCode: 'function_error', errorMessage: expect.stringContaining('not yet, attempt 1') });
  });

  it('retries until exhaustion, keeping redacted errors and no secret value anywhere in the job', async () => {
    const path = ok(await w.putExecutor('leaky', {
      trigger: { kind: 'webhook' }, target: target('leaky'), retry: { maxAttempts: 3, initialBackoffMs: 10, maxBackoffMs: 50 },
    }), 201).body.webhookUrlPath;
    const jobId = ok(await w.hook(path, { body: '{"marker":"leaky-body-5521"}' }), 202).body.jobId;
    const job = await w.waitForJob(jobId);
    expect(job).toMatchObject({ status: 'failed', attemptCount: 3, lastError: { code: 'function_error' } });
    expect(job.attempts).toHaveLength(3);
    expect(job.attempts[0].errorMessage).toContain('[REDACTED]');
    const dump = JSON.stringify([job, await w.s.database.db.execute(sql`select * from jobs where id = ${jobId}`),
      await w.s.database.db.execute(sql`select * from job_attempts where job_id = ${jobId}`)]);
    expect(dump).not.toContain(SECRET_VALUE);
    expect(dump).not.toContain('leaky-body-5521');
    // The function's reads are audited under the executor and the job.
    const audit = ok(await w.s.request('GET', '/v1/audit?limit=200&action=secret.read'), 200);
    const reads = audit.body.events.filter((e: any) => e.action === 'secret.read' && e.detail?.jobId === jobId);
    expect(reads.length).toBe(3);
    expect(reads[0]).toMatchObject({ function: 'leaky', workspace: w.ws, detail: { executor: 'leaky', jobId } });
  });

  it('cancels a job waiting for its retry, and retries it by hand when the request is kept', async () => {
    const path = ok(await w.putExecutor('cancel-me', {
      trigger: { kind: 'webhook', keepBody: true }, target: target('fails'), retry: { maxAttempts: 2, initialBackoffMs: 3_600_000, maxBackoffMs: 3_600_000 },
    }), 201).body.webhookUrlPath;
    // Full jitter can pick a short delay; an hour's ceiling makes that vanishingly unlikely.
    const jobId = ok(await w.hook(path, { body: '{}' }), 202).body.jobId;
    const waiting = await w.waitForJob(jobId, ['pending'].concat([]), 15_000).then(async function loop(j): Promise<any> {
      return j.attemptCount >= 1 ? j : loop(await w.waitForJob(jobId, ['pending']));
    });
    expect(waiting.lastError.code).toBe('function_error');
    const canceled = ok(await w.s.request('POST', `/v1/workspaces/${w.ws}/jobs/${jobId}/cancel`, { key: w.users.editor.key }), 200);
    expect(canceled.body.status).toBe('canceled');
    expect((await w.s.request('POST', `/v1/workspaces/${w.ws}/jobs/${jobId}/cancel`)).body.error.code).toBe('job_finished');
    ok(await w.s.request('POST', `/v1/workspaces/${w.ws}/jobs/${jobId}/retry`, { key: w.users.viewer.key }), 403);
    ok(await w.putExecutor('cancel-me', {
      trigger: { kind: 'webhook', keepBody: true }, target: target('flaky'), retry: { maxAttempts: 3, initialBackoffMs: 10, maxBackoffMs: 20 },
    }), 200);
    const retried = ok(await w.s.request('POST', `/v1/workspaces/${w.ws}/jobs/${jobId}/retry`, { key: w.users.editor.key }), 200);
    expect(retried.body.status).toBe('pending');
    const done = await w.waitForJob(jobId);
    expect(done.status).toBe('succeeded');
    expect(done.attempts.at(-1)).toMatchObject({ attempt: 3, outcome: 'succeeded' });
  });

  it('refuses a manual retry of a finished webhook job whose request was not kept', async () => {
    const path = ok(await w.putExecutor('no-keep', { trigger: { kind: 'webhook' }, target: target('fails'), retry: { maxAttempts: 1 } }), 201).body.webhookUrlPath;
    const job = await w.waitForJob(ok(await w.hook(path, { body: '{}' }), 202).body.jobId);
    expect(job.status).toBe('failed');
    const r = await w.s.request('POST', `/v1/workspaces/${w.ws}/jobs/${job.id}/retry`);
    expect({ status: r.status, code: r.body.error.code }).toEqual({ status: 409, code: 'request_not_kept' });
  });

  it('fires an executor by hand (editor)', async () => {
    ok(await w.putExecutor('manual', { trigger: { kind: 'webhook', auth: { mode: 'bearer' } }, target: target('echo') }), 201);
    ok(await w.s.request('POST', `/v1/workspaces/${w.ws}/executors/manual/trigger`, { key: w.users.invoker.key, body: {} }), 403);
    const r = ok(await w.s.request('POST', `/v1/workspaces/${w.ws}/executors/manual/trigger`, { key: w.users.editor.key, body: { body: { n: 42 }, headers: { 'X-Test': '1' } } }), 202);
    const job = await w.waitForJob(r.body.jobId);
    expect(job).toMatchObject({ status: 'succeeded', trigger: 'manual' });
  });
});

describe('body limits', () => {
  it('refuses more than 1 MiB by default, and accepts up to the executor\'s own limit beyond the API\'s', async () => {
    const small = ok(await w.putExecutor('lim-default', { trigger: { kind: 'webhook' }, target: target('echo') }), 201).body.webhookUrlPath;
    const big = ok(await w.putExecutor('lim-big', { trigger: { kind: 'webhook', maxBodyBytes: 3 * 1024 * 1024 }, target: target('echo') }), 201).body.webhookUrlPath;
    const mib = 'x'.repeat(1024 * 1024 + 1);
    const r = await w.hook(small, { body: mib, headers: { 'content-type': 'text/plain' } });
    expect({ status: r.status, code: r.body.error.code }).toEqual({ status: 413, code: 'payload_too_large' });
    ok(await w.hook(big, { body: 'y'.repeat(2 * 1024 * 1024), headers: { 'content-type': 'text/plain' } }), 202);
    expect((await w.hook(big, { body: 'z'.repeat(3 * 1024 * 1024 + 1), headers: { 'content-type': 'text/plain' } })).status).toBe(413);
  });

  it('counts a body sent without a length (chunked) as it arrives', async () => {
    const path = ok(await w.putExecutor('lim-chunked', { trigger: { kind: 'webhook', maxBodyBytes: 64 * 1024 }, target: target('echo') }), 201).body.webhookUrlPath;
    const chunked = (chunks: string[]) => fetch(w.s.url + path, {
      method: 'POST', headers: { 'content-type': 'application/json' }, duplex: 'half',
      body: new ReadableStream({ start(c) { for (const chunk of chunks) c.enqueue(new TextEncoder().encode(chunk)); c.close(); } }),
    } as RequestInit);
    const within = await chunked(['{"n":', '42}']);
    expect(within.status).toBe(202);
    const job = await w.waitForJob((await within.json()).jobId);
    expect(job).toMatchObject({ status: 'succeeded' });
    const over = await chunked(Array.from({ length: 5 }, () => 'x'.repeat(16 * 1024)));
    expect({ status: over.status, code: (await over.json()).error.code }).toEqual({ status: 413, code: 'payload_too_large' });
  });
});
