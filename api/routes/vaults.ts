// /v1/vaults and /v1/vaults/{vault}/grants
import { createRoute, z } from '@hono/zod-openapi';
import { createRouter, commonErrors, jsonBody, jsonResponse, ResourceName, VaultParam, Timestamp, Id, iso, BEARER } from './openapi.ts';
import { actorOf } from '../middleware/auth.ts';
import type { VaultService } from '../services/vaults.ts';
import type { Vault, VaultGrant } from '../../db/schema.ts';
import { VAULT_ROLES } from '../../db/schema.ts';

const Role = z.enum(VAULT_ROLES);
const VaultSchema = z.object({
  name: z.string(), description: z.string().nullable(), createdAt: Timestamp, createdBy: z.string(),
  role: Role.nullable().openapi({ description: 'your own role on the vault' }),
}).openapi('Vault');
const GrantSchema = z.object({
  id: z.string(), role: Role,
  principal: z.object({ id: z.string(), name: z.string().nullable(), kind: z.string().nullable() }).nullable(),
  workspace: z.string().nullable(), createdAt: Timestamp, createdBy: z.string(),
}).openapi('Grant');

const presentVault = (vault: Vault, role: string | null | undefined) => ({
  name: vault.name, description: vault.description, createdAt: iso(vault.createdAt)!, createdBy: vault.createdBy, role: (role ?? null) as z.infer<typeof Role> | null,
});
const presentGrant = (g: { grant: VaultGrant; principalName: string | null; principalKind: string | null; workspaceName: string | null }) => ({
  id: g.grant.id, role: g.grant.role,
  principal: g.grant.principalId ? { id: g.grant.principalId, name: g.principalName, kind: g.principalKind } : null,
  workspace: g.workspaceName, createdAt: iso(g.grant.createdAt)!, createdBy: g.grant.createdBy,
});

export function vaultRoutes(vaults: VaultService) {
  const r = createRouter();
  const tags = ['Vaults'];

  r.openapi(createRoute({ method: 'get', path: '/v1/vaults', tags, security: BEARER, summary: 'List the vaults you hold a role on (admins: all)',
    responses: { 200: jsonResponse(z.object({ vaults: z.array(VaultSchema) }), 'Vaults'), ...commonErrors } }),
  async (c) => c.json({ vaults: (await vaults.list(actorOf(c))).map((v) => presentVault(v.vault, v.role)) }, 200));

  r.openapi(createRoute({ method: 'post', path: '/v1/vaults', tags, security: BEARER, summary: 'Create a vault; you become its manager',
    request: { body: jsonBody(z.strictObject({ name: ResourceName, description: z.string().max(1024).optional() })) },
    responses: { 201: jsonResponse(VaultSchema, 'Created'), ...commonErrors } }),
  async (c) => {
    const { vault, role } = await vaults.create(actorOf(c), c.req.valid('json'));
    return c.json(presentVault(vault, role), 201);
  });

  r.openapi(createRoute({ method: 'get', path: '/v1/vaults/{vault}', tags, security: BEARER, summary: 'Show a vault',
    request: { params: VaultParam }, responses: { 200: jsonResponse(VaultSchema, 'Vault'), ...commonErrors } }),
  async (c) => {
    const { vault, role } = await vaults.get(actorOf(c), c.req.valid('param').vault);
    return c.json(presentVault(vault, role), 200);
  });

  r.openapi(createRoute({ method: 'delete', path: '/v1/vaults/{vault}', tags, security: BEARER, summary: 'Delete a vault and every secret in it (manager)',
    request: { params: VaultParam }, responses: { 204: { description: 'Deleted' }, ...commonErrors } }),
  async (c) => {
    await vaults.remove(actorOf(c), c.req.valid('param').vault);
    return c.body(null, 204);
  });

  r.openapi(createRoute({ method: 'get', path: '/v1/vaults/{vault}/grants', tags: ['Grants'], security: BEARER, summary: 'List role grants (manager)',
    request: { params: VaultParam }, responses: { 200: jsonResponse(z.object({ grants: z.array(GrantSchema) }), 'Grants'), ...commonErrors } }),
  async (c) => c.json({ grants: (await vaults.listGrants(actorOf(c), c.req.valid('param').vault)).map(presentGrant) }, 200));

  r.openapi(createRoute({ method: 'post', path: '/v1/vaults/{vault}/grants', tags: ['Grants'], security: BEARER,
    summary: 'Grant a role to a principal (by id) or a workspace (by name, reader only); re-granting changes the role',
    request: { params: VaultParam, body: jsonBody(z.strictObject({ principal: Id.optional(), workspace: ResourceName.optional(), role: Role })) },
    responses: { 201: jsonResponse(z.object({ id: z.string(), role: Role }), 'Granted'), ...commonErrors } }),
  async (c) => {
    const grant = await vaults.addGrant(actorOf(c), c.req.valid('param').vault, c.req.valid('json'));
    return c.json({ id: grant.id, role: grant.role }, 201);
  });

  r.openapi(createRoute({ method: 'delete', path: '/v1/vaults/{vault}/grants/{id}', tags: ['Grants'], security: BEARER, summary: 'Remove a grant (manager); the last manager cannot be removed',
    request: { params: VaultParam.extend({ id: Id }) }, responses: { 204: { description: 'Removed' }, ...commonErrors } }),
  async (c) => {
    const { vault, id } = c.req.valid('param');
    await vaults.removeGrant(actorOf(c), vault, id);
    return c.body(null, 204);
  });

  const ReservedName = z.object({
    name: z.string(), formerVaultId: z.string().nullable(), deletedBy: z.string().nullable(), deletedAt: Timestamp,
  }).openapi('ReservedVaultName');

  r.openapi(createRoute({ method: 'get', path: '/v1/admin/vault-names', tags: ['Vaults'], security: BEARER,
    summary: 'Names of deleted vaults, reserved until released (admin)',
    responses: { 200: jsonResponse(z.object({ names: z.array(ReservedName) }), 'Reserved names'), ...commonErrors } }),
  async (c) => c.json({ names: (await vaults.listReservedNames(actorOf(c))).map((t) => ({
    name: t.name, formerVaultId: t.vaultId, deletedBy: t.deletedBy, deletedAt: iso(t.deletedAt)!,
  })) }, 200));

  r.openapi(createRoute({ method: 'delete', path: '/v1/admin/vault-names/{vault}', tags: ['Vaults'], security: BEARER,
    summary: 'Release a deleted vault\'s name so a new vault may take it (admin); the old vault\'s audit trail stays under its id',
    request: { params: VaultParam }, responses: { 204: { description: 'Released' }, ...commonErrors } }),
  async (c) => {
    await vaults.releaseName(actorOf(c), c.req.valid('param').vault);
    return c.body(null, 204);
  });

  return r;
}
