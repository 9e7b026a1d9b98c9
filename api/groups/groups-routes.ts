// /v1/groups and /v1/groups/{id}/members
import { createRoute, z } from '@hono/zod-openapi';
import { createRouter, commonErrors, jsonBody, jsonResponse, ResourceName, Timestamp, Id, iso, BEARER } from '../routes/openapi.ts';
import { actorOf } from '../middleware/auth.ts';
import type { GroupService } from './groups-service.ts';
import { GROUP_ROLES, VAULT_ROLES, WORKSPACE_ROLES, type Group } from '../../db/schema.ts';
import { isExpired } from '../policy/grants.ts';

const Role = z.enum(GROUP_ROLES).openapi({ description: 'owners manage the members; every member holds the group\'s roles' });
const GroupSchema = z.object({
  id: z.string(), name: z.string(), description: z.string().nullable(), createdAt: Timestamp, createdBy: z.string(),
  role: Role.nullable().openapi({ description: 'your own role in the group' }),
}).openapi('Group');
const GroupDetailSchema = GroupSchema.extend({
  vaults: z.array(z.object({
    vault: z.string(), grantId: z.string(), role: z.enum(VAULT_ROLES), secrets: z.array(z.string()).nullable(),
    expiresAt: Timestamp.nullable(), expired: z.boolean(),
  })),
  workspaces: z.array(z.object({ workspace: z.string(), role: z.enum(WORKSPACE_ROLES) })),
}).openapi('GroupDetail');
const MemberSchema = z.object({ principalId: z.string(), name: z.string(), kind: z.string(), role: Role, createdAt: Timestamp }).openapi('GroupMember');
const GroupParam = z.object({ id: Id.openapi({ param: { name: 'id', in: 'path' } }) });

const presentGroup = (g: Group, role: string | null | undefined) => ({
  id: g.id, name: g.name, description: g.description, createdAt: iso(g.createdAt)!, createdBy: g.createdBy,
  role: (role ?? null) as z.infer<typeof Role> | null,
});

export function groupRoutes(groups: GroupService) {
  const r = createRouter();
  const tags = ['Groups'];

  r.openapi(createRoute({ method: 'get', path: '/v1/groups', tags, security: BEARER, summary: 'List the groups you belong to (admins: all)',
    responses: { 200: jsonResponse(z.object({ groups: z.array(GroupSchema) }), 'Groups'), ...commonErrors } }),
  async (c) => c.json({ groups: (await groups.list(actorOf(c))).map((g) => presentGroup(g.group, g.role)) }, 200));

  r.openapi(createRoute({ method: 'post', path: '/v1/groups', tags, security: BEARER, summary: 'Create a group (admin); `owner` (a principal id) defaults to you',
    request: { body: jsonBody(z.strictObject({ name: ResourceName, description: z.string().max(1024).optional(), owner: Id.optional() })) },
    responses: { 201: jsonResponse(GroupSchema, 'Created'), ...commonErrors } }),
  async (c) => {
    const { group, role } = await groups.create(actorOf(c), c.req.valid('json'));
    return c.json(presentGroup(group, role), 201);
  });

  r.openapi(createRoute({ method: 'get', path: '/v1/groups/{id}', tags, security: BEARER, summary: 'Show a group and what it holds (members, admins)',
    request: { params: GroupParam }, responses: { 200: jsonResponse(GroupDetailSchema, 'Group'), ...commonErrors } }),
  async (c) => {
    const { group, role, holds } = await groups.get(actorOf(c), c.req.valid('param').id);
    const now = Date.now();
    return c.json({
      ...presentGroup(group, role),
      vaults: holds.vaults.map((v) => ({
        vault: v.vault, grantId: v.grant.id, role: v.grant.role, secrets: v.grant.secrets, expiresAt: iso(v.grant.expiresAt), expired: isExpired(v.grant, now),
      })),
      workspaces: holds.workspaces,
    }, 200);
  });

  r.openapi(createRoute({ method: 'patch', path: '/v1/groups/{id}', tags, security: BEARER, summary: 'Rename or describe a group (owner)',
    request: { params: GroupParam, body: jsonBody(z.strictObject({ name: ResourceName.optional(), description: z.string().max(1024).nullable().optional() })) },
    responses: { 200: jsonResponse(GroupSchema, 'Updated'), ...commonErrors } }),
  async (c) => {
    const { group, role } = await groups.update(actorOf(c), c.req.valid('param').id, c.req.valid('json'));
    return c.json(presentGroup(group, role), 200);
  });

  r.openapi(createRoute({ method: 'delete', path: '/v1/groups/{id}', tags, security: BEARER,
    summary: 'Delete a group with its grants and memberships (owner); refused if that leaves a vault without a manager or a workspace without an owner',
    request: { params: GroupParam }, responses: { 204: { description: 'Deleted' }, ...commonErrors } }),
  async (c) => {
    await groups.remove(actorOf(c), c.req.valid('param').id);
    return c.body(null, 204);
  });

  r.openapi(createRoute({ method: 'get', path: '/v1/groups/{id}/members', tags, security: BEARER, summary: 'List members (members, admins)',
    request: { params: GroupParam }, responses: { 200: jsonResponse(z.object({ members: z.array(MemberSchema) }), 'Members'), ...commonErrors } }),
  async (c) => {
    const rows = await groups.members(actorOf(c), c.req.valid('param').id);
    return c.json({ members: rows.map((m) => ({ ...m, createdAt: iso(m.createdAt)! })) }, 200);
  });

  r.openapi(createRoute({ method: 'post', path: '/v1/groups/{id}/members', tags, security: BEARER,
    summary: 'Add a member (a user or service account) or change its role (owner); takes effect on the next request',
    request: { params: GroupParam, body: jsonBody(z.strictObject({ principal: Id, role: Role.default('member') })) },
    responses: { 200: jsonResponse(z.object({ principalId: z.string(), role: Role }), 'Member set'), ...commonErrors } }),
  async (c) => {
    const { principal, role } = c.req.valid('json');
    await groups.setMember(actorOf(c), c.req.valid('param').id, principal, role);
    return c.json({ principalId: principal, role }, 200);
  });

  r.openapi(createRoute({ method: 'delete', path: '/v1/groups/{id}/members/{principal}', tags, security: BEARER,
    summary: 'Remove a member (owner); refused for the group\'s last owner, or if it leaves a vault without a manager or a workspace without an owner',
    request: { params: GroupParam.extend({ principal: Id }) }, responses: { 204: { description: 'Removed' }, ...commonErrors } }),
  async (c) => {
    const { id, principal } = c.req.valid('param');
    await groups.removeMember(actorOf(c), id, principal);
    return c.body(null, 204);
  });

  return r;
}
