// The runtime's only export surface. The API layer compiles a function once per deployed version
// (compileFunction), validates it (validate), and invokes it (invoke) with a SecretReader that does
// the grant check, decryption and audit for each secret the function reads.
//
// Overload: when every worker is busy and the queue holds `maxQueue` invocations, invoke() resolves
// at once to `{ ok: false, code: 'overloaded' }` (it never throws for that); validate() resolves to
// `{ ok: false, code: 'overloaded' }` the same way. After close(), both answer `worker_crashed`.
// A workspace at its own caps (running or waiting invocations) also gets `overloaded`; an invocation
// that reads too many distinct secrets or is denied too often ends with `secret_read_limit`.
// Outcomes carry redacted texts: the worker redacts before anything leaves it.
//
// runPipeline() runs all steps of a pipeline run in one worker (pipeline-worker.ts): one round trip
// for the run instead of one per step, the run's invocations in one context of their own (made
// once per run and memory size, dropped when it answers), each secret read
// still coming back here to the reader of its step's invocation. It answers like invoke(): never
// throws, `overloaded` / `worker_crashed` for the runtime's own troubles.
import type { InvocationOutcome, PipelineOutcome, ValidateResult } from './errors.ts';
import type { FunctionLimits } from './limits.ts';
import { createPool, type PipelineJob, type PoolOptions, type PoolStats } from './pool.ts';
import type { SecretReader } from './secret-reads.ts';
import type { PrefetchedValue } from './protocol.ts';

export { compileFunction, type CompileResult } from './compile.ts';
export { DEFAULT_LIMITS, MAX_LIMITS, MIN_LIMITS, type FunctionLimits } from './limits.ts';
export type { InvocationOutcome, InvocationTimings, LogLine, ValidateResult, InvocationFailureCode, PipelineOutcome, PipelineStepOutcome } from './errors.ts';
export type { SecretReader } from './secret-reads.ts';
export type { PrefetchedValue } from './protocol.ts';
export { redactSecrets, createRedactor, redactJsonResult, REDACTED, MIN_REDACTED_LENGTH, type Redactor } from './redact.ts';

export interface InvocationRequest {
  invocationId: string;
  /** One isolate never runs functions of two workspaces. */
  workspaceId: string;
  /** Stable cache key of a deployed version's script, e.g. `${functionId}:${version}:${codeHash}`; immutable. */
  codeKey: string;
  /** From compileFunction. */
  script: string;
  limits: FunctionLimits;
  /** A JSON value, copied into the isolate; undefined (no args) reaches the function as undefined. */
  args: unknown;
  /** If false, secret values are redacted from the result too (logs and errors always are). */
  exposeSecrets: boolean;
  /**
   * Reads the caller has already decided, [vault, name, value or null]: the worker answers them
   * without asking readSecret. The outcome's prefetchUsed says which the function made; the caller
   * must record those before releasing anything.
   */
  prefetch?: PrefetchedValue[];
}

/** One pipeline run; the steps' scripts and limits are their functions' active versions. */
export interface PipelineRunRequest {
  workspaceId: string;
  /** The whole run's deadline; every invocation's timeout is cut to what is left of it. */
  deadlineMs: number;
  /** Copied into every expression evaluation as context.args / context.caller, and into default step inputs. */
  args: unknown;
  caller: unknown;
  steps: PipelineJob['steps'];
  /** The expression module (api/pipelines/expressions.ts); needed if any step is planned or `result` is set. */
  expressions?: PipelineJob['expressions'];
  result: boolean;
  exposeSecrets: boolean;
}

export interface Runtime {
  invoke(req: InvocationRequest, readSecret: SecretReader): Promise<InvocationOutcome>;
  /** `readerFor(step, invocation)` gives the reader for one invocation of a step; asked at its first secret read. */
  runPipeline(req: PipelineRunRequest, readerFor: (step: number, invocation: number) => SecretReader): Promise<PipelineOutcome>;
  /** Evaluates the top level in a fresh context under `limits`; `not_callable` if the default export is not a function. */
  validate(script: string, limits: FunctionLimits, workspaceId: string): Promise<ValidateResult>;
  /**
   * workers: live worker processes; busy: invocations running in them; queued: waiting; restarts:
   * unexpected worker deaths; recycles: planned replacements; isolates: the workers' isolates,
   * active (running an invocation) and idle (pooled warm), as each worker last reported them.
   */
  stats(): PoolStats;
  /** Kills the workers; pending invocations answer worker_crashed. Idempotent. */
  close(): Promise<void>;
}

