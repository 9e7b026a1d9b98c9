// The durable job queue of one gateway: jobs live in the database (db/repos/jobs.ts), so a job
// accepted with 202 survives a crash, and any gateway on the same database may run it. Each
// gateway runs up to `concurrency` jobs at a time, claims with FOR UPDATE SKIP LOCKED under a lease
// it renews while the job runs, and wakes on a NOTIFY from whichever gateway enqueued (Postgres),
// on a local enqueue, on a retry coming due, or on a bounded poll as the backstop.
// Delivery is at least once: a gateway that dies mid-run leaves its lease to expire, and another
// gateway runs the job again with the next attempt number.
import crypto from 'node:crypto';
import type { Db } from '../../db/client.ts';
import * as jobsRepo from '../../db/repos/jobs.ts';
import type { Logger } from '../logger.ts';
import { backoffMs, isRetryable, type RetryPolicy } from './retry-policy.ts';
import { storableText } from '../storable-text.ts';

export const JOBS_CHANNEL = 'coffer_jobs';
const MAX_ERROR_MESSAGE = 1024;

export interface JobQueueOptions {
  db: Db;
  logger: Logger;
  /** Jobs this gateway runs at once. */
  concurrency: number;
  /** How long a claim holds before another gateway may take the job over; renewed every third of it. */
  leaseMs: number;
  /** Backstop poll interval. */
  pollMs: number;
  /** Live jobs per workspace; more stay pending (never dropped). */
  runningCap: number;
  /** Finished jobs older than this are deleted (hourly). */
  retentionMs: number;
  /** Called once a job has failed for good (its attempts are spent, or it cannot run): the events' source. */
  onFailed?: (job: jobsRepo.JobRow, errorCode: string | null) => Promise<void>;
  /** Subscribes to job notifications from other gateways; absent on a single-owner database. */
  listen?: (channel: string, onNotify: () => void) => Promise<boolean>;
  /** Tells other gateways a job is due; absent on a single-owner database. */
  notify?: (channel: string) => Promise<void>;
}

/** `settings` saves reading the executor again when the runner already did. */
export type AttemptResult = (
  | { ok: true; invocationId: string | null }
  | { ok: false; code: string; message: string; invocationId?: string | null; retryAfterMs?: number }
) & {
  settings?: { policy: RetryPolicy; keepsRequest: boolean };
  /** Outgoing webhook targets: what the receiver answered (the excerpt already redacted). */
  http?: { status: number | null; latencyMs: number | null; excerpt: string | null };
};

export interface JobRunner {
  run(job: jobsRepo.JobRow, attempt: number): Promise<AttemptResult>;
  /** The retry policy for this job (from its executor), read when an attempt fails. */
  policy(job: jobsRepo.JobRow): Promise<RetryPolicy>;
  /** Whether the request stored with the job is kept after it ends. */
  keepsRequest(job: jobsRepo.JobRow): Promise<boolean>;
}

/**
 * Lets the event loop take in what has arrived (a webhook being accepted, any request) before a job's
 * next statement: on PGlite the statements run on the gateway's thread, one after another, so a
 * job's run of them had held up every request that came in meanwhile. Before each claim too, so a
 * wake from an enqueue lets that request's answer (an async webhook's 202) out first; started at
 * once, the claim and the job's first statements ran ahead of it and the 202 waited 2-3 ms.
 */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

