// Messages between the gateway (pool.ts) and a worker process (worker.ts), over the fork IPC channel.
// Kept short: field names are one or two letters because every invocation sends and receives them.
// `i` is the pool's own invocation number, never the caller's invocationId. Either side sends what
// it has in one turn of its event loop as one array of messages (a single message goes alone).

import type { InvocationFailureCode, LogLine } from './errors.ts';

export type FailureCode = InvocationFailureCode | 'not_callable';

/** Gateway -> worker. */
export type ToWorker =
  /**
   * Run an invocation (`v` true: only evaluate the top level and check the default export is callable).
   * `a` is the args as JSON; without it the function is called with undefined. `e`: the result is
   * not redacted (exposeSecrets); logs and errors always are. `pf`: reads the gateway has already
   * decided (see api/services/read-prefetch.ts), answered here without asking it again.
   */
  | { t: 'run'; i: number; w: string; k: string; s?: string; to: number; mb: number; a?: string; v?: true; e?: true; pf?: PrefetchedValue[] }
  /** The gateway has answered invocation `i` (a per-invocation cap): stop it and dispose its isolate. */
  | { t: 'abort'; i: number }
  /** The answer to a secret read: `s` 0 ok, 1 access denied, 2 failed; `x` values aligned with the names, null when missing. */
  | { t: 'sec'; i: number; r: number; s: 0 | 1 | 2; x?: (string | null)[] }
  /** Run a whole pipeline in this worker (pipeline-worker.ts): its steps in order, in one context of the run's own. */
  | PipeMessage
  /**
   * The answer to a secret read of invocation `j` of pipeline run `i`, as in `sec`; `s` 3: a
   * per-invocation cap was reached (`m` says which) and invocation `j` must end with secret_read_limit.
   */
  | { t: 'psec'; i: number; j: number; r: number; s: 0 | 1 | 2 | 3; x?: (string | null)[]; m?: string };

/** A read decided by the gateway before the run: [vault, name, value (null: no enabled version)]. */
export type PrefetchedValue = [vault: string, name: string, value: string | null];

/**
 * A pipeline run. `to`: the run's deadline (ms from receipt). `c`: `{args, caller}` as JSON. `x`:
 * the expression module (`to` and `mb` its limits per evaluation), absent when no step has
 * expressions and there is no result expression. `r`: evaluate the result expression. `e`: the
 * run's value is not redacted (the pipeline's exposeSecrets).
 */
export interface PipeMessage {
  t: 'pipe'; i: number; w: string; to: number; c: string; st: PipeStep[];
  x?: { k: string; s?: string; to: number; mb: number }; r?: true; e?: true;
}

/**
 * One step: its function's script key (`s` the source when the worker may not hold it), the
 * per-invocation timeout and memory, `e` the function's exposeSecrets, `p` it has `if`/`forEach`/
 * `input` (the expression module plans it), `f` it has forEach, `sk` onError is skip, `nf` the
 * function does not exist (the text to fail with when the step is reached).
 */
export interface PipeStep {
  n: string; k: string; s?: string; to: number; mb: number; e?: true; p?: true; f?: true; sk?: true; nf?: string;
}

/**
 * How a step went: `st` status, `d` duration (ms), `js` the run's invocation numbers of its
 * function's invocations, `l` its logs (redacted), and the failure's code and message.
 */
export interface PipeStepDone {
  st: 'ok' | 'skipped' | 'failed' | 'not_run'; d: number; js: number[]; l: LogLine[]; code?: string; m?: string;
}

/**
 * Worker -> gateway. Texts in `done` are already redacted (the worker holds the values it passed in).
 * `tm` is where the worker's time went, in ms: [waiting for an isolate, waiting for secret answers,
 * redaction, everything from receiving the run to sending done]. `iso` (on ready, done, pdone and
 * iso) is the worker's isolates as they stand once the answer is out (see IsolateCounts). `pu` (on
 * done): the indexes in the run's `pf` of the prefetched reads the function made.
 */
export type FromWorker =
  | { t: 'ready'; pid: number; iso?: IsolateCounts }
  /** The isolate counts changed with no answer to carry them (idle ones swept, one failed its idle check or was aborted). */
  | { t: 'iso'; iso: IsolateCounts }
  /** The worker does not hold the script for key `k`; the gateway resends the run with `s`. */
  | { t: 'miss'; i: number }
  | { t: 'sec'; i: number; r: number; v: string; n: string[] }
  | { t: 'done'; i: number; ok: true; r: string; l: LogLine[]; c: number; rss: number; tm?: WorkerTimes; iso?: IsolateCounts; pu?: number[] }
  | { t: 'done'; i: number; ok: false; code: FailureCode; m: string; st?: string; line?: number; col?: number; l: LogLine[]; c: number; rss: number; tm?: WorkerTimes; iso?: IsolateCounts; pu?: number[] }
  /** A secret read by invocation `j` (numbered within the run) of step `p` of pipeline run `i`. */
  | { t: 'psec'; i: number; j: number; p: number; r: number; v: string; n: string[] }
  /**
   * A pipeline run ended. `r` its value as JSON (redacted unless `e` was set); on failure the code,
   * message and stack, `p` the failing step (-1: the result expression; absent: the run itself)
   * and `j` the failing invocation. Every text is redacted with every value the run read.
   */
  | { t: 'pdone'; i: number; ok: true; r: string; steps: PipeStepDone[]; c: number; rss: number; iso?: IsolateCounts }
  | { t: 'pdone'; i: number; ok: false; code: string; m: string; st?: string; p?: number; j?: number; steps: PipeStepDone[]; c: number; rss: number; iso?: IsolateCounts };

export type WorkerTimes = [queueMs: number, secretWaitMs: number, redactionMs: number, totalMs: number];

/**
 * A worker's isolates: active (checked out for an invocation) and idle (pooled warm). An isolate whose
 * invocation has answered counts as it will end up: idle if it is to be pooled again, gone if it is
 * to be disposed. Data from a worker: the gateway keeps it only if both are non-negative integers.
 */
export type IsolateCounts = [active: number, idle: number];
