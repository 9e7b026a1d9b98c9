// What happens when a pipeline field resolves: the whole run goes to one sandbox worker
// (runtime.runPipeline), which runs the steps in order, each invocation of a step's function (its
// active version) in the run's own context under its own timeout, cut to what is left of the run's
// deadline; `if`/`forEach`/`input` and `result` are evaluated there too (expressions.ts), never
// here. Every secret read comes back here, one at a time, to a reader made for its step's
// invocation: grant-checked and audited with the pipeline, version, step and run id. The audit
// rows commit before anything the run produced leaves (fail closed); the run is recorded with its
// steps.
//
// Cost: one round trip to a worker per run, however many steps it has (see docs/pipelines.md).
import { createAccessCache, type AccessCachePolicy } from '../../db/access-cache.ts';
import type { Db } from '../../db/client.ts';
import * as repo from '../../db/repos/pipelines.ts';
import * as executorsRepo from '../../db/repos/executors.ts';
import type { Workspace } from '../../db/schema.ts';
import type { PipelineOutcome, PipelineRunRequest, Runtime, SecretReader } from '../../runtime/index.ts';
import type { Actor } from '../actor.ts';
import type { AuditEntry, AuditLog } from '../audit/audit-log.ts';
import { newId } from '../crypto/credentials.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { RuntimeReader, SecretService } from '../services/secrets.ts';
import type { ViaGroup } from '../services/workspaces.ts';
import { stepNeedsPlan } from './expressions.ts';
import { safeLogs, safeText, type RunRecords } from './runs.ts';
import { DEFAULT_DEADLINE_MS, type PipelineSpec } from './spec.ts';

/** Expressions are plumbing: small, quick, and without secrets. */
const EXPRESSION_LIMITS = { timeoutMs: 5000, memoryMb: 64 };

export interface RunRequest {
  actor: Actor;
  workspace: Workspace;
  pipeline: repo.PipelineRow;
  version: repo.PipelineVersionRow;
  args: Record<string, unknown>;
  /** The caller's right to run it came through a group: its reads' rows say which. */
  via?: ViaGroup;
}

export interface RunFailure {
  code: string;
  message: string;
  step?: string;
  invocationId?: string;
  stack?: string;
}

export type RunOutcome =
  | { ok: true; runId: string; value: unknown }
  | ({ ok: false; runId: string } & RunFailure);

type StepFunction = NonNullable<Awaited<ReturnType<typeof repo.findStepFunction>>>;

