// The one error class the client throws: Coffer's code, the HTTP status and the request id, so a
// caller can branch on `code` and quote `requestId` to an operator. Never carries a request body.

/** Codes the client itself produces, beside the server's (api/errors.ts). */
export type ClientErrorCode = 'connection_failed' | 'invalid_response' | 'invalid_client' | 'oauth_error';

export class CofferApiError extends Error {
  /** Coffer's error code (`not_found`, `forbidden`, ...) or one of ClientErrorCode. */
  readonly code: string;
  /** HTTP status; 0 when no response arrived. */
  readonly status: number;
  readonly requestId: string | null;
  readonly details?: Record<string, unknown>;

  constructor(code: string, message: string, extra: { status?: number; requestId?: string | null; details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.name = 'CofferApiError';
    this.code = code;
    this.status = extra.status ?? 0;
    this.requestId = extra.requestId ?? null;
    this.details = extra.details;
  }
}

/** Builds the error for a non-2xx response from its parsed body (`{error: {code, message, requestId}}`). */
export function errorFromResponse(response: Response, body: unknown): CofferApiError {
  const requestId = response.headers.get('x-request-id');
  const e = (body as { error?: unknown } | null)?.error;
  if (e && typeof e === 'object' && typeof (e as { code?: unknown }).code === 'string') {
    const { code, message, requestId: bodyId, details } = e as { code: string; message?: string; requestId?: string | null; details?: Record<string, unknown> };
    return new CofferApiError(code, message ?? code, { status: response.status, requestId: bodyId ?? requestId, details });
  }
  // RFC 6749 token-endpoint errors: {error: "invalid_client", error_description}.
  if (typeof e === 'string') {
    const description = (body as { error_description?: string }).error_description;
    return new CofferApiError(e === 'invalid_client' ? 'unauthenticated' : 'oauth_error', description ?? e, { status: response.status, requestId, details: { oauthError: e } });
  }
  return new CofferApiError('invalid_response', `unexpected ${response.status} response from the server`, { status: response.status, requestId });
}
