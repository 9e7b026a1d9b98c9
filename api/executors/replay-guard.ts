// Sync webhooks run the function at once, so a signed request captured and sent again inside the
// replay window would run it again. This remembers the signed deliveries of the last window per
// gateway and refuses a second one. (Async webhooks need no memory: the delivery id is the job's
// idempotency key, so a replay answers the job that already exists.)
export function createReplayGuard(options: { windowMs: number; maxEntries?: number; now?: () => number }) {
  const { windowMs, maxEntries = 100_000, now = Date.now } = options;
  const seen = new Map<string, number>();
  return {
    /** True the first time `key` is offered within the window, false for a replay. */
    firstTime(key: string): boolean {
      const at = now();
      for (const [k, expires] of seen) {
        if (expires > at && seen.size <= maxEntries) break;
        seen.delete(k);
      }
      const expires = seen.get(key);
      if (expires !== undefined && expires > at) return false;
      seen.delete(key);
      seen.set(key, at + windowMs);
      return true;
    },
  };
}
