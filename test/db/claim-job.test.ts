// The job claim (coffer_claim_job, migrations 0007 and 0008) on the real database of each driver:
// the row it answers is the row drizzle reads (every column type mapped alike), and the rule is the
// queue's: a lease that ran out on another gateway (not on this one) first, then due pending jobs by
// run_at, never a future one, the per-workspace cap of live jobs, an executor's event jobs in commit
// order; the same over a backlog, where the claim walks the jobs in order instead of judging them all.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';
import { migrate } from '../../db/migrate.ts';
import { claimJob } from '../../db/repos/jobs.ts';
import { jobs } from '../../db/schema.ts';
import { freshDatabase } from '../support/database.ts';

let database: Database;
const LEASE = { leaseMs: 30_000, runningCap: 2 };
let n = 0;

async function job(over: Partial<typeof jobs.$inferInsert> = {}) {
  const id = `job_claim_${++n}`;
  await database.db.insert(jobs).values({ id, workspaceId: 'ws_claim', executorId: 'ex_claim', trigger: 'webhook', args: { n }, maxAttempts: 3, ...over });
  return id;
}
const read = async (id: string) => (await database.db.select().from(jobs).where(eq(jobs.id, id)))[0];

beforeAll(async () => {
  database = await freshDatabase();
  await migrate(database);
  const db = database.db;
  await db.execute(sql`insert into principals (id, kind, name) values ('usr_claim', 'user', 'claimer')`);
  await db.execute(sql`insert into workspaces (id, name, created_by) values ('ws_claim', 'claims', 'usr_claim')`);
  await db.execute(sql`insert into workspaces (id, name, created_by) values ('ws_other', 'others', 'usr_claim')`);
  await db.execute(sql`insert into executors (id, workspace_id, name, trigger, target, created_by) values ('ex_claim', 'ws_claim', 'e', '{}'::jsonb, '{}'::jsonb, 'usr_claim')`);
  await db.execute(sql`insert into executors (id, workspace_id, name, trigger, target, created_by) values ('ex_other', 'ws_other', 'e', '{}'::jsonb, '{}'::jsonb, 'usr_claim')`);
});
afterAll(async () => { await database?.close(); });

