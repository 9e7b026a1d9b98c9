// Every error a client can see has a stable code from this list. Routers and services throw
// CofferError; api/error-handler.ts is the one place that turns them into responses.

export const ERROR_CODES = {
  // 400
  invalid_request: 400,
  invalid_json: 400,
  validation_failed: 400,
  invalid_name: 400,
  compile_error: 400,
  invalid_schema: 400,
  invalid_expression: 400,
  // 401 / 403 / 404 / 409
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  already_exists: 409,
  name_reserved: 409,
  conflict: 409,
  last_manager: 409,
  last_owner: 409,
  version_destroyed: 409,
  version_disabled: 409,
  // 413 / 429
  payload_too_large: 413,
  value_too_large: 413,
  rate_limited: 429,
  overloaded: 429,
  query_too_complex: 400,
  // function outcomes
  function_error: 422,
  invalid_result: 422,
  result_too_large: 422,
  memory_limit: 422,
  secret_read_limit: 422,
  timeout: 504,
  worker_crashed: 502,
  // outgoing webhook targets (job attempt codes)
  secret_unavailable: 403,
  egress_refused: 403,
  webhook_rejected: 502,
  // service accounts
  max_client_secrets: 409,
  last_active_secret: 409,
  secret_still_active: 409,
  wrong_auth_kind: 409,
  // executors and jobs
  invalid_signature: 401,
  method_not_allowed: 405,
  request_not_kept: 409,
  job_finished: 409,
  recursion_limit: 508,
  // server side
  unavailable: 503,
  internal: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class CofferError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details?: Record<string, unknown>;
  readonly headers?: Record<string, string>;

  constructor(code: ErrorCode, message: string, extra: { details?: Record<string, unknown>; headers?: Record<string, string> } = {}) {
    super(message);
    this.name = 'CofferError';
    this.code = code;
    this.status = ERROR_CODES[code];
    this.details = extra.details;
    this.headers = extra.headers;
  }
}

export const notFound = (what: string) => new CofferError('not_found', `${what} not found`);
export const forbidden = (message = 'you do not have permission to do this') => new CofferError('forbidden', message);
export const conflict = (message: string) => new CofferError('conflict', message);
export const badRequest = (message: string, details?: Record<string, unknown>) =>
  new CofferError('invalid_request', message, { details });
