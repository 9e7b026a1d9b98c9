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
   * not redacted (exposeSecrets); logs and errors always are.
   */
  | { t: 'run'; i: number; w: string; k: string; s?: string; to: number; mb: number; a?: string; v?: true; e?: true }
  /** The gateway has answered invocation `i` (a per-invocation cap): stop it and dispose its isolate. */
  | { t: 'abort'; i: number }
  /** The answer to a secret read: `s` 0 ok, 1 access denied, 2 failed; `x` values aligned with the names, null when missing. */
  | { t: 'sec'; i: number; r: number; s: 0 | 1 | 2; x?: (string | null)[] };

/**
 * Worker -> gateway. Texts in `done` are already redacted (the worker holds the values it passed in).
 * `tm` is where the worker's time went, in ms: [waiting for an isolate, waiting for secret answers,
 * redaction, everything from receiving the run to sending done].
 */
export type FromWorker =
  | { t: 'ready'; pid: number }
  /** The worker does not hold the script for key `k`; the gateway resends the run with `s`. */
  | { t: 'miss'; i: number }
  | { t: 'sec'; i: number; r: number; v: string; n: string[] }
  | { t: 'done'; i: number; ok: true; r: string; l: LogLine[]; c: number; rss: number; tm?: WorkerTimes }
  | { t: 'done'; i: number; ok: false; code: FailureCode; m: string; st?: string; line?: number; col?: number; l: LogLine[]; c: number; rss: number; tm?: WorkerTimes };

export type WorkerTimes = [queueMs: number, secretWaitMs: number, redactionMs: number, totalMs: number];
