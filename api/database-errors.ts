// What a database error means, whichever driver raised it (postgres.js and PGlite both carry the
// SQLSTATE as `code`; drizzle wraps them with the original as `cause`). The error handler is the one
// place that turns these into responses; the audit log uses them to tell an outage from a bad row.

const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'CONNECTION_CLOSED', 'CONNECTION_ENDED',
  'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT', '57P01', '57P02', '57P03', '53300']);

/** The error and its causes, outermost first (bounded: causes can be cyclic). */
function* causes(err: unknown): Generator<unknown> {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) yield e;
}

/** The database cannot be reached (or is shutting down, or out of connections). */
export function isDatabaseUnavailable(err: unknown): boolean {
  for (const e of causes(err)) {
    const code = (e as { code?: unknown }).code;
    // Connection exceptions (08), transaction rollbacks such as deadlocks (40), insufficient
    // resources (53), lock not available (55), operator intervention (57), system errors (58, XX):
    // the database, not the request, is at fault, and trying again later may well succeed.
    if (typeof code === 'string' && (UNAVAILABLE_CODES.has(code) || /^(08|40|53|55|57|58|XX)[0-9A-Z]{3}$/.test(code))) return true;
    if (e instanceof Error && /PGlite is closed|database is closed/i.test(e.message)) return true;
  }
  return false;
}

/** A unique constraint refused the write (a race the service's own check could not see); its name if known. */
export function uniqueViolation(err: unknown): { constraint: string | undefined } | undefined {
  for (const e of causes(err)) {
    if ((e as { code?: unknown }).code === '23505') {
      const c = (e as { constraint_name?: unknown; constraint?: unknown });
      const constraint = typeof c.constraint_name === 'string' ? c.constraint_name : typeof c.constraint === 'string' ? c.constraint : undefined;
      return { constraint };
    }
  }
  return undefined;
}

