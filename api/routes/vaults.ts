// /v1/vaults and /v1/vaults/{vault}/grants
import { createRoute, z } from '@hono/zod-openapi';
import { createRouter, commonErrors, jsonBody, jsonResponse, ResourceName, VaultParam, Timestamp, Id, iso, BEARER } from './openapi.ts';
import { actorOf } from '../middleware/auth.ts';
import type { VaultService } from '../services/vaults.ts';
import type { Vault, VaultGrant } from '../../db/schema.ts';
import { VAULT_ROLES } from '../../db/schema.ts';
import { isExpired } from '../policy/grants.ts';

const Role = z.enum(VAULT_ROLES);
const VaultSchema = z.object({
  name: z.string(), description: z.string().nullable(), createdAt: Timestamp, createdBy: z.string(),
  role: Role.nullable().openapi({ description: 'your own role on the vault' }),
}).openapi('Vault');
const GrantSchema = z.object({
  id: z.string(), role: Role,
  principal: z.object({ id: z.string(), name: z.string().nullable(), kind: z.string().nullable() }).nullable(),
  workspace: z.string().nullable(),
  group: z.object({ id: z.string(), name: z.string().nullable() }).nullable(),
  functions: z.array(z.string()).nullable().openapi({ description: 'workspace grants: the only functions allowed to use it (null: all)' }),
  secrets: z.array(z.string()).nullable().openapi({ description: 'reader grants: the only secret names it covers (null: all)' }),
  expiresAt: Timestamp.nullable(),
  expired: z.boolean().openapi({ description: 'past expiresAt: kept, visibly, until removed, but gives no access' }),
  createdAt: Timestamp, createdBy: z.string(),
}).openapi('Grant');

const FunctionGlob = z.string().min(1).max(63).regex(/^[a-z0-9*][a-z0-9_*-]*$/, 'a function name, or a pattern with * (any run of characters)');
const SecretGlob = z.string().min(1).max(128).regex(/^[A-Za-z0-9*][A-Za-z0-9._*-]*$/, 'a secret name, or a pattern with * (any run of characters)');
const GrantBody = z.strictObject({
  principal: Id.optional(), workspace: ResourceName.optional(), group: Id.optional(), role: Role,
  functions: z.array(FunctionGlob).min(1).max(64).optional()
    .openapi({ description: 'workspace grants only: the function names (or * patterns) allowed to use the grant; other functions of the workspace are denied' }),
  secrets: z.array(SecretGlob).min(1).max(64).optional()
    .openapi({ description: 'reader grants only: the secret names (or * patterns) the grant covers' }),
  expiresAt: z.string().datetime({ offset: true }).optional()
    .openapi({ description: 'the grant stops working at this instant (checked on every access); it stays listed, as expired, until removed' }),
}).openapi('GrantRequest');

const presentVault = (vault: Vault, role: string | null | undefined) => ({
  name: vault.name, description: vault.description, createdAt: iso(vault.createdAt)!, createdBy: vault.createdBy, role: (role ?? null) as z.infer<typeof Role> | null,
});
const presentGrant = (now: number) => (g: { grant: VaultGrant; principalName: string | null; principalKind: string | null; workspaceName: string | null; groupName: string | null }) => ({
  id: g.grant.id, role: g.grant.role,
  principal: g.grant.principalId ? { id: g.grant.principalId, name: g.principalName, kind: g.principalKind } : null,
  workspace: g.workspaceName,
  group: g.grant.groupId ? { id: g.grant.groupId, name: g.groupName } : null,
  functions: g.grant.functions, secrets: g.grant.secrets, expiresAt: iso(g.grant.expiresAt), expired: isExpired(g.grant, now),
  createdAt: iso(g.grant.createdAt)!, createdBy: g.grant.createdBy,
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
  async (c) => c.json({ grants: (await vaults.listGrants(actorOf(c), c.req.valid('param').vault)).map(presentGrant(Date.now())) }, 200));

  r.openapi(createRoute({ method: 'post', path: '/v1/vaults/{vault}/grants', tags: ['Grants'], security: BEARER,
    summary: 'Grant a role to a principal (by id), a group (by id) or a workspace (by name, reader only); re-granting replaces the role and terms',
    request: { params: VaultParam, body: jsonBody(GrantBody) },
    responses: { 201: jsonResponse(z.object({ id: z.string(), role: Role, expiresAt: Timestamp.nullable() }), 'Granted'), ...commonErrors } }),
  async (c) => {
    const grant = await vaults.addGrant(actorOf(c), c.req.valid('param').vault, c.req.valid('json'));
    return c.json({ id: grant.id, role: grant.role, expiresAt: iso(grant.expiresAt) }, 201);
  });

  r.openapi(createRoute({ method: 'delete', path: '/v1/vaults/{vault}/grants/{id}', tags: ['Grants'], security: BEARER, summary: 'Remove a grant (manager); the last manager, counted through groups, cannot be removed',
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
