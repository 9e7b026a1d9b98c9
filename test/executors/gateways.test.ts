// Durable jobs across process deaths and gateways, with gateways as real processes: a job accepted
// with 202 survives SIGKILL of its gateway; a job whose gateway died mid-run is taken over once its
// lease expires; and (PostgreSQL only) two gateways on one database run each job once and fire each
// schedule tick once. On PGlite one process owns the database, so "another gateway" is the same
// gateway started again on the same data directory.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { sql } from 'drizzle-orm';
import { freshDatabase, usingPostgres } from '../support/database.ts';
import { testMasterKey } from '../support/server.ts';
import type { Database } from '../../db/client.ts';
import { startGateway, waitForJob, type Gateway } from './gateway.ts';

const WS = 'ops';
const adminKey = `coffer_${crypto.randomBytes(32).toString('base64url')}`;
let env: Record<string, string>;
let database: (Database & { url?: string }) | undefined;
let dataDir: string | undefined;
let a: Gateway;
let b: Gateway | undefined;
const paths: Record<string, string> = {};

// The first attempt runs long enough to be killed in; any later attempt returns at once.
const SLOW_FIRST = 'export default async (x) => { if (x.attempt === 1) { const end = Date.now() + 4000; while (Date.now() < end) {} } return x.attempt; }';
const QUICK = 'export default async (x) => ({ jobId: x.jobId, attempt: x.attempt })';

async function ok(r: Promise<{ status: number; text: string; body: any }>, ...statuses: number[]) {
  const reply = await r;
  expect(statuses, reply.text).toContain(reply.status);
  return reply.body;
}

beforeAll(async () => {
  env = { COFFER_MASTER_KEY: testMasterKey(), COFFER_JOB_LEASE_SECONDS: '2', COFFER_JOB_POLL_MS: '200', COFFER_SCHEDULE_INTERVAL_MS: '200' };
  if (usingPostgres()) {
    database = await freshDatabase();
    env.DATABASE_URL = database.url!;
  } else {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-gw-'));
    env.COFFER_DATA_DIR = dataDir;
  }
  a = await startGateway(env, adminKey);
  await ok(a.request('POST', '/v1/workspaces', { body: { name: WS } }), 201);
  await ok(a.request('PUT', `/v1/workspaces/${WS}/functions/slow-first`, { body: { code: SLOW_FIRST, timeoutMs: 20_000 } }), 201);
  await ok(a.request('PUT', `/v1/workspaces/${WS}/functions/quick`, { body: { code: QUICK } }), 201);
  for (const [name, fn] of [['slow', 'slow-first'], ['quick', 'quick']]) {
    paths[name] = (await ok(a.request('PUT', `/v1/workspaces/${WS}/executors/${name}`, {
      body: { trigger: { kind: 'webhook' }, target: { kind: 'function', function: fn }, retry: { maxAttempts: 3, initialBackoffMs: 10, maxBackoffMs: 20 } },
    }), 201)).webhookUrlPath;
  }
}, 60_000);

afterAll(async () => {
  await a?.stop();
  await b?.stop();
  await database?.close();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

/** After a kill: on PostgreSQL a second gateway carries on; on PGlite the same one restarts on its data. */
async function survivor(): Promise<Gateway> {
  if (usingPostgres()) return (b = await startGateway(env, adminKey));
  a = await startGateway(env, adminKey);
  return a;
}

/** Back to one gateway, `a`, so the next job is claimed where the test expects it. */
async function reset() {
  if (!usingPostgres()) return;
  await b?.stop();
  b = undefined;
  a = await startGateway(env, adminKey);
}

describe('durable jobs', () => {
  it('a job accepted with 202 runs after its gateway is killed with SIGKILL right after the 202', async () => {
    const { jobId } = await ok(a.request('POST', paths.slow, { rawBody: '{"n":1}', headers: { 'content-type': 'application/json' } }), 202);
    await a.kill();
    const gw = await survivor();
    const job = await waitForJob(gw, WS, jobId);
    expect(job.status).toBe('succeeded');
    expect(job.attempts.at(-1).outcome).toBe('succeeded');
    for (const earlier of job.attempts.slice(0, -1)) expect(earlier.outcome).toBe('lost');
    await reset();
  }, 60_000);

  it('a job whose gateway died mid-run is taken over by another gateway once its lease expires', async () => {
    const { jobId } = await ok(a.request('POST', paths.slow, { rawBody: '{}', headers: { 'content-type': 'application/json' } }), 202);
    const running = await waitForJob(a, WS, jobId, (j) => j.status === 'running' && j.attempts.some((x: any) => x.outcome === 'running'));
    expect(running.attemptCount).toBe(1);
    await a.kill();
    const gw = await survivor();
    const job = await waitForJob(gw, WS, jobId);
    expect(job).toMatchObject({ status: 'succeeded', attemptCount: 2 });
    expect(job.attempts.map((x: any) => [x.attempt, x.outcome, x.errorCode])).toEqual([[1, 'lost', 'lease_expired'], [2, 'succeeded', null]]);
    await reset();
  }, 60_000);
});

describe.skipIf(!usingPostgres())('two gateways on one PostgreSQL (PGlite has one owning process, so this needs PostgreSQL)', () => {
  beforeAll(async () => { b ??= await startGateway(env, adminKey); }, 60_000);

  it('run each job once, whichever gateway accepted it', async () => {
    const ids: string[] = [];
    await Promise.all(Array.from({ length: 24 }, async (_, i) => {
      const gw = i % 2 ? b! : a;
      ids.push((await ok(gw.request('POST', paths.quick, { rawBody: '{}', headers: { 'content-type': 'application/json' } }), 202)).jobId);
    }));
    const jobs = await Promise.all(ids.map((id) => waitForJob(a, WS, id)));
    for (const job of jobs) expect({ status: job.status, attempts: job.attempts.length }).toEqual({ status: 'succeeded', attempts: 1 });
    const invocations = await ok(a.request('GET', `/v1/workspaces/${WS}/functions/quick/invocations?limit=100`), 200);
    expect(invocations.invocations.filter((i: any) => i.trigger === 'webhook')).toHaveLength(24);
  }, 60_000);

  it('fire each schedule tick once', async () => {
    const names = ['tick-a', 'tick-b', 'tick-c', 'tick-d', 'tick-e'];
    for (const name of names) {
      await ok(a.request('PUT', `/v1/workspaces/${WS}/executors/${name}`, {
        body: { trigger: { kind: 'schedule', cron: '0 0 1 1 *' }, target: { kind: 'function', function: 'quick' } },
      }), 201);
    }
    // Both gateways' schedule loops now find the same missed tick (New Year, up to two years back) due at once.
    await database!.db.execute(sql`update executors set last_tick_at = now() - interval '2 years' where name like 'tick-%'`);
    const jobsOf = async (name: string) => (await ok(b!.request('GET', `/v1/workspaces/${WS}/executors/${name}/jobs`), 200)).jobs as any[];
    for (const name of names) {
      const until = Date.now() + 15_000;
      while ((await jobsOf(name)).length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    }
    // Several more rounds of both loops: a duplicate would have shown up by now.
    await new Promise((r) => setTimeout(r, 1500));
    for (const name of names) {
      const jobs = await jobsOf(name);
      expect(jobs, name).toHaveLength(1);
      expect(new Date(jobs[0].scheduledTime).toISOString()).toMatch(/-01-01T00:00:00\.000Z$/);
    }
  }, 60_000);
});