export type RuntimeOptions = PoolOptions;

const pools = new WeakMap<Runtime, ReturnType<typeof createPool>>();

export function createRuntime(options: RuntimeOptions = {}): Runtime {
  const pool = createPool(options);
  const runtime: Runtime = {
    invoke(req, readSecret) {
      let argsJson: string | undefined;
      try {
        argsJson = req.args === undefined ? undefined : JSON.stringify(req.args);
      } catch { /* answered below */ }
      if (argsJson === undefined && req.args !== undefined) {
        return Promise.resolve({ ok: false, code: 'function_error', message: 'args must be a JSON value', logs: [], durationMs: 0, cpuMs: 0 });
      }
      return pool.invoke({
        workspaceId: req.workspaceId, codeKey: req.codeKey, script: req.script, limits: req.limits, argsJson,
        validateOnly: false, exposeSecrets: req.exposeSecrets, readSecret, prefetch: req.prefetch,
      });
    },
    async runPipeline(req, readerFor) {
      const started = performance.now();
      let contextJson: string;
      try {
        contextJson = JSON.stringify({ args: req.args ?? null, caller: req.caller ?? null });
      } catch {
        return { ok: false, code: 'function_error', message: 'args must be a JSON value', steps: [], durationMs: 0, cpuMs: 0 };
      }
      const m = await pool.runPipeline({
        workspaceId: req.workspaceId, deadlineMs: req.deadlineMs, contextJson, steps: req.steps, expressions: req.expressions,
        result: req.result, exposeSecrets: req.exposeSecrets, readerFor,
      });
      const durationMs = performance.now() - started;
      if (m.t === 'fail') return { ok: false, code: m.code, message: m.m, steps: [], durationMs, cpuMs: 0 };
      // Shaped defensively, as toInvocationOutcome does: a worker's message is data, not a promise.
      const steps = (Array.isArray(m.steps) ? m.steps : []).map((s) => ({
        status: s.st, durationMs: Number(s.d) || 0, invocations: Array.isArray(s.js) ? s.js.filter(Number.isSafeInteger) : [],
        logs: Array.isArray(s.l) ? s.l.map((l) => ({ level: l.level, message: String(l.message), at: String(l.at) })) : [],
        ...(s.code !== undefined ? { errorCode: String(s.code) } : {}), ...(s.m !== undefined ? { errorMessage: String(s.m) } : {}),
      }));
      if (!m.ok) {
        return {
          ok: false, code: String(m.code), message: String(m.m), ...(m.st ? { stack: String(m.st) } : {}), ...(Number.isSafeInteger(m.p) ? { step: m.p } : {}),
          ...(Number.isSafeInteger(m.j) ? { invocation: m.j } : {}), steps, durationMs, cpuMs: Number(m.c) || 0,
        };
      }
      try {
        return { ok: true, value: JSON.parse(m.r), steps, durationMs, cpuMs: Number(m.c) || 0 };
      } catch {
        return { ok: false, code: 'invalid_result', message: 'the result is not valid JSON', steps, durationMs, cpuMs: Number(m.c) || 0 };
      }
    },
    validate(script, limits, workspaceId) {
      return pool.validate({
        workspaceId, codeKey: '', script, limits, argsJson: undefined, validateOnly: true, exposeSecrets: false,
      });
    },
    stats: () => pool.stats(),
    close: () => pool.close(),
  };
  pools.set(runtime, pool);
  return runtime;
}

/** Process ids of the current workers (for tests and operators, e.g. to check a crash is survived). */
export function workerPids(runtime: Runtime): number[] {
  return pools.get(runtime)?.workerPids() ?? [];
}

/** The highest resident memory seen of each live worker (read from /proc while invocations run). */
export function workerPeakRss(runtime: Runtime): { pid: number; peakRssBytes: number }[] {
  return pools.get(runtime)?.peakRss() ?? [];
}
