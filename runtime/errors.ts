// The outcome types the runtime answers with. Failures carry a code from a fixed list: user-caused
// codes (function_error, timeout, memory_limit, result_too_large, invalid_result) are kept apart from
// system-caused ones (worker_crashed, overloaded) so that the API can map them to different statuses.

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
  | 'invalid_result';

export type InvocationOutcome =
  | { ok: true; result: unknown; logs: LogLine[]; durationMs: number; cpuMs: number }
  | { ok: false; code: InvocationFailureCode; message: string; stack?: string; logs: LogLine[]; durationMs: number; cpuMs: number };

export type ValidateResult =
  | { ok: true }
  | { ok: false; code: string; message: string; line?: number; column?: number };

export const SYSTEM_CODES: ReadonlySet<string> = new Set(['worker_crashed', 'overloaded']);
