// /healthz (the process is up) and /readyz (database reachable, migrations applied, master key verified).
import { createRoute, z } from '@hono/zod-openapi';
import { createRouter, jsonResponse } from './openapi.ts';
import type { Database } from '../../db/client.ts';
import { migrationsApplied } from '../../db/migrate.ts';
import { masterKeysVerified } from '../crypto/master-key-check.ts';
import type { Keyring } from '../crypto/keyring.ts';

const Checks = z.object({ status: z.enum(['ok', 'unavailable']), database: z.boolean(), migrations: z.boolean(), masterKey: z.boolean() });

export function healthRoutes(deps: { database: Database; keyring: Keyring }) {
  const r = createRouter();
  const tags = ['Health'];

  r.openapi(createRoute({ method: 'get', path: '/healthz', tags, summary: 'The process is up',
    responses: { 200: jsonResponse(z.object({ status: z.literal('ok') }), 'Up') } }),
  (c) => c.json({ status: 'ok' as const }, 200));

  r.openapi(createRoute({ method: 'get', path: '/readyz', tags, summary: 'Ready to serve: database reachable, migrations applied, master key verified',
    responses: { 200: jsonResponse(Checks, 'Ready'), 503: jsonResponse(Checks, 'Not ready') } }),
  async (c) => {
    const checks = { database: false, migrations: false, masterKey: false };
    try {
      await deps.database.ping();
      checks.database = true;
      checks.migrations = await migrationsApplied(deps.database);
      checks.masterKey = await masterKeysVerified(deps.database.db, deps.keyring);
    } catch { /* reported through the flags */ }
    const ok = checks.database && checks.migrations && checks.masterKey;
    return ok ? c.json({ status: 'ok' as const, ...checks }, 200) : c.json({ status: 'unavailable' as const, ...checks }, 503);
  });

  return r;
}
