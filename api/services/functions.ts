// What happens when a function is deployed, rolled back, deleted or invoked: all of it is here.
// Deploy compiles once (compileFunction, then runtime.validate) and stores an immutable version;
// invoke runs the active version in the runtime with a secret reader that checks the workspace's
// grant on every read and collects the read's audit row; the rows are committed before the
// invocation answers, and each invocation leaves a record (see invocation-records.ts).
import crypto from 'node:crypto';
import { parse } from 'acorn';
import { inTransaction, type Db } from '../../db/client.ts';
import { createAccessCache, type AccessCachePolicy } from '../../db/access-cache.ts';
import { createInvocationRecords } from './invocation-records.ts';
import * as fnRepo from '../../db/repos/functions.ts';
import type { Workspace } from '../../db/schema.ts';
import {
  compileFunction, createRuntime, DEFAULT_LIMITS, MAX_LIMITS, MIN_LIMITS,
  type FunctionLimits, type InvocationOutcome, type LogLine, type PrefetchedValue, type Runtime, type RuntimeOptions, type ValidateResult,
} from '../../runtime/index.ts';
import { CofferError, notFound } from '../errors.ts';
import { isResourceName } from '../../domain/names.ts';
import { newId } from '../crypto/credentials.ts';
import { actorFields, type Actor } from '../actor.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { Logger } from '../logger.ts';
import { checkWorkspaceAccess, viaGroup, type WorkspaceService } from './workspaces.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { PrefetchedRead, RuntimeReader, SecretService } from './secrets.ts';
import { createReadPrefetch, type ExpectedRead } from './read-prefetch.ts';

export const MAX_CODE_BYTES = 256 * 1024;
export { DEFAULT_LIMITS, MAX_LIMITS, MIN_LIMITS };

/** Compiled scripts of active versions kept in memory: versions are immutable, so they never go stale. */
const SCRIPT_CACHE_SIZE = 256;
const OVERLOAD_RETRY_AFTER_S = '1';

export interface DeployInput {
  code: string;
  timeoutMs?: number;
  memoryMb?: number;
  exposeSecrets?: boolean;
  description?: string;
}

export interface InvocationSuccess {
  invocationId: string;
  version: number;
  result: unknown;
  logs: LogLine[];
  durationMs: number;
  cpuMs: number;
  /** performance.now() when the runtime was asked: where the http_auth stage ends (not part of any response). */
  runStartedAt: number;
}

type ActiveScript = NonNullable<Awaited<ReturnType<typeof fnRepo.findActiveScript>>>;

