// The per-workspace budget of incoming webhooks: a fixed one-second window per workspace, in memory
// per gateway (N gateways admit at most N times the budget). Answers what the RateLimit-* headers
// (draft-ietf-httpapi-ratelimit-headers) and Retry-After need.

export interface RateDecision { ok: boolean; limit: number; remaining: number; resetS: number }

export function createWindowLimiter(options: { limit: number; windowMs: number; maxKeys?: number; now?: () => number }) {
  const { limit, windowMs, maxKeys = 10_000, now = Date.now } = options;
  const windows = new Map<string, { start: number; count: number }>();
  return {
    take(key: string): RateDecision {
      const at = now();
      const start = at - (at % windowMs);
      let w = windows.get(key);
      if (!w || w.start !== start) {
        windows.delete(key);
        w = { start, count: 0 };
        windows.set(key, w);
        while (windows.size > maxKeys) windows.delete(windows.keys().next().value!);
      }
      const resetS = Math.max(1, Math.ceil((start + windowMs - at) / 1000));
      if (w.count >= limit) return { ok: false, limit, remaining: 0, resetS };
      w.count++;
      return { ok: true, limit, remaining: limit - w.count, resetS };
    },
  };
}
