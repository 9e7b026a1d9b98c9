// Counts failures per key (a client id, a source address) in a sliding window held in memory.
// In memory is enough for one gateway: with N gateways an attacker gets at most N times the budget,
// which still turns a 256-bit secret guess into nothing. Successes never reset a count, so a caller
// holding one valid credential cannot interleave successes to keep guessing at others.

export interface FailureLimiterOptions {
  /** Failures allowed per key within the window; the next attempt is refused. */
  limit: number;
  windowMs: number;
  /** Bound on the number of keys remembered; the oldest key is forgotten first. */
  maxKeys?: number;
  now?: () => number;
}

export interface FailureLimiter {
  /** Seconds until the first of `keys` is allowed again, or 0 when none is blocked. */
  retryAfter(keys: string[]): number;
  recordFailure(keys: string[]): void;
}

export function createFailureLimiter(options: FailureLimiterOptions): FailureLimiter {
  const { limit, windowMs, maxKeys = 10_000, now = Date.now } = options;
  if (!(limit >= 1) || !(windowMs > 0)) throw new Error('createFailureLimiter: limit must be >= 1 and windowMs > 0');
  const failures = new Map<string, number[]>();

  function recent(key: string, at: number): number[] {
    const times = failures.get(key);
    if (!times) return [];
    const kept = times.filter((t) => t > at - windowMs);
    if (kept.length) failures.set(key, kept);
    else failures.delete(key);
    return kept;
  }

  return {
    retryAfter(keys) {
      const at = now();
      let wait = 0;
      for (const key of keys) {
        const times = recent(key, at);
        // Blocked until enough of the oldest failures fall out of the window to get back under the limit.
        if (times.length >= limit) wait = Math.max(wait, times[times.length - limit] + windowMs - at);
      }
      return wait > 0 ? Math.ceil(wait / 1000) : 0;
    },

    recordFailure(keys) {
      const at = now();
      for (const key of keys) {
        const times = recent(key, at);
        times.push(at);
        failures.delete(key); // re-insert so Map order is least recently failed first
        failures.set(key, times.slice(-limit));
        while (failures.size > maxKeys) failures.delete(failures.keys().next().value!);
      }
    },
  };
}