describe('claimJob', () => {
  it('answers the claimed job exactly as drizzle reads it back, and nothing when nothing is due', async () => {
    const id = await job({
      dedupeKey: 'idem:ex_claim:x', requestCiphertext: Buffer.from([1, 2, 3]), requestWrappedKey: Buffer.from([4, 5]), requestMasterKeyId: 'mk1',
      depth: 2, createdBy: 'usr_claim', runAt: new Date(Date.now() - 1000), args: { nested: { list: [1, 'two'] } },
    });
    const claimed = await claimJob(database.db, { gateway: 'gw-a', ...LEASE });
    expect(claimed).toEqual(await read(id));
    expect(claimed).toMatchObject({ id, status: 'running', attempts: 1, lockedBy: 'gw-a', depth: 2, eventSeq: null, finishedAt: null });
    expect(claimed!.leaseUntil!.getTime()).toBeGreaterThan(Date.now() + 20_000);
    expect(await claimJob(database.db, { gateway: 'gw-a', ...LEASE })).toBeUndefined();
    await database.db.update(jobs).set({ status: 'succeeded' }).where(eq(jobs.id, id));
  });

  it('takes due jobs oldest first, never one not yet due', async () => {
    const later = await job({ runAt: new Date(Date.now() + 60_000) });
    const second = await job({ runAt: new Date(Date.now() - 1000) });
    const first = await job({ runAt: new Date(Date.now() - 5000) });
    expect((await claimJob(database.db, { gateway: 'gw-a', ...LEASE }))?.id).toBe(first);
    expect((await claimJob(database.db, { gateway: 'gw-a', ...LEASE }))?.id).toBe(second);
    expect(await claimJob(database.db, { gateway: 'gw-a', ...LEASE })).toBeUndefined();
    await database.db.update(jobs).set({ status: 'succeeded' }).where(sql`id in (${first}, ${second}, ${later})`);
  });

  it('keeps to the workspace cap of live jobs; another workspace is not held up', async () => {
    const ids = [await job(), await job(), await job()];
    const other = await job({ workspaceId: 'ws_other', executorId: 'ex_other' });
    const got = [];
    for (let i = 0; i < 4; i++) got.push((await claimJob(database.db, { gateway: 'gw-a', ...LEASE }))?.id);
    expect(got.slice(0, 3).sort()).toEqual([ids[0], ids[1], other].sort());
    expect(got[3]).toBeUndefined();
    await database.db.update(jobs).set({ status: 'succeeded' }).where(sql`id in (${ids[0]}, ${ids[1]}, ${ids[2]}, ${other})`);
  });

  it('takes over a job whose lease ran out on another gateway, never its own', async () => {
    const id = await job();
    await database.db.update(jobs).set({ status: 'running', attempts: 1, lockedBy: 'gw-dead', leaseUntil: new Date(Date.now() - 1000) }).where(eq(jobs.id, id));
    const mine = await job();
    await database.db.update(jobs).set({ status: 'running', attempts: 1, lockedBy: 'gw-b', leaseUntil: new Date(Date.now() - 1000) }).where(eq(jobs.id, mine));
    const taken = await claimJob(database.db, { gateway: 'gw-b', ...LEASE });
    expect(taken).toMatchObject({ id, attempts: 2, lockedBy: 'gw-b' });
    expect(await claimJob(database.db, { gateway: 'gw-b', ...LEASE })).toBeUndefined();
    await database.db.update(jobs).set({ status: 'succeeded' }).where(sql`id in (${id}, ${mine})`);
  });

  it('takes over a job whose lease ran out before a pending job due earlier', async () => {
    const pending = await job({ runAt: new Date(Date.now() - 60_000) });
    const lost = await job({ runAt: new Date(Date.now() - 1000) });
    await database.db.update(jobs).set({ status: 'running', attempts: 1, lockedBy: 'gw-dead', leaseUntil: new Date(Date.now() - 1000) }).where(eq(jobs.id, lost));
    expect((await claimJob(database.db, { gateway: 'gw-a', ...LEASE }))?.id).toBe(lost);
    expect((await claimJob(database.db, { gateway: 'gw-a', ...LEASE }))?.id).toBe(pending);
    await database.db.update(jobs).set({ status: 'succeeded' }).where(sql`id in (${pending}, ${lost})`);
  });

  it('over a backlog, walks past a workspace at its cap to the earliest job of another, then drains in order', async () => {
    const backlog: string[] = [];
    for (let i = 0; i < 300; i++) backlog.push(await job({ runAt: new Date(Date.now() - 600_000 + i * 1000) }));
    const later = await job({ workspaceId: 'ws_other', executorId: 'ex_other', runAt: new Date(Date.now() - 1000) });
    const got = [];
    for (let i = 0; i < 3; i++) got.push((await claimJob(database.db, { gateway: 'gw-a', ...LEASE }))?.id);
    // Two of the backlog fill its workspace's cap of 2; the third claim reaches past the other 298.
    expect(got).toEqual([backlog[0], backlog[1], later]);
    const drained = got.slice(0, 2);
    for (let round = 0; round < backlog.length / 2 - 1; round++) {
      await database.db.update(jobs).set({ status: 'succeeded' }).where(sql`status = 'running' and workspace_id = 'ws_claim'`);
      for (let k = 0; k < 2; k++) drained.push((await claimJob(database.db, { gateway: 'gw-a', ...LEASE }))?.id);
    }
    expect(drained).toEqual(backlog);
    await database.db.update(jobs).set({ status: 'succeeded' }).where(sql`status in ('running', 'pending')`);
  });

  it('runs an executor\'s event jobs in commit order: not before every earlier one has finished', async () => {
    const early = await job({ eventSeq: 10, runAt: new Date(Date.now() - 1000) });
    const late = await job({ eventSeq: 11, runAt: new Date(Date.now() - 5000) });
    expect((await claimJob(database.db, { gateway: 'gw-a', ...LEASE }))?.id).toBe(early);
    expect(await claimJob(database.db, { gateway: 'gw-a', ...LEASE })).toBeUndefined();
    await database.db.update(jobs).set({ status: 'succeeded' }).where(eq(jobs.id, early));
    expect((await claimJob(database.db, { gateway: 'gw-a', ...LEASE }))).toMatchObject({ id: late, eventSeq: 11 });
  });
});
