// Event triggers: turns committed changes into jobs of the executors subscribed to them. The outbox
// is the audit trail (every change below writes its audit row in its own transaction, under the
// chain-head lock, so seq order is commit order); a cursor row, locked while a batch is handled,
// records how far it got, so the jobs of a batch and the cursor move commit together and a row is
// turned into jobs exactly once however many gateways run this loop. Each job's dedupe key is
// `evt:<executor>:<seq>` besides. Delivery is then the job queue's: at least once, with retries.
import { inTransaction, type Db } from '../../db/client.ts';
import * as eventsRepo from '../../db/repos/events.ts';
import * as jobsRepo from '../../db/repos/jobs.ts';
import { newId } from '../crypto/credentials.ts';
import { decideFunctionRead } from '../policy/grants.ts';
import type { Logger } from '../logger.ts';
import { DEFAULT_RETRY, type RetryPolicy } from '../jobs/retry-policy.ts';
import type { EventTrigger, EventType } from '../executors/schemas.ts';
import { globMatches } from './match.ts';
import { MAX_CHAIN_DEPTH } from '../executors/service.ts';

/** Audit action → event type. Only allowed (committed) rows become events. */
const ACTION_EVENTS: Record<string, EventType> = {
  'secret.write': 'secret.version.created',
  'secret.version.enable': 'secret.version.state_changed',
  'secret.version.disable': 'secret.version.state_changed',
  'secret.version.destroy': 'secret.version.state_changed',
  'secret.delete': 'secret.deleted',
  'grant.create': 'grant.created',
  'grant.delete': 'grant.deleted',
  'function.deploy': 'function.deployed',
  'invocation.failed': 'invocation.failed',
  'executor.job.failed': 'executor.job.failed',
  'pipeline.run.succeeded': 'pipeline.run.succeeded',
  'pipeline.run.failed': 'pipeline.run.failed',
};
/** Events about a workspace's own work: only that workspace's executors hear them. */
const WORKSPACE_EVENTS = new Set<EventType>(['function.deployed', 'invocation.failed', 'executor.job.failed', 'pipeline.run.succeeded', 'pipeline.run.failed']);
const PIPELINE_EVENTS = new Set<EventType>(['pipeline.run.succeeded', 'pipeline.run.failed']);
const STATE_OF: Record<string, string> = { 'secret.version.enable': 'enabled', 'secret.version.disable': 'disabled', 'secret.version.destroy': 'destroyed' };
const BATCH = 200;

type AuditRow = Awaited<ReturnType<typeof eventsRepo.auditRowsAfter>>[number];

/** What a subscriber receives about a change: ids, names, versions, actor, time; never a value (audit rows hold none). */
export function eventOf(row: AuditRow) {
  const type = ACTION_EVENTS[row.action];
  const detail = (row.detail ?? {}) as Record<string, unknown>;
  const event: Record<string, unknown> = {
    id: `evt_${row.seq}`, type, at: row.at.toISOString(), actor: { id: row.actorId, kind: row.actorKind },
  };
  if (row.vault) event.vault = row.vault;
  if (row.secret) event.secret = row.secret;
  if (row.version !== null) event.version = row.version;
  if (STATE_OF[row.action]) event.state = STATE_OF[row.action];
  if (type === 'grant.created' || type === 'grant.deleted') {
    event.grant = { id: detail.grantId ?? null, role: detail.role ?? null, workspace: row.workspace ?? null, principalId: detail.principalId ?? null };
  }
  if (type === 'function.deployed') {
    event.workspace = row.workspace;
    event.function = row.function;
    if (typeof detail.functionVersion === 'number') event.version = detail.functionVersion;
  }
  if (type === 'invocation.failed') {
    // The failure code only: a function's message may quote anything it read.
    event.workspace = row.workspace;
    event.function = row.function;
    event.invocationId = row.invocationId;
    event.code = detail.code ?? null;
    if (typeof detail.functionVersion === 'number') event.version = detail.functionVersion;
    event.trigger = detail.trigger ?? null;
    if (detail.jobId) event.job = { id: detail.jobId, executor: detail.executor ?? null };
  }
  if (type === 'pipeline.run.succeeded' || type === 'pipeline.run.failed') {
    // Names, numbers and the failure's code: never the run's value or a step's message.
    event.workspace = row.workspace;
    event.pipeline = detail.pipeline ?? null;
    if (typeof detail.pipelineVersion === 'number') event.version = detail.pipelineVersion;
    event.runId = detail.runId ?? null;
    if (type === 'pipeline.run.failed') {
      event.code = detail.code ?? null;
      event.step = detail.step ?? null;
      if (row.invocationId) event.invocationId = row.invocationId;
    }
  }
  if (type === 'executor.job.failed') {
    event.workspace = row.workspace;
    event.job = { id: detail.jobId ?? null, executor: detail.executor ?? null, executorId: detail.executorId ?? null, trigger: detail.trigger ?? null, attempts: detail.attempts ?? null, errorCode: detail.errorCode ?? null };
  }
  return event;
}

