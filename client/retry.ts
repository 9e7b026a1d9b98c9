// Retries: only idempotent methods (RFC 9110: GET, HEAD, OPTIONS, PUT, DELETE), only when the
// server could not be reached or a proxy/gateway said so (502, 503, 504), with capped exponential
// backoff and full jitter. A POST is never repeated: it may have taken effect.
import { CofferApiError } from './errors.ts';

export interface RetryPolicy {
  /** Further attempts after the first (default 3). */
  retries: number;
  /** First backoff in milliseconds (default 200), doubling up to maxDelayMs (default 5000). */
  baseDelayMs: number;
  maxDelayMs: number;
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);
const RETRY_STATUS = new Set([502, 503, 504]);
const DEFAULTS: RetryPolicy = { retries: 3, baseDelayMs: 200, maxDelayMs: 5000 };

export async function sendWithRetry(fetchFn: (r: Request) => Promise<Response>, request: Request, policy: Partial<RetryPolicy> = {}): Promise<Response> {
  const { retries, baseDelayMs, maxDelayMs } = { ...DEFAULTS, ...policy };
  // The token endpoint is a POST that changes nothing but the audit trail: safe to repeat.
  const retryable = IDEMPOTENT.has(request.method) || new URL(request.url).pathname === '/oauth2/token';
  const attempts = retryable ? retries + 1 : 1;
  for (let attempt = 1; ; attempt++) {
    const current = attempt < attempts ? request.clone() : request;
    let response: Response;
    try {
      response = await fetchFn(current);
    } catch (err) {
      if (attempt >= attempts) {
        throw new CofferApiError('connection_failed', `could not reach ${new URL(request.url).origin}: ${describe(err)}`, { cause: err });
      }
      await sleep(backoff(attempt, baseDelayMs, maxDelayMs));
      continue;
    }
    if (!RETRY_STATUS.has(response.status) || attempt >= attempts) return response;
    // Retry-After (seconds) wins over our own backoff when the server gives one.
    const after = Number(response.headers.get('retry-after'));
    await response.body?.cancel();
    await sleep(Number.isFinite(after) && after > 0 ? Math.min(after * 1000, maxDelayMs) : backoff(attempt, baseDelayMs, maxDelayMs));
  }
}

const backoff = (attempt: number, base: number, max: number) => Math.random() * Math.min(max, base * 2 ** (attempt - 1));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function describe(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  return cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
}
