// When a failed attempt is tried again: exponential backoff with full jitter (AWS's "Exponential
// Backoff And Jitter"), so a burst of failures does not come back as a burst of retries.

export interface RetryPolicy {
  /** Attempts in all, the first included (1..10). */
  maxAttempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
}

export const MAX_BACKOFF_CAP_MS = 3_600_000;
export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 5, initialBackoffMs: 1000, maxBackoffMs: MAX_BACKOFF_CAP_MS };

/** The delay before attempt `attempt + 1`, after attempt `attempt` (1-based) failed. */
export function backoffMs(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxBackoffMs, MAX_BACKOFF_CAP_MS, policy.initialBackoffMs * 2 ** Math.min(attempt - 1, 30));
  return Math.floor(random() * ceiling);
}

/**
 * Failures that another attempt cannot fix: the target is gone, or the job cannot be rebuilt.
 * Everything else (a throw, a timeout, a crash, an overloaded runtime, an outage) is tried again.
 */
const PERMANENT = new Set(['not_found', 'recursion_limit', 'request_not_kept', 'invalid_request', 'executor_disabled',
  // outgoing webhooks: the receiver refused (a 4xx other than 408/429), a grant or secret is missing, egress refused
  'webhook_rejected', 'secret_unavailable', 'egress_refused']);
export const isRetryable = (code: string) => !PERMANENT.has(code);
