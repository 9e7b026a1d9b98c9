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
