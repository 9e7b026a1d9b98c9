// Every bound the runtime enforces, in one place so that a reader can see what a function may use.

export interface FunctionLimits {
  timeoutMs: number;
  memoryMb: number;
}

export const DEFAULT_LIMITS: Readonly<FunctionLimits> = Object.freeze({ timeoutMs: 10_000, memoryMb: 128 });
export const MAX_LIMITS: Readonly<FunctionLimits> = Object.freeze({ timeoutMs: 60_000, memoryMb: 512 });
/** isolated-vm refuses heaps below 8 MB; a timeout below 10 ms cannot even cover a context creation. */
export const MIN_LIMITS: Readonly<FunctionLimits> = Object.freeze({ timeoutMs: 10, memoryMb: 8 });

/**
 * The API validates limits; the runtime still clamps them so that a bad value from any caller can
 * neither disable a limit (NaN, 0, Infinity) nor exceed the maximum.
 */
export function normalizeLimits(limits: Partial<FunctionLimits> | undefined): FunctionLimits {
  const clamp = (v: unknown, key: keyof FunctionLimits) => {
    const n = typeof v === 'number' && Number.isFinite(v) ? Math.floor(v) : DEFAULT_LIMITS[key];
    return Math.min(MAX_LIMITS[key], Math.max(MIN_LIMITS[key], n));
  };
  return { timeoutMs: clamp(limits?.timeoutMs, 'timeoutMs'), memoryMb: clamp(limits?.memoryMb, 'memoryMb') };
}

/** A result larger than this, as JSON text, is refused with `result_too_large`. */
export const MAX_RESULT_BYTES = 1024 * 1024;
/** Captured console output per invocation; beyond it one marker line is kept and the rest dropped. */
export const MAX_LOG_LINES = 1000;
export const MAX_LOG_BYTES = 256 * 1024;
/** getSecrets() accepts at most this many names per call. */
export const MAX_NAMES_PER_CALL = 100;
/** Secret read calls per invocation; more calls reject at once, so a flood cannot fill the IPC channel. */
export const MAX_SECRET_CALLS = 1000;
/** The gateway kills a worker that has not answered this long after an invocation's deadline. */
export const GATEWAY_GRACE_MS = 2000;
/** Compiled scripts kept per isolate. */
export const MAX_SCRIPTS_PER_ISOLATE = 64;
/** A result nested deeper than this (arrays and objects) is refused with `invalid_result`. */
export const MAX_RESULT_DEPTH = 256;
/** Error texts as reported: the name, the message, the stack; a longer one is cut after redaction. */
export const MAX_ERROR_NAME_CHARS = 100;
export const MAX_ERROR_MESSAGE_CHARS = 4096;
export const MAX_ERROR_STACK_CHARS = 16384;
/**
 * Inside the isolate, texts are cut only this far past their limit (chars): more than the longest
 * form of a 64 KiB value (JSON-escaped twice, a control character takes 7), so that the worker's
 * redaction sees every value that starts before the limit whole, before it cuts.
 */
export const ISOLATE_CUT_MARGIN = 512 * 1024;
/** Distinct (vault, name) pairs one invocation may read; the next one fails it with `secret_read_limit`. */
export const DEFAULT_MAX_SECRET_NAMES = 100;
/** Denied secret reads one invocation may make; the next one fails it with `secret_read_limit`. */
export const DEFAULT_MAX_DENIED_READS = 5;
/**
 * After an invocation answered, its isolate must be idle within this long (its next context comes back)
 * to be reused; otherwise guest work is still running in it and it is disposed.
 */
export const ISOLATE_IDLE_CHECK_MS = 100;
/** Invocations of one workspace running at once, over all workers; more wait in its queue. */
export const DEFAULT_WORKSPACE_IN_FLIGHT = 8;
/** Invocations of one workspace waiting; more answer `overloaded`. */
export const DEFAULT_WORKSPACE_QUEUE = 64;