export function createFunctionService(deps: {
  db: Db; audit: AuditLog; workspaces: WorkspaceService; secrets: SecretService; runtime: Runtime; logger: Logger;
  invocationRetentionMs: number; accessCache?: AccessCachePolicy; metrics?: Metrics;
}) {
  const { db, audit, workspaces, secrets, runtime, logger, invocationRetentionMs, metrics } = deps;
  const targets = createAccessCache<Awaited<ReturnType<typeof fnRepo.findInvocationTarget>>>(deps.accessCache);
  const executorTargets = createAccessCache<Awaited<ReturnType<typeof fnRepo.findFunction>>>(deps.accessCache);
  const scripts = new Map<string, ActiveScript>();
  const records = createInvocationRecords({ db, logger, retentionMs: invocationRetentionMs, audit });
  // Reads are decided ahead only where grant lookups are memoised (secrets.prefetchForFunction):
  // without that there is nothing to learn or to ask it on each invocation.
  const readPrefetch = deps.accessCache ? createReadPrefetch() : undefined;

  /** The reads the version made last time, decided now; those not allowed (or not decidable ahead) are left to the function's own read. */
  async function prefetchReads(reader: RuntimeReader, codeKey: string): Promise<PrefetchedRead[]> {
    const expected = readPrefetch?.expected(codeKey) ?? [];
    const decided = await Promise.all(expected.map(({ vault, name }) => secrets.prefetchForFunction(reader, vault, name).catch(() => undefined)));
    return decided.filter((read): read is PrefetchedRead => read !== undefined);
  }

  async function findFunctionOr404(workspace: Workspace, name: string) {
    const fn = await fnRepo.findFunction(db, workspace.id, name);
    if (!fn) throw notFound('function');
    return fn;
  }

  async function activeScript(fn: fnRepo.FunctionRow): Promise<ActiveScript> {
    const key = `${fn.id}:${fn.activeVersion}`;
    let hit = scripts.get(key);
    if (!hit) {
      hit = await fnRepo.findActiveScript(db, fn.id, fn.activeVersion);
      if (!hit) throw notFound('active version');
      if (scripts.size >= SCRIPT_CACHE_SIZE) scripts.delete(scripts.keys().next().value!);
      scripts.set(key, hit);
    }
    return hit;
  }

  /** authorizeWorkspace(actor, ws, 'functions.invoke') and the function lookup in one query. */
  async function invocationTarget(actor: Actor, wsName: string, name: string) {
    const row = isResourceName(wsName)
      ? await targets.get(`${wsName}\0${actor.principal.id}\0${name}`, () => fnRepo.findInvocationTarget(db, wsName, actor.principal.id, name))
      : undefined;
    if (!row) throw notFound('workspace');
    checkWorkspaceAccess(actor, wsName, row.role, 'functions.invoke');
    if (!row.fn) throw notFound('function');
    return { workspace: row.workspace, fn: row.fn, via: viaGroup(actor, row) };
  }

  async function run(workspace: Workspace, fn: fnRepo.FunctionRow, args: unknown, who: {
    principalId: string; requestId: string; trigger: string; executor?: { id: string; name: string; jobId: string }; timeoutMs?: number;
    /** The invoker's right to run it came through a group: its reads' rows say which. */
    via?: { viaGroup: string; viaGroupId: string };
  }): Promise<InvocationSuccess> {
    const version = fn.activeVersion;
    const active = await activeScript(fn);
    const invocationId = newId('inv');
    const startedAt = new Date();
    const reader: RuntimeReader = {
      workspaceId: workspace.id, workspaceName: workspace.name, functionName: fn.name, functionVersion: version,
      invocationId, principalId: who.principalId, requestId: who.requestId, auditRows: [],
      auditDetail: who.executor ? { executor: who.executor.name, executorId: who.executor.id, jobId: who.executor.jobId }
        : who.via ? { invokerViaGroup: who.via.viaGroup, invokerViaGroupId: who.via.viaGroupId } : undefined,
    };
    const invokeStarted = performance.now();
    const codeKey = `${fn.id}:${version}:${active.codeHash}`;
    const prefetched = await prefetchReads(reader, codeKey);
    let prefetchMs = performance.now() - invokeStarted;
    /** The reads made through the gateway that were allowed, and (after the run) the prefetched ones made: learned for next time. */
    const madeReads: ExpectedRead[] = [];
    let outcome = await runtime.invoke({
      invocationId, workspaceId: workspace.id, codeKey, script: active.script,
      limits: { timeoutMs: who.timeoutMs ?? active.timeoutMs, memoryMb: active.memoryMb }, args, exposeSecrets: active.exposeSecrets,
      ...(prefetched.length > 0 ? { prefetch: prefetched.map((p): PrefetchedValue => [p.vault, p.name, p.value ?? null]) } : {}),
    }, async (vault, secretName) => {
      try {
        const value = await secrets.readForFunction(reader, vault, secretName);
        madeReads.push({ vault, name: secretName });
        return value;
      } catch (err) {
        if ((err as { code?: unknown })?.code !== 'access_denied') {
          logger.error({ invocationId, vault, secretName, err: { message: (err as Error)?.message, code: (err as { code?: unknown })?.code } }, 'a secret read from a function failed');
        }
        throw err;
      }
    });
    // Prefetched reads the function made are decided again and recorded with the others. Unknown
    // which (dispatched, and the worker never answered): all of them, since any may have been made.
    let unconfirmed = false;
    if (prefetched.length > 0) {
      const confirmStarted = performance.now();
      const used = outcome.prefetchUsed ?? prefetched.map((_, i) => i);
      let revoked: string | undefined;
      for (const i of used) {
        const read = prefetched[i];
        if (madeReads.some((r) => r.vault === read.vault && r.name === read.name)) continue; // recorded when made through the gateway
        // Undecidable now (the database is gone): the read cannot be audited, so the output is withheld below.
        const allowed = await secrets.confirmPrefetched(reader, read).catch(() => undefined);
        if (allowed === undefined) { unconfirmed = true; break; }
        if (allowed) madeReads.push({ vault: read.vault, name: read.name });
        else revoked ??= read.vault;
      }
      if (revoked !== undefined) {
        outcome = { ok: false, code: 'function_error', message: `access denied to vault "${revoked}"`, logs: outcome.logs, durationMs: outcome.durationMs, cpuMs: outcome.cpuMs, timings: outcome.timings };
      }
      prefetchMs += performance.now() - confirmStarted;
    }
    // Learned only from a run its worker answered (timings come with its answer): one refused at the
    // door read nothing, and one cut short may have read only part.
    if (outcome.timings && (outcome.ok || outcome.code === 'function_error')) readPrefetch?.learn(codeKey, madeReads);
    metrics?.stage('invoke', (performance.now() - invokeStarted) / 1000);
    // Deciding the prefetched reads, before and after the run, is this invocation's secret-read time too.
    if (outcome.timings) metrics?.invocationStages(prefetched.length > 0 ? { ...outcome.timings, secretReadsMs: outcome.timings.secretReadsMs + prefetchMs } : outcome.timings);
    metrics?.invocation(outcome.ok ? 'ok' : outcome.code, who.executor ? 'executor' : 'direct');
    // Nothing the function produced leaves until every secret read it made is on the audit trail.
    // A read still in flight at the deadline writes its own row from here on.
    const auditRows = reader.auditRows!;
    // A failure is an `invocation.failed` event (api/events), committed with the reads. Not for work an
    // event started: a subscriber whose function fails would otherwise feed itself (its job's failure
    // is still reported, as executor.job.failed, at a bounded chain depth). Refused-at-the-door
    // overloads ran nothing and are not events.
    if (!outcome.ok && who.trigger !== 'event' && outcome.code !== 'overloaded') {
      auditRows.push({
        action: 'invocation.failed', outcome: 'allowed', actorId: who.principalId, actorKind: who.executor ? 'executor' : null,
        requestId: who.requestId, workspaceId: workspace.id, workspace: workspace.name, function: fn.name, invocationId,
        detail: { code: outcome.code, functionVersion: version, trigger: who.trigger, ...(who.executor ? { executor: who.executor.name, jobId: who.executor.jobId } : {}) },
      });
    }
    reader.auditRows = undefined;
    const auditStarted = performance.now();
    const audited = !unconfirmed && (auditRows.length === 0 || await audit.appendAll(auditRows).then(() => true, () => false));
    metrics?.stage('audit_commit', (performance.now() - auditStarted) / 1000);
    if (!audited) {
      logger.error({ invocationId }, 'audit rows of an invocation could not be written; its output is withheld');
      records.add({
        id: invocationId, functionId: fn.id, workspaceId: workspace.id, version, invokedBy: who.principalId, trigger: who.trigger,
        outcome: 'error', errorCode: 'unavailable', errorMessage: 'the audit trail could not be written', logs: [],
        durationMs: Math.round(outcome.durationMs), cpuMs: Math.round(outcome.cpuMs), startedAt,
      });
      throw new CofferError('unavailable', 'the audit trail could not be written, so the invocation\'s output is withheld', {
        headers: { 'Retry-After': '5' }, details: { invocationId, version },
      });
    }
    records.add({
      id: invocationId, functionId: fn.id, workspaceId: workspace.id, version, invokedBy: who.principalId, trigger: who.trigger,
      outcome: outcome.ok ? 'ok' : 'error', errorCode: outcome.ok ? null : outcome.code, errorMessage: outcome.ok ? null : outcome.message,
      logs: outcome.logs, durationMs: Math.round(outcome.durationMs), cpuMs: Math.round(outcome.cpuMs), startedAt,
    });
    if (!outcome.ok) throw invocationError(outcome, invocationId, version);
    return { invocationId, version, result: outcome.result, logs: outcome.logs, durationMs: ms(outcome.durationMs), cpuMs: ms(outcome.cpuMs), runStartedAt: invokeStarted };
  }

  return {
    async deploy(actor: Actor, wsName: string, name: string, input: DeployInput) {
      const { workspace, via } = await workspaces.authorizeWorkspace(actor, wsName, 'functions.deploy');
      if (Buffer.byteLength(input.code, 'utf8') > MAX_CODE_BYTES) {
        throw new CofferError('payload_too_large', `function code is limited to ${MAX_CODE_BYTES / 1024} KiB`);
      }
      const compiled = compileFunction(input.code);
      if (!compiled.ok) throw compileError(compiled.message, compiled.line, compiled.column);
      const limits: FunctionLimits = {
        timeoutMs: input.timeoutMs ?? DEFAULT_LIMITS.timeoutMs,
        memoryMb: input.memoryMb ?? DEFAULT_LIMITS.memoryMb,
      };
      const checked = await runtime.validate(compiled.script, limits, workspace.id);
      if (!checked.ok) throw validationError(checked, input.code);

      const codeHash = crypto.createHash('sha256').update(input.code).digest('hex');
      return inTransaction(db, async (tx) => {
        const fn = await fnRepo.reserveNextVersion(tx, { id: newId('fn'), workspaceId: workspace.id, name, createdBy: actor.principal.id });
        const version = fn.latestVersion;
        await fnRepo.insertVersion(tx, {
          functionId: fn.id, version, code: input.code, script: compiled.script, codeHash, description: input.description ?? null,
          timeoutMs: limits.timeoutMs, memoryMb: limits.memoryMb, exposeSecrets: input.exposeSecrets ?? false, deployedBy: actor.principal.id,
        });
        await audit.append({
          action: 'function.deploy', outcome: 'allowed', workspaceId: workspace.id, workspace: workspace.name, function: name, ...actorFields(actor),
          detail: { functionVersion: version, codeHash, ...limits, exposeSecrets: input.exposeSecrets ?? false, ...via },
        }, tx);
        const active = await fnRepo.findVersionMeta(tx, fn.id, version);
        return { fn, active: active!, created: version === 1 };
      });
    },

    async list(actor: Actor, wsName: string) {
      const { workspace } = await workspaces.authorizeWorkspace(actor, wsName, 'functions.view');
      return fnRepo.listFunctions(db, workspace.id);
    },

    async get(actor: Actor, wsName: string, name: string) {
      const { workspace } = await workspaces.authorizeWorkspace(actor, wsName, 'functions.view');
      const fn = await findFunctionOr404(workspace, name);
      const active = await fnRepo.findVersionMeta(db, fn.id, fn.activeVersion);
      return { fn, active: active! };
    },

    async remove(actor: Actor, wsName: string, name: string) {
      const { workspace, via } = await workspaces.authorizeWorkspace(actor, wsName, 'functions.deploy');
      const fn = await findFunctionOr404(workspace, name);
      await records.flush();
      await inTransaction(db, async (tx) => {
        await fnRepo.deleteFunction(tx, fn.id);
        await audit.append({ action: 'function.delete', outcome: 'allowed', workspaceId: workspace.id, workspace: workspace.name, function: name, detail: via, ...actorFields(actor) }, tx);
      });
    },

    async versions(actor: Actor, wsName: string, name: string) {
      const { workspace } = await workspaces.authorizeWorkspace(actor, wsName, 'functions.view');
      const fn = await findFunctionOr404(workspace, name);
      return { fn, versions: await fnRepo.listVersions(db, fn.id) };
    },

    async version(actor: Actor, wsName: string, name: string, version: number) {
      const { workspace } = await workspaces.authorizeWorkspace(actor, wsName, 'functions.view');
      const fn = await findFunctionOr404(workspace, name);
      const row = await fnRepo.findVersion(db, fn.id, version);
      if (!row) throw notFound('version');
      return { fn, version: row };
    },

    async activate(actor: Actor, wsName: string, name: string, version: number) {
      const { workspace, via } = await workspaces.authorizeWorkspace(actor, wsName, 'functions.deploy');
      const fn = await findFunctionOr404(workspace, name);
      return inTransaction(db, async (tx) => {
        const target = await fnRepo.findVersionMeta(tx, fn.id, version);
        if (!target) throw notFound('version');
        const updated = await fnRepo.setActiveVersion(tx, fn.id, version);
        if (!updated) throw notFound('function');
        await audit.append({
          action: 'function.activate', outcome: 'allowed', workspaceId: workspace.id, workspace: workspace.name, function: name, ...actorFields(actor),
          detail: { functionVersion: version, previousVersion: fn.activeVersion, ...via },
        }, tx);
        return { fn: updated, active: target };
      });
    },

    async invoke(actor: Actor, wsName: string, name: string, args: unknown): Promise<InvocationSuccess> {
      const { workspace, fn, via } = await invocationTarget(actor, wsName, name);
      return run(workspace, fn, args, { principalId: actor.principal.id, requestId: actor.requestId, trigger: 'api', via });
    },

    /**
     * Runs a function for an executor (a webhook or a schedule). The executor was authorised when an
     * editor configured it, so there is no caller to check here; every secret read is still checked
     * against the workspace's grants, and its audit row names the executor and the job.
     */
    async invokeAsExecutor(input: {
      workspace: Workspace; functionName: string; args: unknown; timeoutMs?: number; requestId: string;
      executor: { id: string; name: string; jobId: string }; trigger: 'webhook' | 'schedule' | 'manual' | 'event';
    }): Promise<InvocationSuccess> {
      const fn = await executorTargets.get(`${input.workspace.id}\0${input.functionName}`, () => fnRepo.findFunction(db, input.workspace.id, input.functionName));
      if (!fn) throw notFound('function');
      return run(input.workspace, fn, input.args, {
        principalId: input.executor.id, requestId: input.requestId, trigger: input.trigger, executor: input.executor, timeoutMs: input.timeoutMs,
      });
    },

    async invocations(actor: Actor, wsName: string, name: string, limit: number) {
      const { workspace } = await workspaces.authorizeWorkspace(actor, wsName, 'functions.view');
      const fn = await findFunctionOr404(workspace, name);
      await records.flush();
      return fnRepo.listInvocations(db, fn.id, limit);
    },

    async invocation(actor: Actor, wsName: string, name: string, id: string) {
      const { workspace } = await workspaces.authorizeWorkspace(actor, wsName, 'functions.view');
      const fn = await findFunctionOr404(workspace, name);
      await records.flush();
      const row = await fnRepo.findInvocation(db, fn.id, id);
      if (!row) throw notFound('invocation');
      return row;
    },

    /** Deletes invocation records older than the retention period now (also runs on a timer). */
    prune: records.prune,

    /** Stops the prune timer and waits for invocation records still being written. */
    close: records.close,
  };
}

