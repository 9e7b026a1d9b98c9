// What happens when a pipeline field resolves: its steps run in order, each as an invocation of a
// function's active version in the sandbox under the workspace's grants; `if`/`forEach`/`input` and
// `result` are evaluated in the sandbox too (expressions.ts), never here. Every secret read is
// grant-checked and audited with the pipeline, version, step and run id; the audit rows commit
// before anything the run produced leaves (fail closed); the run is recorded with its steps.
//
// Cost: a step without expressions is one invocation; a step with any is one more (all of its
// expressions in one go). Running all steps inside one worker is not done yet (see docs/pipelines.md).
import { createAccessCache, type AccessCachePolicy } from '../../db/access-cache.ts';
import type { Db } from '../../db/client.ts';
import * as repo from '../../db/repos/pipelines.ts';
import type { Workspace } from '../../db/schema.ts';
import { createRedactor, redactJsonResult, type InvocationOutcome, type LogLine, type Runtime, type SecretReader } from '../../runtime/index.ts';
import type { Actor } from '../actor.ts';
import type { AuditEntry, AuditLog } from '../audit/audit-log.ts';
import { newId } from '../crypto/credentials.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { RuntimeReader, SecretService } from '../services/secrets.ts';
import { stepNeedsPlan, type StepPlan } from './expressions.ts';
import { safeLogs, safeText, type RunRecords } from './runs.ts';
import { DEFAULT_DEADLINE_MS, type PipelineSpec, type StepSpec } from './spec.ts';

/** Expressions are plumbing: small, quick, and without secrets. */
const EXPRESSION_LIMITS = { timeoutMs: 5000, memoryMb: 64 };
/** Below this much time left, a step is not started. */
const MIN_STEP_MS = 10;

