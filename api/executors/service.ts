// What happens to an executor: configured (PUT/DELETE, token rotation), fired (an incoming webhook,
// a schedule tick, or by hand), and run (one job attempt through the function service). The HTTP
// side of incoming webhooks is in webhooks.ts; the queue in api/jobs/queue.ts.
import crypto from 'node:crypto';
import { inTransaction, type Db } from '../../db/client.ts';
import * as executorsRepo from '../../db/repos/executors.ts';
import * as jobsRepo from '../../db/repos/jobs.ts';
import { findMemberRole } from '../../db/repos/workspaces.ts';
import { findFunction } from '../../db/repos/functions.ts';
import type { Workspace, JobStatus } from '../../db/schema.ts';
import { CofferError, badRequest, notFound } from '../errors.ts';
import { constantTimeEqual, hashCredential, newId } from '../crypto/credentials.ts';
import { open, seal } from '../crypto/envelope.ts';
import type { Keyring } from '../crypto/keyring.ts';
import { actorFields, type Actor, type AuthPrincipal } from '../actor.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { Logger } from '../logger.ts';
import { workspaceRoleAllows } from '../policy/roles.ts';
import type { WorkspaceService } from '../services/workspaces.ts';
import type { FunctionService } from '../services/functions.ts';
import type { SecretService } from '../services/secrets.ts';
import { createFailureLimiter } from '../services/rate-limit.ts';
import { DEFAULT_RETRY, type RetryPolicy } from '../jobs/retry-policy.ts';
import { storableText } from '../storable-text.ts';
import type { AttemptResult, JobQueue, JobRunner } from '../jobs/queue.ts';
import { verifySignature, REPLAY_WINDOW_S, SIGNATURE_HEADERS, type Verdict } from './signatures.ts';
import { createReplayGuard } from './replay-guard.ts';
import { createAccessCache, type AccessCachePolicy } from '../../db/access-cache.ts';
import type { FailureThrottle } from '../audit/failure-throttle.ts';
import { createScheduler } from './schedules.ts';
import { createWindowLimiter } from './rate-limit.ts';
import type { ExecutorInput, ScheduleTrigger, Target, Trigger, WebhookTrigger } from './schemas.ts';
import { createOutgoingSender } from './outgoing.ts';
import { createEventDispatcher } from '../events/dispatcher.ts';
import type { EgressPolicy } from '../egress/policy.ts';

export const TOKEN_PREFIX = 'whk_';
export const IDEMPOTENCY_WINDOW_MS = 24 * 3600_000;
/** A chain of executors (a job whose function fires another executor, and so on) deeper than this is refused. */
export const MAX_CHAIN_DEPTH = 10;
export const DEPTH_HEADER = 'coffer-executor-depth';
/** Request headers the function never sees: credentials and signatures. */
const HIDDEN_HEADERS = new Set(['authorization', 'cookie', 'proxy-authorization', ...SIGNATURE_HEADERS]);

export interface ExecutorSettings {
  /** How long the previous path token (and the previous enabled signing key version) stays valid after a rotation. */
  rotationGraceMs: number;
  /** Incoming webhooks per workspace per second (per gateway). */
  webhookRatePerSecond: number;
  /** Failed signature checks per executor per minute before further attempts are refused (like failed logins). */
  signatureFailuresPerMinute: number;
  /** 0: no background schedule loop. */
  scheduleIntervalMs: number;
  /** How often committed changes are turned into event jobs; 0: not on this gateway. */
  eventIntervalMs?: number;
}

/** What a webhook's function receives about its request; stored with the job, sealed. */
export interface HookRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: unknown;
  rawBody: string;
}

type ExecutorRow = executorsRepo.ExecutorRow;

