// `coffer executor` as a subprocess against one running server: an executor put from a file, read
// back with --json, fired by hand until its job succeeds, a failing job canceled and retried, the
// webhook token rotated (printed once), and a missing executor exiting 5.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestServer, type TestServer } from '../support/server.ts';
import { cliUser } from '../support/cli.ts';

describe('coffer executor', { timeout: 120_000 }, () => {
  let s: TestServer;
  let u: ReturnType<typeof cliUser>;
  let dir: string;
  const file = (name: string, text: string) => { const p = path.join(dir, name); fs.writeFileSync(p, text); return p; };
  const job = async (id: string) => (await u.ok(['executor', 'job', 'acme', id, '--json'])).json;
  async function until(id: string, done: (j: any) => boolean) {
    for (;;) {
      const j = await job(id);
      if (done(j)) return j;
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  beforeAll(async () => {
    s = await startTestServer({ env: { COFFER_WORKERS: '1', COFFER_JOB_POLL_MS: '100', COFFER_SCHEDULE_INTERVAL_MS: '0' } });
    u = cliUser();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-cli-exec-'));
    await u.ok(['login', '--url', s.url], { input: `${s.adminKey}\n` });
    await u.ok(['workspace', 'create', 'acme']);
    await u.ok(['fn', 'deploy', 'acme', 'echo', file('echo.js', 'export default async (args) => ({ got: args.body });\n')]);
    await u.ok(['fn', 'deploy', 'acme', 'boom', file('boom.js', 'export default async () => { throw new Error("boom"); };\n')]);
  }, 120_000);
  afterAll(async () => {
    u?.cleanup();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    await s?.close();
  });

  it('puts a webhook executor from a file; the token is printed once; list and get parse', async () => {
    const spec = file('hook.executor.json', JSON.stringify({ description: 'by hand', trigger: { kind: 'webhook' }, target: { kind: 'function', function: 'echo' } }));
    const put = await u.ok(['executor', 'put', 'acme', 'hook', '--file', spec, '--json']);
    expect(put.json).toMatchObject({ workspace: 'acme', name: 'hook', webhookPath: '/hooks/acme/hook', token: expect.any(String) });
    expect(put.stderr).toMatch(/shown only once/);
    const listed = await u.ok(['executor', 'list', 'acme', '--json']);
    expect(listed.json).toMatchObject({ workspace: 'acme', executors: [{ name: 'hook', target: { kind: 'function', function: 'echo' } }] });
    expect(listed.stdout).not.toContain(put.json.token);
    const got = await u.ok(['executor', 'get', 'acme', 'hook', '--json']);
    expect(got.json).toMatchObject({ workspace: 'acme', name: 'hook', description: 'by hand', trigger: { kind: 'webhook', auth: { mode: 'token' } } });
    expect((await u.ok(['executor', 'get', 'acme', 'hook'])).stdout).toMatch(/target\s+function echo/);
  });

  it('triggers by hand; the job succeeds and shows in jobs and job', async () => {
    const t = await u.ok(['executor', 'trigger', 'acme', 'hook', '--body', '{"n":1}', '--header', 'x-test=yes', '--json']);
    expect(t.json).toMatchObject({ workspace: 'acme', executor: 'hook', jobId: expect.any(String) });
    const j = await until(t.json.jobId, (x) => x.status === 'succeeded' || x.status === 'failed');
    expect(j).toMatchObject({ status: 'succeeded', trigger: 'manual', executor: 'hook', attempts: [{ attempt: 1, outcome: 'succeeded', invocationId: expect.any(String) }] });
    const jobs = await u.ok(['executor', 'jobs', 'acme', 'hook', '--status', 'succeeded', '--limit', '5', '--json']);
    expect(jobs.json).toMatchObject({ workspace: 'acme', executor: 'hook', jobs: [{ id: t.json.jobId, status: 'succeeded' }], nextCursor: null });
    expect((await u.ok(['executor', 'jobs', 'acme', 'hook'])).stdout).toContain(t.json.jobId);
    expect((await u.ok(['executor', 'job', 'acme', t.json.jobId])).stdout).toMatch(/status\s+succeeded/);
  });

  it('cancels a job waiting to retry, then retries it', async () => {
    const spec = file('boom.executor.json', JSON.stringify({
      trigger: { kind: 'webhook', keepBody: true }, target: { kind: 'function', function: 'boom' },
      retry: { maxAttempts: 2, initialBackoffMs: 3_600_000, maxBackoffMs: 3_600_000 },
    }));
    await u.ok(['executor', 'put', 'acme', 'boom', '--file', spec]);
    const { jobId } = (await u.ok(['executor', 'trigger', 'acme', 'boom', '--json'])).json;
    // The first attempt fails; the second waits out a long backoff, so the job is pending.
    const waiting = await until(jobId, (x) => x.attemptCount >= 1 && x.status !== 'running' && x.attempts.every((a: any) => a.outcome !== 'running'));
    expect(waiting).toMatchObject({ status: 'pending', lastError: { code: expect.any(String) } });
    const canceled = await u.ok(['executor', 'cancel', 'acme', jobId, '--json']);
    expect(canceled.json).toMatchObject({ workspace: 'acme', id: jobId, status: 'canceled' });
    const again = await u.run(['executor', 'cancel', 'acme', jobId, '--json']);
    expect(again.code).toBe(6);
    expect(JSON.parse(again.stderr).error.code).toBe('job_finished');
    const retried = await u.ok(['executor', 'retry', 'acme', jobId, '--json']);
    expect(retried.json).toMatchObject({ id: jobId, status: 'pending' });
  });

  it('rotate-token prints the new token once, with a warning', async () => {
    const r = await u.ok(['executor', 'rotate-token', 'acme', 'hook']);
    const token = r.stdout.trim().split('\n').at(-1)!;
    expect(token.length).toBeGreaterThanOrEqual(20);
    expect(r.stdout.split(token).length).toBe(2);
    expect(r.stderr).toMatch(/shown only once/);
    const json = await u.ok(['executor', 'rotate-token', 'acme', 'hook', '--json']);
    expect(json.json).toMatchObject({ workspace: 'acme', executor: 'hook', token: expect.any(String), webhookUrlPath: `/hooks/acme/hook/${json.json.token}` });
    expect((await u.ok(['executor', 'get', 'acme', 'hook'])).stdout).not.toContain(json.json.token);
  });

  it('an unknown executor exits 5; a bad file exits 2; delete removes it', async () => {
    const missing = await u.run(['executor', 'get', 'acme', 'nope', '--json']);
    expect(missing.code).toBe(5);
    expect(JSON.parse(missing.stderr).error.code).toBe('not_found');
    expect((await u.run(['executor', 'trigger', 'acme', 'nope'])).code).toBe(5);
    expect((await u.run(['executor', 'put', 'acme', 'x', '--file', file('bad.json', '{not json')])).code).toBe(2);
    expect((await u.ok(['executor', 'delete', 'acme', 'boom', '--json'])).json).toEqual({ deleted: { workspace: 'acme', executor: 'boom' } });
    expect((await u.run(['executor', 'get', 'acme', 'boom'])).code).toBe(5);
  });
});
