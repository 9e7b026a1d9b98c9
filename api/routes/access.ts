// GET /v1/vaults/{vault}/access and GET /v1/principals/{id}/access: "who can read this?"
import { createRoute, z } from '@hono/zod-openapi';
import { createRouter, commonErrors, jsonResponse, VaultParam, SecretName, Timestamp, Id, iso, BEARER } from './openapi.ts';
import { actorOf } from '../middleware/auth.ts';
import type { AccessReport, AccessPath, PrincipalAccess } from '../services/access-report.ts';
import { GROUP_ROLES, VAULT_ROLES, WORKSPACE_ROLES } from '../../db/schema.ts';

const Role = z.enum(VAULT_ROLES);
const PathSchema = z.object({
  source: z.enum(['direct', 'group', 'admin']),
  grantId: z.string().optional(), role: Role.optional(),
  group: z.object({ id: z.string(), name: z.string() }).optional(),
  secrets: z.array(z.string()).optional().openapi({ description: 'the grant covers only these secret names (patterns)' }),
  expiresAt: Timestamp.optional(),
}).openapi('AccessPath');
const Access = {
  role: Role.nullable().openapi({ description: 'the effective role: the strongest grant in force (null: an admin without a grant)' }),
  admin: z.boolean(),
  via: z.array(PathSchema).openapi({ description: 'every grant in force that gives access, the deciding one first' }),
};
const PrincipalRef = z.object({ id: z.string(), name: z.string(), kind: z.string() });
const WorkspaceAccessSchema = {
  workspace: z.string(), role: Role, grantId: z.string(),
  functions: z.array(z.string()).nullable().openapi({ description: 'only these functions of the workspace (names or * patterns) may use the grant (null: all)' }),
  secrets: z.array(z.string()).nullable().openapi({ description: 'the grant covers only these secret names (patterns; null: all)' }),
  expiresAt: Timestamp.nullable(),
};
const VaultAccessSchema = z.object({
  vault: z.string(), secret: z.string().nullable().openapi({ description: 'the secret asked about (null: any secret of the vault)' }), at: Timestamp,
  principals: z.array(z.object({ principal: PrincipalRef, ...Access })),
  workspaces: z.array(z.object(WorkspaceAccessSchema)).openapi({ description: 'workspaces whose functions (all, or those named) read the vault' }),
}).openapi('VaultAccess');
const PrincipalAccessSchema = z.object({
  principal: PrincipalRef.extend({ isAdmin: z.boolean(), active: z.boolean(),
    canAuthenticate: z.boolean().openapi({ description: 'false when it or its owner is deactivated: it then reads nothing' }) }),
  at: Timestamp,
  groups: z.array(z.object({ id: z.string(), name: z.string(), role: z.enum(GROUP_ROLES) })),
  vaults: z.array(z.object({ vault: z.string(), ...Access })).openapi({ description: 'vaults whose values it can read itself' }),
  throughFunctions: z.array(z.object({ vault: z.string(), workspaceRole: z.enum(WORKSPACE_ROLES), ...WorkspaceAccessSchema }))
    .openapi({ description: 'vaults it can use without reading: functions it may invoke read them through their workspace\'s grant' }),
}).openapi('PrincipalAccess');

const presentPath = (p: AccessPath) => ({ ...p, expiresAt: p.expiresAt ? iso(p.expiresAt)! : undefined });
const presentAccess = (a: Omit<PrincipalAccess, 'principal'>) => ({ role: a.role, admin: a.admin, via: a.via.map(presentPath) });

export function accessRoutes(report: AccessReport) {
  const r = createRouter();
  const tags = ['Access'];

  r.openapi(createRoute({ method: 'get', path: '/v1/vaults/{vault}/access', tags, security: BEARER,
    summary: 'Who can read this vault\'s values now, with their effective role and the grants that give it (manager, admin)',
    request: { params: VaultParam, query: z.strictObject({ secret: SecretName.optional().openapi({ description: 'only who can read this secret' }) }) },
    responses: { 200: jsonResponse(VaultAccessSchema, 'Access'), ...commonErrors } }),
  async (c) => {
    const { secret } = c.req.valid('query');
    const { vault, at, principals, workspaces } = await report.forVault(actorOf(c), c.req.valid('param').vault, { secret });
    return c.json({
      vault: vault.name, secret: secret ?? null, at: iso(at)!,
      principals: principals.map((p) => ({ principal: p.principal, ...presentAccess(p) })),
      workspaces: workspaces.map((w) => ({ ...w, expiresAt: iso(w.expiresAt) })),
    }, 200);
  });

  r.openapi(createRoute({ method: 'get', path: '/v1/principals/{id}/access', tags, security: BEARER,
    summary: 'Every vault this principal can read now, and how (admin, or the principal itself)',
    request: { params: z.object({ id: Id.openapi({ param: { name: 'id', in: 'path' } }) }) },
    responses: { 200: jsonResponse(PrincipalAccessSchema, 'Access'), ...commonErrors } }),
  async (c) => {
    const { principal, canAuthenticate, at, groups, vaults, throughFunctions } = await report.forPrincipal(actorOf(c), c.req.valid('param').id);
    return c.json({
      principal: { id: principal.id, name: principal.name, kind: principal.kind, isAdmin: principal.isAdmin, active: principal.active, canAuthenticate }, at: iso(at)!,
      throughFunctions: throughFunctions.map((t) => ({ ...t, vault: t.vault.name, expiresAt: iso(t.expiresAt) })),
      groups: groups.map((g) => ({ id: g.group.id, name: g.group.name, role: g.role })),
      vaults: vaults.map((v) => ({ vault: v.vault.name, ...presentAccess(v) })),
    }, 200);
  });

  return r;
}