export function createEventDispatcher(deps: { db: Db; logger: Logger; intervalMs: number; wake: () => void }) {
  const { db, logger, intervalMs } = deps;
  let timer: NodeJS.Timeout | undefined;
  let busy = false;

  /** Handles every audit row committed since the cursor; answers how many jobs it enqueued. */
  async function dispatchOnce(): Promise<number> {
    let enqueued = 0;
    // Without subscribers there is nothing to do, and no transaction is opened: on PGlite (one
    // connection) a transaction every tick would hold up everything else, lease renewals included.
    // Rows left behind meanwhile are older than any executor created later, and skipped by it.
    if ((await eventsRepo.listEventExecutors(db)).length === 0) return 0;
    for (;;) {
      const { jobs, more } = await inTransaction(db, async (tx) => {
        const from = await eventsRepo.lockCursor(tx);
        const rows = await eventsRepo.auditRowsAfter(tx, from, Object.keys(ACTION_EVENTS), BATCH);
        if (rows.length === 0) return { jobs: 0, more: false };
        const subscribers = await eventsRepo.listEventExecutors(tx);
        const roles = await eventsRepo.workspaceVaultRoles(tx, [...new Set(subscribers.map((s) => s.workspace.id))]);
        // The same rule as an executor's own reads (secrets.ts, executorMayRead): an expired grant, or
        // one limited to named functions, does not let an executor hear of the vault.
        const now = Date.now();
        const readable = new Set(roles.filter((r) => r.role && decideFunctionRead({ ...r, role: r.role }, { now, functionName: '' }).allowed).flatMap((r) => [`${r.workspaceId}\0id\0${r.vaultId}`, `${r.workspaceId}\0name\0${r.vaultName}`]));
        let n = 0;
        for (const row of rows) {
          const type = ACTION_EVENTS[row.action];
          for (const { executor, workspace } of subscribers) {
            const trigger = executor.trigger as EventTrigger;
            if (!trigger.events.includes(type)) continue;
            // An executor hears of changes committed after it was created, not of history.
            if (row.at < executor.createdAt) continue;
            const f = trigger.filter ?? {};
            let depth = 1;
            if (WORKSPACE_EVENTS.has(type)) {
              // Function and job events: only the executor's own workspace.
              if (row.workspaceId !== workspace.id) continue;
              if (f.function && !globMatches(f.function, row.function)) continue;
              if (f.vault || f.secret) continue;
              if (f.pipeline && !(PIPELINE_EVENTS.has(type) && globMatches(f.pipeline, String(((row.detail ?? {}) as { pipeline?: unknown }).pipeline ?? '')))) continue;
              if (type === 'executor.job.failed') {
                // An executor never hears of its own failures, and a chain of failure reports stops at
                // the executor depth limit: otherwise two executors failing on each other's failures loop.
                const detail = (row.detail ?? {}) as { executorId?: unknown; depth?: unknown };
                if (detail.executorId === executor.id) continue;
                depth = (typeof detail.depth === 'number' ? detail.depth : 1) + 1;
                if (depth > MAX_CHAIN_DEPTH) continue;
              }
            } else {
              // Vault events: only vaults the workspace can read now (a grant.deleted of its own grant is not seen).
              const can = row.vaultId ? readable.has(`${workspace.id}\0id\0${row.vaultId}`) : readable.has(`${workspace.id}\0name\0${row.vault}`);
              if (!can) continue;
              if (f.vault && !globMatches(f.vault, row.vault)) continue;
              if (f.secret && !globMatches(f.secret, row.secret)) continue;
              if (f.function || f.pipeline) continue;
            }
            const retry = (executor.retry as RetryPolicy | null) ?? DEFAULT_RETRY;
            const out = await jobsRepo.insertJob(tx, {
              id: newId('job'), workspaceId: workspace.id, executorId: executor.id, trigger: 'event', dedupeKey: `evt:${executor.id}:${row.seq}`,
              args: { event: eventOf(row) }, maxAttempts: retry.maxAttempts, depth, eventSeq: row.seq,
            });
            if (out.created) n++;
          }
        }
        await eventsRepo.moveCursor(tx, rows[rows.length - 1].seq);
        return { jobs: n, more: rows.length === BATCH };
      });
      enqueued += jobs;
      if (!more) break;
    }
    if (enqueued > 0) deps.wake();
    return enqueued;
  }

  async function tick() {
    if (busy) return;
    busy = true;
    try { await dispatchOnce(); } catch (err) {
      logger.warn({ err: { message: (err as Error).message, code: (err as { code?: string }).code } }, 'dispatching events failed; will try again');
    } finally { busy = false; }
  }

  return {
    dispatchOnce,
    start() {
      if (intervalMs <= 0) return;
      timer = setInterval(() => void tick(), intervalMs);
      timer.unref();
    },
    /** Right after a commit in this gateway: dispatch now rather than at the next tick. */
    poke: () => void tick(),
    close() { if (timer) clearInterval(timer); },
  };
}