export function createPipelineRunner(deps: {
  db: Db; runtime: Runtime; secrets: SecretService; audit: AuditLog; logger: Logger; records: RunRecords; accessCache?: AccessCachePolicy; metrics?: Metrics;
}) {
  const { db, runtime, secrets, audit, logger, records } = deps;
  const stepFunctions = createAccessCache<StepFunction | undefined>(deps.accessCache);
  // A succeeded run is only an event when something listens for it: writing the row anyway cost an
  // audit commit per run (2-3 ms on PGlite, on the gateway's thread), as much as the steps. Memoised
  // under the access epoch, which creating, changing or deleting an executor moves on. (An event
  // executor hears only what happens after it exists, so nothing it could hear is skipped.)
  const successListened = createAccessCache<boolean>(deps.accessCache);

  async function run(req: RunRequest): Promise<RunOutcome> {
    const { actor, workspace, pipeline, version } = req;
    const spec = version.spec as PipelineSpec;
    const deadlineMs = spec.deadlineMs ?? DEFAULT_DEADLINE_MS;
    const runId = newId('run');
    const startedAt = new Date();
    const started = performance.now();
    const auditRows: AuditEntry[] = [];
    const readers: RuntimeReader[] = [];
    const caller = { id: actor.principal.id, kind: actor.principal.kind, name: actor.principal.name };

    const fns = await Promise.all(spec.steps.map((step) =>
      stepFunctions.get(`${workspace.id}\0${step.function}`, () => repo.findStepFunction(db, workspace.id, step.function))));
    const planned = spec.steps.some((_, i) => stepNeedsPlan(spec, i));

    /** Invocation numbers of the run -> invocation ids, made when first needed (a read, or the record). */
    const invocationIds = new Map<number, string>();
    const idOf = (n: number) => {
      let id = invocationIds.get(n);
      if (!id) invocationIds.set(n, (id = newId('inv')));
      return id;
    };
    const via = req.via ? { invokerViaGroup: req.via.viaGroup, invokerViaGroupId: req.via.viaGroupId } : {};

    const readerFor = (i: number, n: number): SecretReader => {
      const fn = fns[i];
      const step = spec.steps[i];
      if (!fn) return async () => { throw Object.assign(new Error('the step has no function'), { code: 'access_denied' }); };
      const invocationId = idOf(n);
      const reader: RuntimeReader = {
        workspaceId: workspace.id, workspaceName: workspace.name, functionName: fn.name, functionVersion: fn.version, invocationId,
        principalId: actor.principal.id, requestId: actor.requestId, auditRows,
        auditDetail: { pipeline: pipeline.name, pipelineVersion: version.version, step: step.name, runId, ...via },
      };
      readers.push(reader);
      return async (vault, name) => {
        try {
          return await secrets.readForFunction(reader, vault, name);
        } catch (err) {
          if ((err as { code?: unknown })?.code !== 'access_denied') {
            logger.error({ runId, invocationId, vault, secretName: name, err: { message: (err as Error)?.message } }, 'a secret read from a pipeline step failed');
          }
          throw err;
        }
      };
    };

    const request: PipelineRunRequest = {
      workspaceId: workspace.id, deadlineMs, args: req.args, caller,
      steps: spec.steps.map((step, i) => {
        const fn = fns[i];
        return {
          name: step.name, codeKey: fn ? `${fn.id}:${fn.version}:${fn.codeHash}` : '', script: fn?.script ?? '',
          limits: { timeoutMs: step.timeoutMs ?? fn?.timeoutMs ?? deadlineMs, memoryMb: fn?.memoryMb ?? EXPRESSION_LIMITS.memoryMb },
          exposeSecrets: fn?.exposeSecrets ?? false, planned: stepNeedsPlan(spec, i), forEach: step.forEach !== undefined, skipOnError: step.onError === 'skip',
          ...(fn ? {} : { missing: `function "${step.function}" does not exist in this workspace` }),
        };
      }),
      ...(planned || spec.result !== undefined
        ? { expressions: { codeKey: `pipeline:${pipeline.id}:${version.version}:${version.specHash}`, script: version.script, limits: EXPRESSION_LIMITS } }
        : {}),
      result: spec.result !== undefined,
      exposeSecrets: spec.exposeSecrets === true,
    };
    const outcome: PipelineOutcome = await runtime.runPipeline(request, readerFor);
    // A read still in flight now (its answer will be dropped) writes its own row from here on.
    for (const r of readers) r.auditRows = undefined;
    for (const s of outcome.steps) {
      for (let n = 0; n < s.invocations.length; n++) deps.metrics?.invocation(s.status === 'failed' && n === s.invocations.length - 1 ? (s.errorCode ?? 'function_error') : 'ok', 'pipeline');
    }
    deps.metrics?.stage('sandbox', outcome.durationMs / 1000);

    let failure: RunFailure | undefined;
    if (!outcome.ok) {
      const step = outcome.step === undefined ? undefined : outcome.step < 0 ? 'result' : spec.steps[outcome.step]?.name;
      // The gateway's watchdog speaks of a function's timeout; for a run it was the deadline.
      const message = outcome.code === 'timeout' && outcome.step === undefined ? `the run passed its ${deadlineMs} ms deadline` : outcome.message;
      failure = {
        code: outcome.code, message, ...(step ? { step } : {}), ...(outcome.invocation !== undefined ? { invocationId: idOf(outcome.invocation) } : {}),
        ...(outcome.stack ? { stack: outcome.stack } : {}),
      };
    }

    // The run is an event (api/events): pipeline.run.succeeded or .failed, with names, numbers and
    // the failure's code only (a message may quote what a step read). A failure, or a run that read
    // secrets, commits it with the reads, before the answer. A run that succeeded without reading
    // has nothing to commit first, so its event does not hold the answer up: it is appended right
    // after, like the run's record (a gateway dying in between loses both), and only when an event
    // executor of the workspace listens for it (successListened). A run refused at the
    // door (overloaded) ran nothing and is not an event.
    const event: AuditEntry | undefined = failure?.code === 'overloaded' && failure.step === undefined ? undefined : {
      action: failure ? 'pipeline.run.failed' : 'pipeline.run.succeeded', outcome: 'allowed',
      actorId: actor.principal.id, actorKind: actor.principal.kind, requestId: actor.requestId,
      workspaceId: workspace.id, workspace: workspace.name, invocationId: failure?.invocationId ?? null,
      detail: {
        pipeline: pipeline.name, pipelineVersion: version.version, runId,
        ...(failure ? { code: failure.code, ...(failure.step ? { step: failure.step } : {}) } : {}),
      },
    };
    const eventAfter = event && !failure && auditRows.length === 0;
    if (event && !eventAfter) auditRows.push(event);

    // Nothing the run produced leaves until every secret read it made is on the audit trail.
    if (!(await audit.appendAll(auditRows).then(() => true, () => false))) {
      logger.error({ runId }, 'audit rows of a pipeline run could not be written; its output is withheld');
      failure = { code: 'unavailable', message: 'the audit trail could not be written, so the run\'s output is withheld' };
    }

    const steps: repo.NewPipelineRunStep[] = spec.steps.map((s, position) => {
      const o = outcome.steps[position];
      return {
        runId, position, name: s.name, function: s.function, status: o?.status ?? 'not_run', durationMs: o?.durationMs ?? 0,
        invocationIds: (o?.invocations ?? []).map(idOf), logs: safeLogs(o?.logs ?? []),
        errorCode: o?.errorCode ?? null, errorMessage: o?.errorMessage !== undefined ? safeText(o.errorMessage) : null,
      };
    });
    records.add({
      id: runId, pipelineId: pipeline.id, workspaceId: workspace.id, version: version.version, invokedBy: actor.principal.id, requestId: actor.requestId,
      outcome: failure ? 'error' : 'ok', errorCode: failure?.code ?? null, errorMessage: failure ? safeText(failure.message) : null, errorStep: failure?.step ?? null,
      durationMs: Math.round(performance.now() - started), startedAt,
    }, steps);

    if (eventAfter && !failure) {
      successListened.get(workspace.id, () => executorsRepo.hasEventListener(db, workspace.id, 'pipeline.run.succeeded'))
        .then((listened) => listened ? audit.append(event) : undefined)
        .catch((err) => logger.error({ runId, err: { message: (err as Error)?.message } }, 'the event of a pipeline run could not be written'));
    }
    return failure ? { ok: false, runId, ...failure } : { ok: true, runId, value: outcome.ok ? outcome.value : null };
  }

  return { run };
}

export type PipelineRunner = ReturnType<typeof createPipelineRunner>;