export function createJobQueue(options: JobQueueOptions) {
  const { db, logger, concurrency, leaseMs, pollMs, runningCap } = options;
  const gateway = `gw_${crypto.randomBytes(6).toString('base64url')}`;
  let runner: JobRunner | undefined;
  let active = 0;
  let pumping = false;
  let again = false;
  let closed = false;
  const running = new Set<Promise<void>>();
  const timers = new Set<NodeJS.Timeout>();
  let poll: NodeJS.Timeout | undefined;
  let prune: NodeJS.Timeout | undefined;

  async function pump(): Promise<void> {
    if (!runner || closed) return;
    if (pumping) { again = true; return; }
    pumping = true;
    try {
      do {
        again = false;
        while (!closed && active < concurrency) {
          await nextTurn();
          const job = await jobsRepo.claimJob(db, { gateway, leaseMs, runningCap });
          if (!job) break;
          active++;
          const p = execute(job).finally(() => { active--; running.delete(p); void pump(); });
          running.add(p);
        }
      } while (again && !closed && active < concurrency);
    } catch (err) {
      logger.warn({ err: { message: (err as Error).message, code: (err as { code?: string }).code } }, 'claiming a job failed; will try again');
    } finally {
      pumping = false;
    }
  }

  function wakeAt(at: Date) {
    const delay = Math.max(0, at.getTime() - Date.now());
    if (delay > pollMs) return; // the poll gets there first
    const t = setTimeout(() => { timers.delete(t); void pump(); }, delay + 5);
    t.unref();
    timers.add(t);
  }

  /** A failure report that fails is logged, never retried: the job itself is settled either way. */
  async function reportFailed(job: jobsRepo.JobRow, errorCode: string | null): Promise<void> {
    try { await options.onFailed?.(job, errorCode); } catch (err) {
      logger.warn({ jobId: job.id, err: { message: (err as Error).message } }, 'recording a failed job for events failed');
    }
  }

  async function execute(job: jobsRepo.JobRow): Promise<void> {
    const attempt = job.attempts;
    const heartbeat = setInterval(() => {
      jobsRepo.renewLease(db, job.id, gateway, leaseMs).catch((err) => logger.warn({ jobId: job.id, err: { message: err.message } }, 'renewing a job lease failed'));
    }, Math.max(50, Math.floor(leaseMs / 3)));
    heartbeat.unref();
    try {
      if (attempt > 1) await jobsRepo.markLostAttempts(db, job.id);
      if (attempt > job.maxAttempts) {
        // Its last attempt was lost with a dead gateway: nothing left to try.
        if (await jobsRepo.settleJob(db, job.id, gateway, { status: 'failed', errorCode: 'lease_expired', errorMessage: 'the last attempt was lost when its gateway stopped', dropRequest: !(await runner!.keepsRequest(job)) })) {
          await reportFailed(job, 'lease_expired');
        }
        return;
      }
      await nextTurn();
      await jobsRepo.startAttempt(db, { jobId: job.id, attempt, gateway });
      let result: AttemptResult;
      try {
        result = await runner!.run(job, attempt);
      } catch (err) {
        const code = typeof (err as { code?: unknown }).code === 'string' ? (err as { code: string }).code : 'internal';
        if (code === 'internal') logger.error({ jobId: job.id, err }, 'a job attempt failed unexpectedly');
        result = { ok: false, code, message: code === 'internal' ? 'internal error' : (err as Error).message, invocationId: (err as { details?: { invocationId?: string } }).details?.invocationId };
      }
      clearInterval(heartbeat);
      await nextTurn();
      // The message may quote anything the function threw (redacted by the runtime); it must still fit a text column.
      const keepsRequest = async () => result.settings?.keepsRequest ?? runner!.keepsRequest(job);
      const errorMessage = result.ok ? null : storableText(result.message, MAX_ERROR_MESSAGE);
      const errorCode = result.ok ? null : storableText(result.code, 64);
      const http = result.http ? { httpStatus: result.http.status, latencyMs: result.http.latencyMs, responseExcerpt: result.http.excerpt } : {};
      await jobsRepo.finishAttempt(db, job.id, attempt, result.ok
        ? { outcome: 'succeeded', invocationId: result.invocationId, ...http }
        : { outcome: 'failed', invocationId: result.invocationId ?? null, errorCode, errorMessage, ...http });
      if (result.ok) {
        await jobsRepo.settleJob(db, job.id, gateway, { status: 'succeeded', dropRequest: !(await keepsRequest()) });
        return;
      }
      if (attempt < job.maxAttempts && isRetryable(result.code)) {
        // A receiver's Retry-After (429, 503) is honoured when it asks for longer than the backoff.
        const delay = Math.max(backoffMs(result.settings?.policy ?? await runner!.policy(job), attempt), result.retryAfterMs ?? 0);
        const runAt = new Date(Date.now() + delay);
        if (await jobsRepo.settleJob(db, job.id, gateway, { status: 'pending', runAt, errorCode, errorMessage, dropRequest: false })) wakeAt(runAt);
        return;
      }
      if (await jobsRepo.settleJob(db, job.id, gateway, { status: 'failed', errorCode, errorMessage, dropRequest: !(await keepsRequest()) })) {
        await reportFailed(job, errorCode);
      }
    } catch (err) {
      // The database went away mid-job: the lease runs out and another attempt picks it up.
      logger.warn({ jobId: job.id, err: { message: (err as Error).message } }, 'settling a job failed; its lease will expire and it runs again');
    } finally {
      clearInterval(heartbeat);
    }
  }

  return {
    gateway,

    /** Inserts a job (deduplicated by its key) and wakes a gateway to run it. */
    async enqueue(row: Parameters<typeof jobsRepo.insertJob>[1], tx: Db = db) {
      const out = await jobsRepo.insertJob(tx, row);
      if (out.created && tx === db) this.wake();
      return out;
    },

    /** Runs due jobs here (from the next turn of the event loop: see nextTurn) and, on Postgres, on every other gateway. */
    wake() {
      void pump();
      options.notify?.(JOBS_CHANNEL).catch(() => {});
    },

    async start(r: JobRunner) {
      runner = r;
      await options.listen?.(JOBS_CHANNEL, () => void pump());
      poll = setInterval(() => void pump(), pollMs);
      poll.unref();
      const pruneNow = () => void this.prune().catch((err) => logger.warn({ err: { message: (err as Error).message } }, 'pruning old jobs failed; tried again in an hour'));
      prune = setInterval(pruneNow, 3600_000);
      prune.unref();
      pruneNow();
      void pump();
    },

    prune: () => jobsRepo.pruneFinishedJobs(db, new Date(Date.now() - options.retentionMs)),

    /** Jobs running on this gateway now. */
    get active() { return active; },

    /** Live jobs in the database (all gateways), for the metrics. */
    depth: () => jobsRepo.countLiveJobs(db),

    /** Stops claiming and waits for the jobs this gateway is running. */
    async close() {
      closed = true;
      if (poll) clearInterval(poll);
      if (prune) clearInterval(prune);
      for (const t of timers) clearTimeout(t);
      await Promise.allSettled([...running]);
    },
  };
}

export type JobQueue = ReturnType<typeof createJobQueue>;
