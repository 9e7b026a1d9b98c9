// The job queue in one gateway: the per-workspace cap on running jobs (more wait, none dropped),
// retention of finished jobs, and the per-workspace rate limit of incoming webhooks.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { startExecutorWorld, ok, type ExecutorWorld } from './fixture.ts';

let w: ExecutorWorld;
const RATE = 5;

beforeAll(async () => {
  w = await startExecutorWorld({ env: { COFFER_JOB_RUNNING_CAP: '1', COFFER_JOB_CONCURRENCY: '4', COFFER_WORKERS: '2', COFFER_WEBHOOK_RATE_LIMIT: String(RATE) } });
  ok(await w.deploy('busy', 'export default async () => { const end = Date.now() + 150; while (Date.now() < end) {} return 1; }'), 201);
  ok(await w.deploy('quick', 'export default async () => 1'), 201);
  ok(await w.deploy('long', 'export default async () => { const end = Date.now() + 1500; while (Date.now() < end) {} return 1; }'), 201);
});
afterAll(async () => { await w?.close(); });

describe('the job queue', () => {
  it('runs no more than the workspace cap at once, and runs every job that waited', async () => {
    ok(await w.putExecutor('capped', { trigger: { kind: 'webhook', auth: { mode: 'bearer' } }, target: { kind: 'function', function: 'busy' } }), 201);
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push(ok(await w.s.request('POST', `/v1/workspaces/${w.ws}/executors/capped/trigger`, { body: {} }), 202).body.jobId);
    const jobs = await Promise.all(ids.map((id) => w.waitForJob(id)));
    expect(jobs.map((j) => j.status)).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded']);
    const spans = jobs.map((j) => [Date.parse(j.attempts[0].startedAt), Date.parse(j.attempts[0].endedAt)]).sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < spans.length; i++) expect(spans[i][0]).toBeGreaterThanOrEqual(spans[i - 1][1]);
  });

  it('cancels a running job: the job and its attempt stay canceled when the function returns', async () => {
    ok(await w.putExecutor('long', { trigger: { kind: 'webhook', auth: { mode: 'bearer' } }, target: { kind: 'function', function: 'long' } }), 201);
    const id = ok(await w.s.request('POST', `/v1/workspaces/${w.ws}/executors/long/trigger`, { body: {} }), 202).body.jobId;
    await w.waitForJob(id, ['running']);
    const canceled = ok(await w.s.request('POST', `/v1/workspaces/${w.ws}/jobs/${id}/cancel`), 200);
    expect(canceled.body.status).toBe('canceled');
    // Wait for the function itself to finish (its invocation record appears), then look again.
    for (let i = 0; i < 200; i++) {
      const inv = ok(await w.s.request('GET', `/v1/workspaces/${w.ws}/functions/long/invocations`), 200);
      if (inv.body.invocations.length > 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const job = ok(await w.job(id), 200).body;
    expect(job.status).toBe('canceled');
    expect(job.attempts.map((a: any) => a.outcome)).toEqual(['canceled']);
  });

  it(`keeps finished jobs for the retention period (COFFER_JOB_RETENTION_DAYS), then deletes them`, async () => {
    ok(await w.putExecutor('kept', { trigger: { kind: 'webhook', auth: { mode: 'bearer' } }, target: { kind: 'function', function: 'quick' } }), 201);
    const trigger = async () => ok(await w.s.request('POST', `/v1/workspaces/${w.ws}/executors/kept/trigger`, { body: {} }), 202).body.jobId as string;
    const [old, recent] = [await trigger(), await trigger()];
    await w.waitForJob(old);
    await w.waitForJob(recent);
    await w.s.database.db.execute(sql`update jobs set finished_at = now() - interval '31 days' where id = ${old}`);
    expect(await w.s.running.services.jobQueue.prune()).toBeGreaterThanOrEqual(1);
    ok(await w.job(old), 404);
    ok(await w.job(recent), 200);
  });

  it('answers webhooks over the per-workspace rate with 429, Retry-After and RateLimit-* headers', async () => {
    const path = ok(await w.putExecutor('limited', { trigger: { kind: 'webhook' }, target: { kind: 'function', function: 'quick' } }), 201).body.webhookUrlPath;
    const replies = await Promise.all(Array.from({ length: 20 }, () => w.hook(path, { body: '{}' })));
    const accepted = replies.filter((r) => r.status === 202);
    const limited = replies.filter((r) => r.status === 429);
    expect(accepted.length + limited.length).toBe(20);
    expect(accepted.length).toBeGreaterThanOrEqual(RATE);
    expect(limited.length).toBeGreaterThan(0);
    const r = limited[0];
    expect(r.body.error.code).toBe('rate_limited');
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(r.headers.get('ratelimit-limit')).toBe(String(RATE));
    expect(r.headers.get('ratelimit-remaining')).toBe('0');
    expect(accepted[0].headers.get('ratelimit-policy')).toBe(`${RATE};w=1`);
    // An unknown executor is not counted and shows no budget: it looks like any other 404.
    const unknown = await w.hook(`/hooks/${w.ws}/no-such/whk_x`);
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('ratelimit-limit')).toBeNull();
  });
});