export function createExecutorService(deps: {
  db: Db; audit: AuditLog; failureAudit: FailureThrottle; keyring: Keyring; logger: Logger; workspaces: WorkspaceService; functions: FunctionService;
  secrets: SecretService; queue: JobQueue; settings: ExecutorSettings; accessCache?: AccessCachePolicy; egress: EgressPolicy;
}) {
  const { db, audit, failureAudit, keyring, logger, workspaces, functions, secrets, queue, settings } = deps;
  const sendWebhook = createOutgoingSender({ secrets, functions, egress: deps.egress });
  const events = createEventDispatcher({ db, logger, intervalMs: settings.eventIntervalMs ?? 250, wake: () => queue.wake() });
  const rate = createWindowLimiter({ limit: settings.webhookRatePerSecond, windowMs: 1000 });
  const signatureFailures = createFailureLimiter({ limit: settings.signatureFailuresPerMinute, windowMs: 60_000 });
  const hookTargets = createAccessCache<Awaited<ReturnType<typeof executorsRepo.findHookTarget>>>(deps.accessCache);
  const jobTargets = createAccessCache<Awaited<ReturnType<typeof executorsRepo.findExecutorWithWorkspace>>>(deps.accessCache);
  const replays = createReplayGuard({ windowMs: 2 * REPLAY_WINDOW_S * 1000 });

  const requestAad = (jobId: string) => `coffer:job-request:${jobId}`;
  const triggerOf = (e: ExecutorRow) => e.trigger as Trigger;
  const targetOf = (e: ExecutorRow) => e.target as Target;
  const retryOf = (e: ExecutorRow): RetryPolicy => (e.retry as RetryPolicy | null) ?? DEFAULT_RETRY;

  /** A target's function must be deployed, and every vault it names must be readable by the workspace. */
  async function checkTarget(workspace: Workspace, target: Target) {
    const fn = target.kind === 'function' ? target.function : typeof target.body === 'object' ? target.body.function : undefined;
    if (fn && !(await findFunction(db, workspace.id, fn))) {
      throw badRequest(`${target.kind === 'function' ? 'target.function' : 'target.body.function'}: no function "${fn}" is deployed in workspace "${workspace.name}"`);
    }
    if (target.kind !== 'webhook') return;
    const refs = [
      typeof target.url === 'object' ? target.url.secret : undefined,
      ...Object.values(target.headers ?? {}).map((v) => (typeof v === 'object' ? v.secret : undefined)),
      target.signing?.secret,
    ].filter((r) => r !== undefined);
    for (const vault of new Set(refs.map((r) => r.vault))) {
      if (!(await secrets.workspaceCanRead(workspace.id, vault))) {
        throw new CofferError('forbidden', `workspace "${workspace.name}" holds no reader grant on vault "${vault}"; grant it before naming its secrets in a target`);
      }
    }
  }

  async function findOr404(workspace: Workspace, name: string) {
    const e = await executorsRepo.findExecutor(db, workspace.id, name);
    if (!e) throw notFound('executor');
    return e;
  }

  function newToken() {
    const token = TOKEN_PREFIX + crypto.randomBytes(32).toString('base64url');
    return { token, hash: hashCredential(token) };
  }

  function chainDepth(incoming: string | undefined): number {
    if (incoming === undefined) return 1;
    const n = /^\d{1,3}$/.test(incoming) ? Number(incoming) : NaN;
    if (!Number.isInteger(n) || n < 1) throw badRequest(`${DEPTH_HEADER} must be a positive integer`);
    if (n + 1 > MAX_CHAIN_DEPTH) throw new CofferError('recursion_limit', `a chain of executors more than ${MAX_CHAIN_DEPTH} deep is refused`);
    return n + 1;
  }

  async function enqueue(workspace: Workspace, executor: ExecutorRow, j: {
    trigger: 'webhook' | 'schedule' | 'manual'; args: Record<string, unknown>; request?: HookRequest; dedupeKey?: string;
    depth?: number; createdBy?: string | null; window?: number;
  }) {
    const id = newId('job');
    const sealed = j.request ? seal(keyring, JSON.stringify(j.request), requestAad(id)) : undefined;
    const row = {
      id, workspaceId: workspace.id, executorId: executor.id, trigger: j.trigger, dedupeKey: j.dedupeKey ?? null, args: j.args,
      requestCiphertext: sealed?.ciphertext ?? null, requestWrappedKey: sealed?.wrappedKey ?? null, requestMasterKeyId: sealed?.masterKeyId ?? null,
      maxAttempts: retryOf(executor).maxAttempts, depth: j.depth ?? 1, createdBy: j.createdBy ?? null,
    };
    let out = await queue.enqueue(row);
    if (!out.created && j.window !== undefined && out.job.createdAt.getTime() < Date.now() - j.window) {
      // The key's window has passed: this is a new event that happens to reuse it.
      await jobsRepo.releaseDedupeKey(db, out.job.id);
      out = await queue.enqueue(row);
    }
    return out;
  }

  function openRequest(job: jobsRepo.JobRow): HookRequest | undefined {
    if (!job.requestCiphertext || !job.requestWrappedKey || !job.requestMasterKeyId) return undefined;
    const text = open(keyring, { ciphertext: job.requestCiphertext, wrappedKey: job.requestWrappedKey, masterKeyId: job.requestMasterKeyId }, requestAad(job.id));
    return JSON.parse(text.toString('utf8')) as HookRequest;
  }

  const runner: JobRunner = {
    async run(job, attempt): Promise<AttemptResult> {
      const found = await jobTargets.get(job.executorId, () => executorsRepo.findExecutorWithWorkspace(db, job.executorId));
      if (!found) return { ok: false, code: 'not_found', message: 'the executor was deleted' };
      const { executor, workspace } = found;
      if (executor.disabled) return { ok: false, code: 'executor_disabled', message: 'the executor is disabled' };
      const trigger = triggerOf(executor);
      const settings = { policy: retryOf(executor), keepsRequest: trigger.kind === 'webhook' && trigger.keepBody };
      const base = { trigger: trigger.kind, executor: executor.name, jobId: job.id, attempt, ...(job.trigger === 'manual' ? { manual: true } : {}) };
      let args: Record<string, unknown>;
      if (trigger.kind === 'event') {
        args = { ...base, event: (job.args as { event: unknown }).event };
      } else if (trigger.kind === 'webhook') {
        const request = openRequest(job);
        if (!request) return { ok: false, code: 'request_not_kept', message: 'the request of this job is no longer kept (see keepBody)', settings };
        args = { ...base, ...request };
      } else {
        args = { ...base, ...(job.args as Record<string, unknown>) };
      }
      const target = targetOf(executor);
      if (target.kind === 'webhook') {
        // The receiver gets the trigger's payload without the raw request's credentials (already removed).
        const out = await sendWebhook(target, { workspace, executor: { id: executor.id, name: executor.name }, jobId: job.id, attempt, payload: args });
        return out.ok
          ? { ok: true, invocationId: out.invocationId ?? null, http: out.http, settings }
          : { ok: false, code: out.code!, message: out.message!, invocationId: out.invocationId, http: out.http, retryAfterMs: out.retryAfterMs, settings };
      }
      try {
        const out = await functions.invokeAsExecutor({
          workspace, functionName: target.function, args, timeoutMs: target.timeoutMs, requestId: job.id,
          executor: { id: executor.id, name: executor.name, jobId: job.id }, trigger: job.trigger,
        });
        return { ok: true, invocationId: out.invocationId, settings };
      } catch (err) {
        if (!(err instanceof CofferError)) throw err;
        return { ok: false, code: err.code, message: err.message, invocationId: (err.details?.invocationId as string | undefined) ?? null, settings };
      }
    },
    async policy(job) {
      const e = await executorsRepo.findExecutorById(db, job.executorId);
      return e ? retryOf(e) : DEFAULT_RETRY;
    },
    async keepsRequest(job) {
      const e = await executorsRepo.findExecutorById(db, job.executorId);
      const t = e ? triggerOf(e) : undefined;
      return t?.kind === 'webhook' && t.keepBody;
    },
  };

  const scheduler = createScheduler({
    db, logger, intervalMs: settings.scheduleIntervalMs,
    async fire(executor, scheduledTime) {
      const { workspace } = (await executorsRepo.findExecutorWithWorkspace(db, executor.id)) ?? {};
      if (!workspace) return false;
      const out = await enqueue(workspace, executor, {
        trigger: 'schedule', args: { scheduledTime: scheduledTime.toISOString() }, dedupeKey: `tick:${executor.id}:${scheduledTime.toISOString()}`,
      });
      return out.created;
    },
  });

  async function jobOr404(actor: Actor, wsName: string, id: string, action: 'executors.view' | 'executors.edit') {
    const { workspace } = await workspaces.authorizeWorkspace(actor, wsName, action);
    const job = await jobsRepo.findJob(db, workspace.id, id);
    if (!job) throw notFound('job');
    return { workspace, job };
  }

  return {
    scheduler,
    runner,

    async start() {
      await queue.start(runner);
      scheduler.start();
      events.start();
    },

    events,

    async close() {
      events.close();
      scheduler.close();
      await queue.close();
    },

    // ---- the resource -------------------------------------------------------------------

    async put(actor: Actor, wsName: string, name: string, input: ExecutorInput) {
      const { workspace } = await workspaces.authorizeWorkspace(actor, wsName, 'executors.edit');
      const trigger = input.trigger;
      if (trigger.kind === 'webhook' && trigger.mode === 'sync' && input.target.kind !== 'function') {
        throw badRequest('a sync webhook answers with its function\'s result: its target must be a function');
      }
      await checkTarget(workspace, input.target);
      if (trigger.kind === 'event' && trigger.filter?.vault && !trigger.filter.vault.includes('*') && !(await secrets.workspaceCanRead(workspace.id, trigger.filter.vault))) {
        throw new CofferError('forbidden', `workspace "${workspace.name}" holds no reader grant on vault "${trigger.filter.vault}"; it can only subscribe to events of vaults it can read`);
      }
      return inTransaction(db, async (tx) => {
        const existing = await executorsRepo.findExecutor(tx, workspace.id, name);
        const before = existing ? triggerOf(existing) : undefined;
        let token: string | undefined;
        let tokens = { tokenHash: existing?.tokenHash ?? null, previousTokenHash: existing?.previousTokenHash ?? null, previousTokenUntil: existing?.previousTokenUntil ?? null };
        const isToken = trigger.kind === 'webhook' && trigger.auth.mode === 'token';
        const wasToken = before?.kind === 'webhook' && before.auth.mode === 'token';
        if (isToken && !(wasToken && tokens.tokenHash)) {
          const t = newToken();
          token = t.token;
          tokens = { tokenHash: t.hash, previousTokenHash: null, previousTokenUntil: null };
        } else if (!isToken) {
          tokens = { tokenHash: null, previousTokenHash: null, previousTokenUntil: null };
        }
        // A schedule starts counting from now: ticks before it existed (or before it became a schedule) never fire.
        const keepBookmark = before?.kind === 'schedule' && trigger.kind === 'schedule' && before.cron === trigger.cron && before.timezone === trigger.timezone;
        const { executor, created } = await executorsRepo.upsertExecutor(tx, {
          id: newId('exe'), workspaceId: workspace.id, name, description: input.description === undefined ? null : storableText(input.description, 1024), disabled: input.disabled ?? false,
          trigger, target: input.target, retry: input.retry ?? null, ...tokens,
          lastTickAt: keepBookmark ? existing!.lastTickAt : new Date(), createdBy: actor.principal.id,
        });
        await audit.append({
          action: 'executor.put', outcome: 'allowed', workspaceId: workspace.id, workspace: workspace.name, function: input.target.kind === 'function' ? input.target.function : undefined, ...actorFields(actor),
          detail: { executor: name, created, trigger: trigger.kind, target: input.target.kind, disabled: executor.disabled, ...(trigger.kind === 'webhook' ? { auth: trigger.auth.mode, mode: trigger.mode } : {}), ...(token ? { tokenIssued: true } : {}) },
        }, tx);
        return { executor, created, token, workspace };
      });
    },

    async get(actor: Actor, wsName: string, name: string) {
      const { workspace } = await workspaces.authorizeWorkspace(actor, wsName, 'executors.view');
      return { executor: await findOr404(workspace, name), workspace };
    },

    async list(actor: Actor, wsName: string) {
      const { workspace } = await workspaces.authorizeWorkspace(actor, wsName, 'executors.view');
      return { executors: await executorsRepo.listExecutors(db, workspace.id), workspace };
    },

    async remove(actor: Actor, wsName: string, name: string) {
      const { workspace } = await workspaces.authorizeWorkspace(actor, wsName, 'executors.edit');
      const e = await findOr404(workspace, name);
      await inTransaction(db, async (tx) => {
        await executorsRepo.deleteExecutor(tx, e.id);
        await audit.append({ action: 'executor.delete', outcome: 'allowed', workspaceId: workspace.id, workspace: workspace.name, ...actorFields(actor), detail: { executor: name } }, tx);
      });
    },

    /** A new path token; the current one stays valid for the rotation grace period. */
    async rotateToken(actor: Actor, wsName: string, name: string) {
      const { workspace } = await workspaces.authorizeWorkspace(actor, wsName, 'executors.edit');
      const e = await findOr404(workspace, name);
      const t = triggerOf(e);
      if (t.kind !== 'webhook' || t.auth.mode !== 'token') throw new CofferError('conflict', 'only webhook executors with auth mode "token" have a token');
      const t2 = newToken();
      const previousTokenUntil = new Date(Date.now() + settings.rotationGraceMs);
      await inTransaction(db, async (tx) => {
        await executorsRepo.setTokens(tx, e.id, { tokenHash: t2.hash, previousTokenHash: e.tokenHash, previousTokenUntil });
        await audit.append({ action: 'executor.rotate_token', outcome: 'allowed', workspaceId: workspace.id, workspace: workspace.name, ...actorFields(actor), detail: { executor: name, previousValidUntil: previousTokenUntil.toISOString() } }, tx);
      });
      return { token: t2.token, previousTokenValidUntil: previousTokenUntil, workspace, executor: e };
    },

    /** Fires a webhook or schedule executor by hand, as a job (editor). */
    async trigger(actor: Actor, wsName: string, name: string, input: { body?: unknown; headers?: Record<string, string> }) {
      const { workspace } = await workspaces.authorizeWorkspace(actor, wsName, 'executors.edit');
      const e = await findOr404(workspace, name);
      if (e.disabled) throw new CofferError('conflict', `executor "${name}" is disabled; enable it to fire it`);
      const t = triggerOf(e);
      if (t.kind === 'event') throw new CofferError('conflict', 'event executors fire on committed changes, not by hand');
      await audit.append({ action: 'executor.trigger', outcome: 'allowed', workspaceId: workspace.id, workspace: workspace.name, ...actorFields(actor), detail: { executor: name } });
      let job;
      if (t.kind === 'schedule') {
        job = await enqueue(workspace, e, { trigger: 'manual', args: { scheduledTime: new Date().toISOString() }, createdBy: actor.principal.id });
      } else {
        const rawBody = input.body === undefined ? '' : typeof input.body === 'string' ? input.body : JSON.stringify(input.body);
        const request: HookRequest = {
          method: 'POST', path: `/hooks/${workspace.name}/${e.name}`, query: {},
          headers: visibleHeaders(Object.entries(input.headers ?? {})), body: input.body ?? null, rawBody,
        };
        job = await enqueue(workspace, e, { trigger: 'manual', args: {}, request, createdBy: actor.principal.id });
      }
      return job.job;
    },

    // ---- jobs ---------------------------------------------------------------------------

    async jobs(actor: Actor, wsName: string, name: string, q: { status?: JobStatus; limit: number; cursor?: string }) {
      const { workspace } = await workspaces.authorizeWorkspace(actor, wsName, 'executors.view');
      const e = await findOr404(workspace, name);
      const after = q.cursor ? decodeCursor(q.cursor) : undefined;
      const rows = await jobsRepo.listJobs(db, e.id, { status: q.status, limit: q.limit + 1, after });
      const page = rows.slice(0, q.limit);
      const last = page[page.length - 1];
      return { executor: e, jobs: page, nextCursor: rows.length > q.limit && last ? encodeCursor(last) : null };
    },

    async job(actor: Actor, wsName: string, id: string) {
      const { job } = await jobOr404(actor, wsName, id, 'executors.view');
      const e = await executorsRepo.findExecutorById(db, job.executorId);
      return { job, executorName: e?.name ?? null, attempts: await jobsRepo.listAttempts(db, job.id) };
    },

    async cancel(actor: Actor, wsName: string, id: string) {
      const { workspace, job } = await jobOr404(actor, wsName, id, 'executors.edit');
      const e = await executorsRepo.findExecutorById(db, job.executorId);
      const keep = e && triggerOf(e).kind === 'webhook' && (triggerOf(e) as WebhookTrigger).keepBody;
      const row = await inTransaction(db, async (tx) => {
        const r = await jobsRepo.cancelJob(tx, id, !keep);
        if (!r) throw new CofferError('job_finished', `job ${id} has already finished (${job.status})`);
        await audit.append({ action: 'job.cancel', outcome: 'allowed', workspaceId: workspace.id, workspace: workspace.name, ...actorFields(actor), detail: { jobId: id, executor: e?.name } }, tx);
        return r;
      });
      return row;
    },

    async retry(actor: Actor, wsName: string, id: string) {
      const { workspace, job } = await jobOr404(actor, wsName, id, 'executors.edit');
      const e = await executorsRepo.findExecutorById(db, job.executorId);
      if (!e) throw notFound('executor');
      if (job.status !== 'failed' && job.status !== 'canceled') throw new CofferError('conflict', `only failed or canceled jobs can be retried; this one is ${job.status}`);
      if (triggerOf(e).kind === 'webhook' && job.trigger !== 'schedule' && !job.requestCiphertext) {
        throw new CofferError('request_not_kept', 'the request of this job is no longer kept; set keepBody on the executor to retry finished webhook jobs');
      }
      const row = await inTransaction(db, async (tx) => {
        const r = await jobsRepo.requeueJob(tx, id, retryOf(e).maxAttempts);
        if (!r) throw new CofferError('conflict', 'the job changed state; try again');
        await audit.append({ action: 'job.retry', outcome: 'allowed', workspaceId: workspace.id, workspace: workspace.name, ...actorFields(actor), detail: { jobId: id, executor: e.name } }, tx);
        return r;
      });
      queue.wake();
      return row;
    },

    // ---- incoming webhooks (the HTTP side is webhooks.ts) -------------------------------------

    /** The executor behind /hooks/{ws}/{name}, or undefined for unknown, disabled or not a webhook (all one 404). */
    async hookTarget(wsName: string, name: string) {
      // Memoised like the other hot-path lookups: any committed change to an executor (or anything
      // else) moves the access epoch on, so a disable, delete or token rotation is seen at once.
      const row = await hookTargets.get(`${wsName}\0${name}`, () => executorsRepo.findHookTarget(db, wsName, name));
      if (!row || row.executor.disabled || triggerOf(row.executor).kind !== 'webhook') return undefined;
      return { workspace: row.workspace, executor: row.executor, trigger: triggerOf(row.executor) as WebhookTrigger };
    },

    rateLimit: (workspaceId: string) => rate.take(workspaceId),

    tokenMatches(executor: ExecutorRow, token: string | undefined): boolean {
      if (!token || !executor.tokenHash) return false;
      const hash = hashCredential(token);
      const current = constantTimeEqual(hash, executor.tokenHash);
      const previous = !!executor.previousTokenHash && !!executor.previousTokenUntil && executor.previousTokenUntil.getTime() > Date.now()
        && constantTimeEqual(hash, executor.previousTokenHash);
      return current || previous;
    },

    /** Bearer mode: the principal needs invoker (or higher) on the workspace. Non-members see the same 404 as everyone else. */
    async bearerAllowed(workspace: Workspace, principal: AuthPrincipal): Promise<'ok' | 'forbidden' | 'not_member'> {
      if (principal.isAdmin) return 'ok';
      const role = await findMemberRole(db, workspace.id, principal.id);
      if (!role) return 'not_member';
      return workspaceRoleAllows(role, 'functions.invoke') ? 'ok' : 'forbidden';
    },

    /**
     * Seconds until signature checks from this source address are allowed again, or 0. Per address
     * only, like failed logins: counting per executor would let anyone shut a webhook's real sender out.
     */
    signatureRetryAfter: (source: string) => signatureFailures.retryAfter([`src:${source}`]),

    async verifyHmac(workspace: Workspace, executor: ExecutorRow, trigger: WebhookTrigger, headers: Record<string, string>, body: Buffer, meta: { requestId: string; source: string }): Promise<Verdict | { ok: false; reason: 'replayed' }> {
      if (trigger.auth.mode !== 'hmac') throw new Error('verifyHmac: not an hmac executor');
      const { scheme, secret } = trigger.auth;
      const keys = await secrets.readForWebhook({
        workspaceId: workspace.id, workspaceName: workspace.name, executorId: executor.id, executorName: executor.name, requestId: meta.requestId,
      }, secret.vault, secret.name, settings.rotationGraceMs);
      let verdict: Verdict | { ok: false; reason: 'replayed' } = keys ? verifySignature(scheme, keys, headers, body) : { ok: false, reason: 'bad_signature' };
      if (verdict.ok && trigger.mode === 'sync' && verdict.deliveryId && !replays.firstTime(`${executor.id}\0${verdict.deliveryId}`)) {
        verdict = { ok: false, reason: 'replayed' };
      }
      if (!verdict.ok) {
        signatureFailures.recordFailure([`src:${meta.source}`]);
        // Anyone can send a bad signature, so these rows are throttled per source address like failed logins.
        await failureAudit.record(meta.source, {
          action: 'executor.webhook.rejected', outcome: 'denied', actorKind: 'webhook', requestId: meta.requestId, workspaceId: workspace.id, workspace: workspace.name,
          vault: secret.vault, secret: secret.name, detail: { executor: executor.name, scheme, reason: keys ? verdict.reason : 'signing_key_unavailable' },
        }).catch((err) => logger.warn({ requestId: meta.requestId, err: { code: (err as { code?: string })?.code } }, 'could not audit a rejected webhook'));
      }
      return verdict;
    },

    /** Async mode: the request becomes a job (the same job again for a repeated idempotency key within 24 h). */
    async accept(workspace: Workspace, executor: ExecutorRow, request: HookRequest, meta: { idempotencyKey?: string; depth?: string }) {
      const depth = chainDepth(meta.depth);
      const dedupeKey = meta.idempotencyKey ? `idem:${executor.id}:${crypto.createHash('sha256').update(meta.idempotencyKey).digest('hex')}` : undefined;
      const out = await enqueue(workspace, executor, { trigger: 'webhook', args: {}, request, dedupeKey, depth, window: IDEMPOTENCY_WINDOW_MS });
      return { jobId: out.job.id, replayed: !out.created };
    },

    /** Sync mode: runs the function now; the function sees a job id and attempt 1, but no job is stored. */
    async runNow(workspace: Workspace, executor: ExecutorRow, request: HookRequest, meta: { requestId: string; depth?: string }) {
      chainDepth(meta.depth);
      const jobId = newId('job');
      const target = targetOf(executor);
      if (target.kind !== 'function') throw new CofferError('conflict', 'sync webhooks need a function target');
      return functions.invokeAsExecutor({
        workspace, functionName: target.function, timeoutMs: target.timeoutMs, requestId: meta.requestId, trigger: 'webhook',
        executor: { id: executor.id, name: executor.name, jobId },
        args: { trigger: 'webhook', executor: executor.name, jobId, attempt: 1, ...request },
      });
    },
  };
}

export type ExecutorService = ReturnType<typeof createExecutorService>;

/** Lower-cased names, credentials and signatures removed. */
export function visibleHeaders(entries: Iterable<[string, string]>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of entries) {
    const name = k.toLowerCase();
    if (!HIDDEN_HEADERS.has(name)) out[name] = v;
  }
  return out;
}

function encodeCursor(job: jobsRepo.JobRow): string {
  return Buffer.from(`${job.createdAt.toISOString()}|${job.id}`).toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  const [at, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const createdAt = new Date(at ?? '');
  if (!id || !/^[A-Za-z0-9_-]{1,64}$/.test(id) || Number.isNaN(createdAt.getTime())) throw badRequest('cursor is not valid');
  return { createdAt, id };
}

export type { ScheduleTrigger };
