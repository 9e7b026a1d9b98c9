// /v1/audit and /v1/audit/verify
import { createRoute, z } from '@hono/zod-openapi';
import { createRouter, commonErrors, jsonResponse, ResourceName, SecretName, Timestamp, Id, iso, BEARER } from './openapi.ts';
import { actorOf } from '../middleware/auth.ts';
import type { AuditQueryService } from '../services/audit-query.ts';

const EventSchema = z.object({
  seq: z.number().int(), id: z.string(), at: Timestamp, requestId: z.string().nullable(), actorId: z.string().nullable(), actorKind: z.string().nullable(),
  action: z.string(), outcome: z.enum(['allowed', 'denied']), vault: z.string().nullable(), secret: z.string().nullable(), version: z.number().int().nullable(),
  workspace: z.string().nullable(), function: z.string().nullable(), invocationId: z.string().nullable(), detail: z.unknown(), hash: z.string(),
  vaultId: z.string().nullable().openapi({ description: 'The vault by id; `vault` is its name when the row was written' }),
  workspaceId: z.string().nullable(),
  clientRequestId: z.string().nullable().openapi({ description: 'The X-Request-Id the client sent (the server\'s own id is requestId)' }),
  hashVersion: z.number().int(),
}).openapi('AuditEvent');

export function auditRoutes(auditQuery: AuditQueryService) {
  const r = createRouter();
  const tags = ['Audit'];

  r.openapi(createRoute({ method: 'get', path: '/v1/audit', tags, security: BEARER,
    summary: 'Audit events, newest first (admins; a vault\'s managers with ?vault=, which means the vault carrying that name now). Page with ?cursor= from nextCursor.',
    request: { query: z.strictObject({
      vault: ResourceName.optional().openapi({ description: 'The vault that carries this name now' }),
      vaultId: Id.optional().openapi({ description: 'A vault by id, also a deleted one (admins)' }), secret: SecretName.optional(), actor: Id.optional(), action: z.string().max(64).regex(/^[a-z_.]+$/).optional(),
      outcome: z.enum(['allowed', 'denied']).optional(), since: z.iso.datetime({ offset: true }).optional(),
      limit: z.coerce.number().int().min(1).max(500).default(100), cursor: z.string().regex(/^\d{1,15}$/).optional(),
    }) },
    responses: { 200: jsonResponse(z.object({ events: z.array(EventSchema), nextCursor: z.string().nullable() }), 'Events'), ...commonErrors } }),
  async (c) => {
    const q = c.req.valid('query');
    const { events, nextCursor } = await auditQuery.search(actorOf(c), {
      vault: q.vault, vaultId: q.vaultId, secret: q.secret, actorId: q.actor, action: q.action, outcome: q.outcome,
      since: q.since ? new Date(q.since) : undefined, beforeSeq: q.cursor ? Number(q.cursor) : undefined, limit: q.limit,
    });
    return c.json({ events: events.map(({ prevHash: _p, ...e }) => ({ ...e, at: iso(e.at)! })), nextCursor }, 200);
  });

  r.openapi(createRoute({ method: 'get', path: '/v1/audit/verify', tags, security: BEARER, summary: 'Check the hash chain (admin): intact, or the first broken row',
    responses: { 200: jsonResponse(z.object({ intact: z.boolean(), checked: z.number().int(), firstBrokenSeq: z.number().int().optional() }), 'Result'), ...commonErrors } }),
  async (c) => c.json(await auditQuery.verify(actorOf(c)), 200));

  return r;
}
