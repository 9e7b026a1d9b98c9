// Durable jobs and their attempts. A job is claimed with FOR UPDATE SKIP LOCKED and held under a
// lease that its gateway renews; a job whose lease ran out (its gateway died) can be claimed again.
import { and, asc, desc, eq, getTableColumns, inArray, lt, sql } from 'drizzle-orm';
import { executedRows, type Db } from '../client.ts';
import { jobs, jobAttempts, type JobRow, type JobAttemptRow, type JobStatus } from '../schema.ts';

export type { JobRow, JobAttemptRow, JobStatus };

/** Inserts a job; when its dedupe key is taken, inserts nothing and answers the existing job. */
export async function insertJob(db: Db, row: typeof jobs.$inferInsert): Promise<{ job: JobRow; created: boolean }> {
  const [inserted] = await db.insert(jobs).values(row).onConflictDoNothing({ target: jobs.dedupeKey }).returning();
  if (inserted) return { job: inserted, created: true };
  const [existing] = await db.select().from(jobs).where(eq(jobs.dedupeKey, row.dedupeKey!));
  return { job: existing, created: false };
}

export async function findJobByDedupeKey(db: Db, key: string): Promise<JobRow | undefined> {
  const [row] = await db.select().from(jobs).where(eq(jobs.dedupeKey, key));
  return row;
}

/** Frees a dedupe key whose window has passed, so a new job may take it. */
export async function releaseDedupeKey(db: Db, id: string) {
  await db.update(jobs).set({ dedupeKey: null }).where(eq(jobs.id, id));
}

/** A `jobs` row as the database sends it (snake_case, driver values) -> JobRow, as drizzle maps its own results. */
const jobColumns = Object.entries(getTableColumns(jobs));
function jobFromRow(raw: Record<string, unknown>): JobRow {
  return Object.fromEntries(jobColumns.map(([key, column]) => {
    const value = raw[column.name];
    return [key, value === null || value === undefined ? null : column.mapFromDriverValue(value)];
  })) as JobRow;
}

/**
 * Claims the next runnable job: pending and due, or running under an expired lease, in a
 * workspace that has fewer than `runningCap` live jobs. One statement (coffer_claim_job, migration
 * 0007, whose plan the database keeps), so a crash between the select and the update cannot leave
 * a job half-claimed.
 */
export async function claimJob(db: Db, opts: { gateway: string; leaseMs: number; runningCap: number }): Promise<JobRow | undefined> {
  const result = await db.execute(sql`select * from coffer_claim_job(${opts.gateway}, ${Math.round(opts.leaseMs)}, ${opts.runningCap})`);
  const [row] = executedRows<Record<string, unknown>>(result);
  return row ? jobFromRow(row) : undefined;
}

export async function renewLease(db: Db, id: string, gateway: string, leaseMs: number): Promise<boolean> {
  const rows = await db.update(jobs).set({ leaseUntil: sql`now() + make_interval(secs => ${leaseMs / 1000})` })
    .where(and(eq(jobs.id, id), eq(jobs.lockedBy, gateway), eq(jobs.status, 'running')))
    .returning({ id: jobs.id });
  return rows.length > 0;
}

/** Attempts left `running` by a gateway that died are closed as `lost` when the job is taken over. */
export async function markLostAttempts(db: Db, jobId: string) {
  await db.update(jobAttempts).set({ outcome: 'lost', endedAt: sql`now()`, errorCode: 'lease_expired', errorMessage: 'the gateway running this attempt stopped' })
    .where(and(eq(jobAttempts.jobId, jobId), eq(jobAttempts.outcome, 'running')));
}

export async function startAttempt(db: Db, a: { jobId: string; attempt: number; gateway: string }) {
  await db.insert(jobAttempts).values({ ...a, startedAt: new Date(), outcome: 'running' })
    .onConflictDoUpdate({ target: [jobAttempts.jobId, jobAttempts.attempt], set: { startedAt: new Date(), outcome: 'running', gateway: a.gateway } });
}

export async function finishAttempt(db: Db, jobId: string, attempt: number, f: {
  outcome: 'succeeded' | 'failed' | 'canceled'; invocationId?: string | null; errorCode?: string | null; errorMessage?: string | null;
  httpStatus?: number | null; latencyMs?: number | null; responseExcerpt?: string | null;
}) {
  // Only a running attempt: one canceled meanwhile keeps its outcome (its result is discarded).
  await db.update(jobAttempts).set({ ...f, endedAt: new Date() })
    .where(and(eq(jobAttempts.jobId, jobId), eq(jobAttempts.attempt, attempt), eq(jobAttempts.outcome, 'running')));
}

/**
 * Ends a running job held by `gateway`: to a final status, or back to pending for a retry at
 * `runAt`. Answers false when the job is no longer this gateway's (canceled, or taken over).
 */
