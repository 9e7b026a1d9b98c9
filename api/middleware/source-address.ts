import type { Context } from 'hono';
import { getConnInfo } from '@hono/node-server/conninfo';

/** The address the connection came from. Forwarded-for headers are not trusted: anyone can send them. */
export function sourceAddress(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    return 'unknown';
  }
}
