// The outcome types the runtime answers with. Failures carry a code from a fixed list; the API maps
// each to its own status (user-caused ones to 4xx/504, worker_crashed and overloaded to 502/429).

export interface LogLine {
  level: 'log' | 'info' | 'warn' | 'error' | 'debug';
  message: string;
  /** ISO time */
  at: string;
}

export type InvocationFailureCode =
  | 'function_error'
  | 'timeout'
  | 'memory_limit'
  | 'result_too_large'
  | 'worker_crashed'
  | 'overloaded'
  | 'invalid_result'
  /** Too many distinct secret names, or too many denied reads, in one invocation. */
  | 'secret_read_limit';

/**
 * Where an invocation's time went, in ms, for the stage metrics; the parts add up to its duration.
 * queue: waiting for a worker, a workspace turn or an isolate; ipc: the run and done messages in
 * transit; sandbox: in the isolate (and setting its context up), less the waits for secret reads;
 * secretReads: waiting for secret answers (the round trip, the grant check, decryption);
 * redaction: redacting and cutting the result, logs and error. Absent when no worker answered.
 */
export interface InvocationTimings { queueMs: number; ipcMs: number; sandboxMs: number; secretReadsMs: number; redactionMs: number }

/**
 * How an invocation ended. `prefetchUsed`, when reads were prefetched: the indexes of those the
 * function made, as its worker reported them; absent when the worker never answered (a crash, the
 * gateway's watchdog, a cap), in which case any of them may have been made.
 */
export type InvocationOutcome =
  | { ok: true; result: unknown; logs: LogLine[]; durationMs: number; cpuMs: number; timings?: InvocationTimings; prefetchUsed?: number[] }
  | { ok: false; code: InvocationFailureCode; message: string; stack?: string; logs: LogLine[]; durationMs: number; cpuMs: number; timings?: InvocationTimings; prefetchUsed?: number[] };

export type ValidateResult =
  | { ok: true }
  | { ok: false; code: string; message: string; line?: number; column?: number };

/** How one step of a pipeline run went; `invocations` numbers its function's invocations within the run. */
export interface PipelineStepOutcome {
  status: 'ok' | 'skipped' | 'failed' | 'not_run';
  durationMs: number;
  invocations: number[];
  logs: LogLine[];
  errorCode?: string;
  errorMessage?: string;
}

/**
 * A pipeline run (Runtime.runPipeline). On failure `step` is the failing step's index (-1: the
 * result expression; absent: the run as a whole, e.g. overloaded) and `invocation` the failing
 * invocation's number within the run. Every text is redacted with every value the run read; the
 * value too unless the pipeline exposes secrets.
 */
export type PipelineOutcome =
  | { ok: true; value: unknown; steps: PipelineStepOutcome[]; durationMs: number; cpuMs: number }
  | { ok: false; code: string; message: string; stack?: string; step?: number; invocation?: number; steps: PipelineStepOutcome[]; durationMs: number; cpuMs: number };