export type FunctionService = ReturnType<typeof createFunctionService>;

const ms = (n: number) => Math.round(n * 1000) / 1000;

function compileError(message: string, line: number, column: number, details: Record<string, unknown> = {}) {
  const bare = message.replace(/ \(line \d+\)$/, '');
  return new CofferError('compile_error', `${bare} (line ${line}, column ${column})`, { details: { line, column, ...details } });
}

/** A deploy-time evaluation failure, located in the user's source where the runtime could not say. */
function validationError(checked: Extract<ValidateResult, { ok: false }>, code: string): CofferError {
  if (checked.code === 'overloaded') return new CofferError('overloaded', 'the runtime is too busy to check the function; try again', { headers: { 'Retry-After': OVERLOAD_RETRY_AFTER_S } });
  if (checked.code === 'worker_crashed') return new CofferError('worker_crashed', 'the runtime failed while checking the function; try again');
  const at = checked.line !== undefined ? { line: checked.line, column: checked.column ?? 1 } : defaultExportLocation(code);
  const what = checked.code === 'not_callable' ? checked.message : `the module's top level failed (${checked.code}): ${checked.message}`;
  return compileError(what, at.line, at.column, { reason: checked.code });
}

function defaultExportLocation(code: string): { line: number; column: number } {
  try {
    const program = parse(code, { ecmaVersion: 'latest', sourceType: 'module', locations: true });
    const node = program.body.find((n) => n.type === 'ExportDefaultDeclaration' || n.type === 'ExportNamedDeclaration');
    if (node?.loc) return { line: node.loc.start.line, column: node.loc.start.column + 1 };
  } catch { /* already parsed once; cannot fail here */ }
  return { line: 1, column: 1 };
}

