// Exit codes, documented in docs/cli.md: 0 ok, 1 error, 2 usage, 3 authentication, 4 permission,
// 5 not found, 6 conflict. Server errors map by status; the CLI's own errors carry their code.
import { CofferApiError } from '../client/index.ts';

export const EXIT = { ok: 0, error: 1, usage: 2, auth: 3, permission: 4, notFound: 5, conflict: 6 } as const;

/** A mistake in how the command was called. */
export class UsageError extends Error {
  readonly code = 'usage';
  override name = 'UsageError';
}

/** Missing or unusable credentials, found before any request. */
export class AuthError extends Error {
  readonly code = 'unauthenticated';
  override name = 'AuthError';
}

/** Any other failure the CLI reports with a code of its own (e.g. exec's `env_collision`). */
export class CliError extends Error {
  override name = 'CliError';
  readonly code: string;
  readonly exitCode: number;
  readonly details?: Record<string, unknown>;
  constructor(code: string, message: string, exitCode: number = EXIT.error, details?: Record<string, unknown>, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.exitCode = exitCode;
    this.details = details;
  }
}

export function exitCodeFor(err: unknown): number {
  if (err instanceof UsageError) return EXIT.usage;
  if (err instanceof AuthError) return EXIT.auth;
  if (err instanceof CliError) return err.exitCode;
  if (err instanceof CofferApiError) {
    if (err.status === 401) return EXIT.auth;
    if (err.status === 403) return EXIT.permission;
    if (err.status === 404) return EXIT.notFound;
    if (err.status === 409) return EXIT.conflict;
    // A request the server found malformed is a usage error, unless it is the deployed code's fault.
    if (err.status === 400 && err.code !== 'compile_error') return EXIT.usage;
  }
  return EXIT.error;
}

/** {code, message, requestId} for printing, whatever was thrown. */
export function describeError(err: unknown): { code: string; message: string; requestId: string | null; details?: Record<string, unknown> } {
  if (err instanceof CofferApiError) return { code: err.code, message: err.message, requestId: err.requestId, details: err.details };
  if (err instanceof CliError) return { code: err.code, message: err.message, requestId: null, ...(err.details ? { details: err.details } : {}) };
  if (err instanceof UsageError || err instanceof AuthError) return { code: err.code, message: err.message, requestId: null };
  return { code: 'internal', message: err instanceof Error ? err.message : String(err), requestId: null };
}