export interface RunRequest {
  actor: Actor;
  workspace: Workspace;
  pipeline: repo.PipelineRow;
  version: repo.PipelineVersionRow;
  args: Record<string, unknown>;
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
type StepRecord = repo.NewPipelineRunStep & { invocationIds: string[]; logs: LogLine[] };

const denyAll: SecretReader = async () => { throw Object.assign(new Error('expressions cannot read secrets'), { code: 'access_denied' }); };

export function createPipelineRunner(deps: {
  db: Db; runtime: Runtime; secrets: SecretService; audit: AuditLog; logger: Logger; records: RunRecords; accessCache?: AccessCachePolicy; metrics?: Metrics;
}) {
  const { db, runtime, secrets, audit, logger, records } = deps;
  const stepFunctions = createAccessCache<StepFunction | undefined>(deps.accessCache);

  async function run(req: RunRequest): Promise<RunOutcome> {
    const { actor, workspace, pipeline, version } = req;
    const spec = version.spec as PipelineSpec;
    const runId = newId('run');
    const startedAt = new Date();
    const started = performance.now();
    const deadlineAt = started + (spec.deadlineMs ?? DEFAULT_DEADLINE_MS);
    const remaining = () => Math.floor(deadlineAt - performance.now());
    const secretValues = new Set<string>();
    const auditRows: AuditEntry[] = [];
    const caller = { id: actor.principal.id, kind: actor.principal.kind, name: actor.principal.name };
    const outputs: Record<string, unknown> = {};
    const steps: StepRecord[] = spec.steps.map((s, position) => ({
      runId, position, name: s.name, function: s.function, status: 'not_run', durationMs: 0, invocationIds: [], logs: [], errorCode: null, errorMessage: null,
    }));

    const deadlineFailure = (): RunFailure => ({ code: 'timeout', message: `the run passed its ${spec.deadlineMs ?? DEFAULT_DEADLINE_MS} ms deadline` });

    /** One invocation of the expression module. */
    async function evaluate(request: Record<string, unknown>, rec: StepRecord | undefined): Promise<{ ok: true; value: any } | { ok: false; failure: RunFailure }> {
      const left = remaining();
      if (left < MIN_STEP_MS) return { ok: false, failure: deadlineFailure() };
      const invocationId = newId('inv');
      const outcome = await runtime.invoke({
        invocationId, workspaceId: workspace.id, codeKey: `pipeline:${pipeline.id}:${version.version}:${version.specHash}`, script: version.script,
        limits: { timeoutMs: Math.min(EXPRESSION_LIMITS.timeoutMs, left), memoryMb: EXPRESSION_LIMITS.memoryMb },
        args: { ...request, context: { args: req.args, pipeline: outputs, caller } }, exposeSecrets: true,
      }, denyAll);
      rec?.logs.push(...outcome.logs);
      if (!outcome.ok) return { ok: false, failure: failureOf(outcome, invocationId) };
      return { ok: true, value: outcome.result };
    }

    async function invokeFunction(fn: StepFunction, step: StepSpec, input: unknown, rec: StepRecord): Promise<{ ok: true; value: unknown } | { ok: false; failure: RunFailure }> {
      const left = remaining();
      if (left < MIN_STEP_MS) return { ok: false, failure: deadlineFailure() };
      const invocationId = newId('inv');
      rec.invocationIds.push(invocationId);
      const reader: RuntimeReader = {
        workspaceId: workspace.id, workspaceName: workspace.name, functionName: fn.name, functionVersion: fn.version, invocationId,
        principalId: actor.principal.id, requestId: actor.requestId, auditRows,
        auditDetail: { pipeline: pipeline.name, pipelineVersion: version.version, step: step.name, runId },
      };
      const outcome = await runtime.invoke({
        invocationId, workspaceId: workspace.id, codeKey: `${fn.id}:${fn.version}:${fn.codeHash}`, script: fn.script,
        limits: { timeoutMs: Math.min(step.timeoutMs ?? fn.timeoutMs, left), memoryMb: fn.memoryMb }, args: input, exposeSecrets: fn.exposeSecrets,
      }, async (vault, name) => {
        try {
          const value = await secrets.readForFunction(reader, vault, name);
          if (typeof value === 'string') secretValues.add(value);
          return value;
        } catch (err) {
          if ((err as { code?: unknown })?.code !== 'access_denied') {
            logger.error({ runId, invocationId, vault, secretName: name, err: { message: (err as Error)?.message } }, 'a secret read from a pipeline step failed');
          }
          throw err;
        }
      });
      // A read still in flight past the invocation's end writes its own row.
      reader.auditRows = undefined;
      deps.metrics?.invocation(outcome.ok ? 'ok' : outcome.code, 'pipeline');
      if (outcome.timings) deps.metrics?.invocationStages(outcome.timings);
      rec.logs.push(...outcome.logs);
      if (!outcome.ok) return { ok: false, failure: failureOf(outcome, invocationId) };
      return { ok: true, value: outcome.result };
    }

    async function runStep(i: number, rec: StepRecord): Promise<{ ok: true; output: unknown; skipped?: true } | { ok: false; failure: RunFailure }> {
      const step = spec.steps[i];
      let inputs: unknown[];
      if (stepNeedsPlan(spec, i)) {
        const plan = await evaluate({ step: i }, rec);
        if (!plan.ok) return plan;
        const p = plan.value as StepPlan;
        if ('skip' in p) return { ok: true, output: null, skipped: true };
        inputs = p.inputs;
      } else {
        inputs = [{ args: req.args, pipeline: outputs }];
      }
      const fn = await stepFunctions.get(`${workspace.id}\0${step.function}`, () => repo.findStepFunction(db, workspace.id, step.function));
      if (!fn) return { ok: false, failure: { code: 'not_found', message: `function "${step.function}" does not exist in this workspace` } };
      const results: unknown[] = [];
      for (const input of inputs) {
        const r = await invokeFunction(fn, step, input, rec);
        if (!r.ok) return r;
        results.push(r.value);
      }
      return { ok: true, output: step.forEach !== undefined ? results : results[0] };
    }

    let failure: RunFailure | undefined;
    let lastOutput: unknown = null;
    for (let i = 0; i < spec.steps.length && !failure; i++) {
      const step = spec.steps[i];
      const rec = steps[i];
      const t0 = performance.now();
      const r = await runStep(i, rec);
      rec.durationMs = Math.round(performance.now() - t0);
      if (r.ok) {
        rec.status = r.skipped ? 'skipped' : 'ok';
        outputs[step.name] = r.output;
        lastOutput = r.output;
        continue;
      }
      rec.status = 'failed';
      rec.errorCode = r.failure.code;
      rec.errorMessage = r.failure.message;
      if (step.onError === 'skip' && r.failure.code !== 'overloaded' && r.failure.code !== 'timeout') {
        outputs[step.name] = null;
        lastOutput = null;
        continue;
      }
      failure = { ...r.failure, step: step.name };
    }

    let value: unknown = lastOutput;
    if (!failure && spec.result !== undefined) {
      const r = await evaluate({ result: true }, undefined);
      if (r.ok) value = (r.value as { value: unknown }).value;
      else failure = { ...r.failure, step: 'result' };
    }

    // Nothing the run produced leaves until every secret read it made is on the audit trail.
    if (!(await audit.appendAll(auditRows).then(() => true, () => false))) {
      logger.error({ runId }, 'audit rows of a pipeline run could not be written; its output is withheld');
      failure = { code: 'unavailable', message: 'the audit trail could not be written, so the run\'s output is withheld' };
    }

    const redactor = createRedactor(secretValues);
    for (const rec of steps) {
      rec.logs = safeLogs(rec.logs.map((l) => ({ ...l, message: redactor.text(l.message) })));
      if (rec.errorMessage) rec.errorMessage = safeText(redactor.text(rec.errorMessage));
    }
    if (failure) {
      failure.message = redactor.text(failure.message);
      if (failure.stack) failure.stack = redactor.text(failure.stack);
    } else if (!spec.exposeSecrets && secretValues.size > 0) {
      value = redactJsonResult(JSON.stringify(value ?? null), redactor);
    }

    records.add({
      id: runId, pipelineId: pipeline.id, workspaceId: workspace.id, version: version.version, invokedBy: actor.principal.id, requestId: actor.requestId,
      outcome: failure ? 'error' : 'ok', errorCode: failure?.code ?? null, errorMessage: failure ? safeText(failure.message) : null, errorStep: failure?.step ?? null,
      durationMs: Math.round(performance.now() - started), startedAt,
    }, steps);

    return failure ? { ok: false, runId, ...failure } : { ok: true, runId, value };
  }

  return { run };
}

function failureOf(outcome: Extract<InvocationOutcome, { ok: false }>, invocationId: string): RunFailure {
  return { code: outcome.code, message: outcome.message, invocationId, ...(outcome.stack ? { stack: outcome.stack } : {}) };
}

export type PipelineRunner = ReturnType<typeof createPipelineRunner>;
