// /v1/workspaces and /v1/workspaces/{ws}/members
import { createRoute, z } from '@hono/zod-openapi';
import { createRouter, commonErrors, jsonBody, jsonResponse, ResourceName, WorkspaceParam, Timestamp, Id, iso, BEARER } from './openapi.ts';
import { actorOf } from '../middleware/auth.ts';
import type { WorkspaceService } from '../services/workspaces.ts';
import { WORKSPACE_ROLES, type Workspace } from '../../db/schema.ts';

const Role = z.enum(WORKSPACE_ROLES);
const WorkspaceSchema = z.object({
  name: z.string(), description: z.string().nullable(), createdAt: Timestamp, createdBy: z.string(), role: Role.nullable(),
}).openapi('Workspace');
const MemberSchema = z.object({ principalId: z.string(), name: z.string(), kind: z.string(), role: Role, createdAt: Timestamp }).openapi('WorkspaceMember');
const GroupMemberSchema = z.object({ groupId: z.string(), name: z.string(), role: Role, createdAt: Timestamp })
  .openapi('WorkspaceGroupMember', { description: 'a principal group holding a role in the workspace: each of its members holds it' });

const presentWorkspace = (w: Workspace, role: string | null | undefined) => ({
  name: w.name, description: w.description, createdAt: iso(w.createdAt)!, createdBy: w.createdBy, role: (role ?? null) as z.infer<typeof Role> | null,
});

export function workspaceRoutes(workspaces: WorkspaceService) {
  const r = createRouter();
  const tags = ['Workspaces'];

  r.openapi(createRoute({ method: 'get', path: '/v1/workspaces', tags, security: BEARER, summary: 'List your workspaces (admins: all)',
    responses: { 200: jsonResponse(z.object({ workspaces: z.array(WorkspaceSchema) }), 'Workspaces'), ...commonErrors } }),
  async (c) => c.json({ workspaces: (await workspaces.list(actorOf(c))).map((w) => presentWorkspace(w.workspace, w.role)) }, 200));

  r.openapi(createRoute({ method: 'post', path: '/v1/workspaces', tags, security: BEARER, summary: 'Create a workspace (admin); `owner` (a principal id) defaults to you',
    request: { body: jsonBody(z.strictObject({ name: ResourceName, description: z.string().max(1024).optional(), owner: Id.optional() })) },
    responses: { 201: jsonResponse(WorkspaceSchema, 'Created'), ...commonErrors } }),
  async (c) => {
    const actor = actorOf(c);
    const input = c.req.valid('json');
    const ws = await workspaces.create(actor, input);
    const ownedByCaller = !input.owner || input.owner === actor.principal.id;
    return c.json(presentWorkspace(ws, ownedByCaller ? 'owner' : null), 201);
  });

  r.openapi(createRoute({ method: 'get', path: '/v1/workspaces/{ws}', tags, security: BEARER, summary: 'Show a workspace (viewer)',
    request: { params: WorkspaceParam }, responses: { 200: jsonResponse(WorkspaceSchema, 'Workspace'), ...commonErrors } }),
  async (c) => {
    const { workspace, role } = await workspaces.get(actorOf(c), c.req.valid('param').ws);
    return c.json(presentWorkspace(workspace, role), 200);
  });

  r.openapi(createRoute({ method: 'delete', path: '/v1/workspaces/{ws}', tags, security: BEARER, summary: 'Delete a workspace with its functions and grants (owner)',
    request: { params: WorkspaceParam }, responses: { 204: { description: 'Deleted' }, ...commonErrors } }),
  async (c) => {
    await workspaces.remove(actorOf(c), c.req.valid('param').ws);
    return c.body(null, 204);
  });

  r.openapi(createRoute({ method: 'get', path: '/v1/workspaces/{ws}/members', tags, security: BEARER, summary: 'List members: principals, and groups whose members hold the role (viewer)',
    request: { params: WorkspaceParam },
    responses: { 200: jsonResponse(z.object({ members: z.array(MemberSchema), groups: z.array(GroupMemberSchema) }), 'Members'), ...commonErrors } }),
  async (c) => {
    const { members, groups } = await workspaces.members(actorOf(c), c.req.valid('param').ws);
    return c.json({
      members: members.map((m) => ({ ...m, createdAt: iso(m.createdAt)! })),
      groups: groups.map((g) => ({ ...g, createdAt: iso(g.createdAt)! })),
    }, 200);
  });

  r.openapi(createRoute({ method: 'post', path: '/v1/workspaces/{ws}/members', tags, security: BEARER,
    summary: 'Add a member (a principal, or a group by id) or change its role (owner)',
    request: { params: WorkspaceParam, body: jsonBody(z.strictObject({ principal: Id.optional(), group: Id.optional(), role: Role })) },
    responses: { 200: jsonResponse(z.object({ principalId: z.string().optional(), groupId: z.string().optional(), role: Role }), 'Member set'), ...commonErrors } }),
  async (c) => {
    const { principal, group, role } = c.req.valid('json');
    await workspaces.setMember(actorOf(c), c.req.valid('param').ws, { principal, group }, role);
    return c.json(principal ? { principalId: principal, role } : { groupId: group, role }, 200);
  });

  r.openapi(createRoute({ method: 'delete', path: '/v1/workspaces/{ws}/members/{principal}', tags, security: BEARER,
    summary: 'Remove a member, a principal or a group, by id (owner); the last owner, counted through groups, cannot be removed',
    request: { params: WorkspaceParam.extend({ principal: Id }) }, responses: { 204: { description: 'Removed' }, ...commonErrors } }),
  async (c) => {
    const { ws, principal } = c.req.valid('param');
    await workspaces.removeMember(actorOf(c), ws, principal);
    return c.body(null, 204);
  });

  return r;
}
