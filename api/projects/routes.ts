// /v1/projects/{project}/resources: what `coffer apply` records about the resources it created.
import { createRoute, z } from '@hono/zod-openapi';
import { BEARER, commonErrors, createRouter, iso, jsonBody, jsonResponse, ResourceName, Timestamp } from '../routes/openapi.ts';
import { actorOf } from '../middleware/auth.ts';
import type { ManagedResourceRow } from '../../db/repos/projects.ts';
import type { ProjectService } from './service.ts';

export const RESOURCE_KINDS = ['vault', 'secret', 'workspace', 'member', 'grant', 'function', 'executor', 'pipeline'] as const;
const Kind = z.enum(RESOURCE_KINDS);
const Key = z.string().min(1).max(300).regex(/^[^\0\r\n]+$/, 'an address such as "payments/stripe-key"');
const ProjectParam = z.object({ project: ResourceName.openapi({ param: { name: 'project', in: 'path' } }) });
const ResourceSchema = z.object({
  kind: Kind, key: z.string(),
  created: z.boolean().openapi({ description: 'An apply of this project created it: `--prune` may delete it' }),
  fingerprint: z.string().nullable().openapi({ description: 'A hash of what the last apply set (never of a secret value): a different server state is drift' }),
  valueVersion: z.number().int().nullable().openapi({ description: 'Secrets: the write-only value version last applied' }),
  appliedBy: z.string(), appliedAt: Timestamp,
}).openapi('ManagedResource');
const RecordBody = z.strictObject({
  set: z.array(z.strictObject({
    kind: Kind, key: Key,
    created: z.boolean().optional().openapi({ description: 'true when this apply created the resource; once true it stays true' }),
    fingerprint: z.string().max(4096).nullable().optional().openapi({ description: 'Omitted: keep the recorded one (a claim before changing anything)' }),
    valueVersion: z.number().int().min(0).max(2_147_483_647).nullable().optional()
      .openapi({ description: 'Omitted or null: keep the recorded one' }),
  })).max(1000).default([]),
  remove: z.array(z.strictObject({ kind: Kind, key: Key })).max(1000).default([]),
}).openapi('ManagedResourceChange');

const present = (r: ManagedResourceRow) => ({
  kind: r.kind as z.infer<typeof Kind>, key: r.key, created: r.created, fingerprint: r.fingerprint, valueVersion: r.valueVersion, appliedBy: r.appliedBy, appliedAt: iso(r.appliedAt)!,
});

export function projectRoutes(projects: ProjectService) {
  const r = createRouter();
  const tags = ['Projects'];
  const path = '/v1/projects/{project}/resources';

  r.openapi(createRoute({ method: 'get', path, tags, security: BEARER,
    summary: 'The resources applies of this coffer.toml project created (the project\'s first principal, or an admin); none for an unknown project',
    request: { params: ProjectParam }, responses: { 200: jsonResponse(z.object({ resources: z.array(ResourceSchema) }), 'Owned resources'), ...commonErrors } }),
  async (c) => c.json({ resources: (await projects.list(actorOf(c), c.req.valid('param').project)).map(present) }, 200));

  r.openapi(createRoute({ method: 'post', path, tags, security: BEARER,
    summary: 'Record (set) or forget (remove) owned resources in one transaction; the first call creates the project for the caller. 409 conflict if another project owns one.',
    request: { params: ProjectParam, body: jsonBody(RecordBody) },
    responses: { 200: jsonResponse(z.object({ resources: z.array(ResourceSchema) }), 'The project\'s resources after the change'), ...commonErrors } }),
  async (c) => c.json({ resources: (await projects.record(actorOf(c), c.req.valid('param').project, c.req.valid('json'))).map(present) }, 200));

  return r;
}
