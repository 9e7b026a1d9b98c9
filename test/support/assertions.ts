// Small helpers shared by the API tests: raw SQL against the test database, and the error shape.
import { expect } from 'vitest';
import type { SQL } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import type { Reply } from './server.ts';

/** Runs a raw query on either driver and returns its rows (postgres.js gives an array, PGlite {rows}). */
export async function selectRows<T = Record<string, unknown>>(db: Db, query: SQL): Promise<T[]> {
  const result = await db.execute(query);
  return (Array.isArray(result) ? result : (result as unknown as { rows: T[] }).rows) as T[];
}

/** Asserts the one error shape: {"error": {"code", "message", "requestId"}}, no stack trace. */
export function expectError(reply: Reply, status: number, code: string): void {
  expect({ status: reply.status, code: reply.body?.error?.code }, reply.text).toEqual({ status, code });
  expect(typeof reply.body.error.message).toBe('string');
  expect(reply.body.error.requestId).toBe(reply.headers.get('x-request-id'));
  expect(reply.text).not.toMatch(/\n\s+at |node_modules|\.ts:\d+/);
}

/** Anything that should never come back to a client as a 500. */
export function expectNot500(reply: Reply): void {
  expect(reply.status, reply.text).toBeLessThan(500);
  expect(reply.body?.error?.code === undefined || typeof reply.body.error.code === 'string').toBe(true);
}

/** Polls `what` until it gives something other than undefined; `context` says what was seen when it times out. */
export async function until<T>(what: () => T | undefined | Promise<T | undefined>, context: () => string = () => '', timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await what();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out${context() ? `; ${context()}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