function invocationError(outcome: Extract<InvocationOutcome, { ok: false }>, invocationId: string, version: number): CofferError {
  const details: Record<string, unknown> = {
    invocationId, version, logs: outcome.logs, durationMs: ms(outcome.durationMs), cpuMs: ms(outcome.cpuMs),
    ...(outcome.stack ? { stack: outcome.stack } : {}),
  };
  const headers = outcome.code === 'overloaded' ? { 'Retry-After': OVERLOAD_RETRY_AFTER_S } : undefined;
  return new CofferError(outcome.code, outcome.message, { details, headers });
}

/**
 * The runtime, started on first use: a server that never deploys or invokes a function never forks
 * a worker. The gateway itself never loads isolated-vm; only the forked workers do.
 */
export function startRuntimeOnFirstUse(options: RuntimeOptions): Runtime & { readonly started: boolean } {
  let real: Runtime | undefined;
  let closed = false;
  const get = () => (real ??= createRuntime(options));
  return {
    get started() { return real !== undefined; },
    invoke: (req, readSecret) => (closed
      ? Promise.resolve({ ok: false, code: 'worker_crashed', message: 'the runtime is closed', logs: [], durationMs: 0, cpuMs: 0 })
      : get().invoke(req, readSecret)),
    runPipeline: (req, readerFor) => (closed
      ? Promise.resolve({ ok: false, code: 'worker_crashed', message: 'the runtime is closed', steps: [], durationMs: 0, cpuMs: 0 })
      : get().runPipeline(req, readerFor)),
    validate: (script, limits, workspaceId) => (closed
      ? Promise.resolve({ ok: false, code: 'worker_crashed', message: 'the runtime is closed' })
      : get().validate(script, limits, workspaceId)),
    stats: () => real?.stats() ?? { workers: 0, busy: 0, queued: 0, restarts: 0, recycles: 0, isolates: { active: 0, idle: 0 } },
    async close() {
      closed = true;
      await real?.close();
    },
  };
}