export async function settleJob(db: Db, id: string, gateway: string, s: {
  status: 'succeeded' | 'failed' | 'pending'; runAt?: Date; errorCode?: string | null; errorMessage?: string | null; dropRequest: boolean;
}): Promise<boolean> {
  const final = s.status !== 'pending';
  const rows = await db.update(jobs).set({
    status: s.status, leaseUntil: null, lockedBy: null,
    lastErrorCode: s.errorCode ?? null, lastErrorMessage: s.errorMessage ?? null,
    ...(s.runAt ? { runAt: s.runAt } : {}),
    ...(final ? { finishedAt: sql`now()` } : {}),
    ...(final && s.dropRequest ? { requestCiphertext: null, requestWrappedKey: null, requestMasterKeyId: null } : {}),
  }).where(and(eq(jobs.id, id), eq(jobs.lockedBy, gateway), eq(jobs.status, 'running'))).returning({ id: jobs.id });
  return rows.length > 0;
}

export async function findJob(db: Db, workspaceId: string, id: string): Promise<JobRow | undefined> {
  const [row] = await db.select().from(jobs).where(and(eq(jobs.workspaceId, workspaceId), eq(jobs.id, id)));
  return row;
}

export async function findJobById(db: Db, id: string): Promise<JobRow | undefined> {
  const [row] = await db.select().from(jobs).where(eq(jobs.id, id));
  return row;
}

export async function listAttempts(db: Db, jobId: string): Promise<JobAttemptRow[]> {
  return db.select().from(jobAttempts).where(eq(jobAttempts.jobId, jobId)).orderBy(asc(jobAttempts.attempt));
}

/** Newest first; `after` is the (createdAt, id) of the last row of the previous page. */
export async function listJobs(db: Db, executorId: string, opts: { status?: JobStatus; limit: number; after?: { createdAt: Date; id: string } }) {
  return db.select().from(jobs).where(and(
    eq(jobs.executorId, executorId),
    opts.status ? eq(jobs.status, opts.status) : undefined,
    opts.after ? sql`(${jobs.createdAt}, ${jobs.id}) < (${opts.after.createdAt.toISOString()}::timestamptz, ${opts.after.id})` : undefined,
  )).orderBy(desc(jobs.createdAt), desc(jobs.id)).limit(opts.limit);
}

/** Cancels a job that has not finished; a running attempt's result is then discarded. */
export async function cancelJob(db: Db, id: string, dropRequest: boolean): Promise<JobRow | undefined> {
  const [row] = await db.update(jobs).set({
    status: 'canceled', leaseUntil: null, lockedBy: null, finishedAt: sql`now()`,
    ...(dropRequest ? { requestCiphertext: null, requestWrappedKey: null, requestMasterKeyId: null } : {}),
  }).where(and(eq(jobs.id, id), inArray(jobs.status, ['pending', 'running']))).returning();
  if (row) {
    await db.update(jobAttempts).set({ outcome: 'canceled', endedAt: sql`now()` })
      .where(and(eq(jobAttempts.jobId, id), eq(jobAttempts.outcome, 'running')));
  }
  return row;
}

/** Puts a finished (failed or canceled) job back in the queue with `extraAttempts` more to go. */
export async function requeueJob(db: Db, id: string, extraAttempts: number): Promise<JobRow | undefined> {
  const [row] = await db.update(jobs).set({
    status: 'pending', runAt: sql`now()`, finishedAt: null, maxAttempts: sql`${jobs.attempts} + ${extraAttempts}`,
  }).where(and(eq(jobs.id, id), inArray(jobs.status, ['failed', 'canceled']))).returning();
  return row;
}

/** Deletes finished jobs (and, by cascade, their attempts) older than `before`. */
export async function pruneFinishedJobs(db: Db, before: Date): Promise<number> {
  const rows = await db.delete(jobs).where(and(inArray(jobs.status, ['succeeded', 'failed', 'canceled']), lt(jobs.finishedAt, before)))
    .returning({ id: jobs.id });
  return rows.length;
}

/** The soonest time a pending job becomes due, so an idle gateway can sleep until then. */
export async function nextDueAt(db: Db): Promise<Date | undefined> {
  const [row] = await db.select({ runAt: jobs.runAt }).from(jobs).where(eq(jobs.status, 'pending')).orderBy(asc(jobs.runAt)).limit(1);
  return row?.runAt;
}

/** Live jobs by status, over every gateway on this database: the jobs queue depth the metrics expose. */
export async function countLiveJobs(db: Db): Promise<{ pending: number; running: number }> {
  const rows = await db.select({ status: jobs.status, n: sql<number>`count(*)::int` }).from(jobs)
    .where(inArray(jobs.status, ['pending', 'running'])).groupBy(jobs.status);
  const of = (status: string) => Number(rows.find((r) => r.status === status)?.n ?? 0);
  return { pending: of('pending'), running: of('running') };
}
