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
import type { InvocationOutcome, ValidateResult } from './errors.ts';
import type { FunctionLimits } from './limits.ts';
import { createPool, type PoolOptions } from './pool.ts';
import type { SecretReader } from './secret-reads.ts';

export { compileFunction, type CompileResult } from './compile.ts';
export { DEFAULT_LIMITS, MAX_LIMITS, MIN_LIMITS, type FunctionLimits } from './limits.ts';
export type { InvocationOutcome, InvocationTimings, LogLine, ValidateResult, InvocationFailureCode } from './errors.ts';
export type { SecretReader } from './secret-reads.ts';
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
}

export interface Runtime {
  invoke(req: InvocationRequest, readSecret: SecretReader): Promise<InvocationOutcome>;
  /** Evaluates the top level in a fresh context under `limits`; `not_callable` if the default export is not a function. */
  validate(script: string, limits: FunctionLimits, workspaceId: string): Promise<ValidateResult>;
  /** workers: live worker processes; busy: invocations running in them; queued: waiting; restarts: unexpected worker deaths; recycles: planned replacements. */
  stats(): { workers: number; busy: number; queued: number; restarts: number; recycles: number };
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
        validateOnly: false, exposeSecrets: req.exposeSecrets, readSecret,
      });
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
