// Workspaces and their members. Admins create workspaces; owners manage members.
import { inTransaction, type Db } from '../../db/client.ts';
import type { WorkspaceRole, Workspace } from '../../db/schema.ts';
import * as wsRepo from '../../db/repos/workspaces.ts';
import { findPrincipal } from '../../db/repos/principals.ts';
import { CofferError, badRequest, forbidden, notFound } from '../errors.ts';
import { newId } from '../crypto/credentials.ts';
import { actorFields, type Actor } from '../actor.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { workspaceRoleAllows, type WorkspaceAction } from '../policy/roles.ts';
import { isResourceName } from '../../domain/names.ts';
import { requireAdmin } from './vault-access.ts';
import { decidedThrough } from '../policy/grants.ts';
import { keepingManagersAndOwners } from './access-holders.ts';
import { findGroup } from '../../db/repos/groups.ts';

/**
 * Admins and roles that allow `action` pass. Non-members get 404, as for vaults: workspace names are
 * not disclosed by probing. Members whose role is too low get 403.
 */
export function checkWorkspaceAccess(actor: Actor, name: string, role: WorkspaceRole | null | undefined, action: WorkspaceAction): void {
  if (actor.principal.isAdmin || workspaceRoleAllows(role ?? undefined, action)) return;
  if (!role) throw notFound('workspace');
  throw forbidden(`your role "${role}" in workspace "${name}" does not allow ${action}`);
}

export type ViaGroup = { viaGroup: string; viaGroupId: string } | undefined;

/** The group that decided a workspace action, for its audit row (an admin's actions are the admin's). */
export const viaGroup = (actor: Actor, membership: wsRepo.Membership): ViaGroup => (actor.principal.isAdmin ? undefined : decidedThrough(membership));

export function createWorkspaceService(deps: { db: Db; audit: AuditLog }) {
  const { db, audit } = deps;

  /**
   * `via`: audit detail naming the group whose role allowed the action (absent when the caller's own
   * role did, or it is an admin).
   */
  async function authorizeWorkspace(actor: Actor, name: string, action: WorkspaceAction): Promise<{ workspace: Workspace; role: WorkspaceRole | undefined; via: ViaGroup }> {
    if (!isResourceName(name)) throw notFound('workspace');
    const workspace = await wsRepo.findWorkspaceByName(db, name);
    if (!workspace) throw notFound('workspace');
    const membership = await wsRepo.findMembership(db, workspace.id, actor.principal.id);
    checkWorkspaceAccess(actor, name, membership.role, action);
    return { workspace, role: membership.role, via: viaGroup(actor, membership) };
  }

  return {
    authorizeWorkspace,

    async list(actor: Actor) {
      if (actor.principal.isAdmin) {
        const mine = new Map((await wsRepo.listWorkspacesForPrincipal(db, actor.principal.id)).map((r) => [r.workspace.id, r.role]));
        return (await wsRepo.listAllWorkspaces(db)).map((workspace) => ({ workspace, role: mine.get(workspace.id) }));
      }
      return wsRepo.listWorkspacesForPrincipal(db, actor.principal.id);
    },

    async create(actor: Actor, input: { name: string; description?: string; owner?: string }) {
      requireAdmin(actor);
      const ownerId = input.owner ?? actor.principal.id;
      if (input.owner && !(await findPrincipal(db, input.owner))) throw notFound('principal');
      return inTransaction(db, async (tx) => {
        const workspace = await wsRepo.insertWorkspace(tx, { id: newId('wks'), name: input.name, description: input.description ?? null, createdBy: actor.principal.id });
        if (!workspace) throw new CofferError('already_exists', `a workspace named "${input.name}" already exists`);
        await wsRepo.upsertMember(tx, workspace.id, ownerId, 'owner');
        await audit.append({ action: 'workspace.create', outcome: 'allowed', workspaceId: workspace.id, workspace: workspace.name, detail: { ownerId }, ...actorFields(actor) }, tx);
        return workspace;
      });
    },

    async get(actor: Actor, name: string) {
      return authorizeWorkspace(actor, name, 'workspace.view');
    },

    async remove(actor: Actor, name: string) {
      const { workspace, via } = await authorizeWorkspace(actor, name, 'workspace.delete');
      await inTransaction(db, async (tx) => {
        await wsRepo.deleteWorkspace(tx, workspace.id);
        await audit.append({ action: 'workspace.delete', outcome: 'allowed', workspaceId: workspace.id, workspace: workspace.name, detail: via, ...actorFields(actor) }, tx);
      });
    },

    async members(actor: Actor, name: string) {
      const { workspace } = await authorizeWorkspace(actor, name, 'members.view');
      const [members, groups] = [await wsRepo.listMembers(db, workspace.id), await wsRepo.listGroupsOfWorkspace(db, workspace.id)];
      return { members, groups };
    },

    /** Adds a member (a principal, or a group: all its members hold the role) or changes its role. */
    async setMember(actor: Actor, name: string, member: { principal?: string; group?: string }, role: WorkspaceRole) {
      const { workspace, via } = await authorizeWorkspace(actor, name, 'members.edit');
      if (!!member.principal === !!member.group) throw badRequest('give exactly one of "principal" or "group"');
      if (member.principal && !(await findPrincipal(db, member.principal))) throw notFound('principal');
      if (member.group && !(await findGroup(db, member.group))) throw notFound('group');
      await inTransaction(db, async (tx) => {
        await keepingManagersAndOwners(tx, { workspaceIds: [workspace.id] }, () => (member.principal
          ? wsRepo.upsertMember(tx, workspace.id, member.principal, role)
          : wsRepo.upsertGroupMembership(tx, workspace.id, member.group!, role)), { what: 'downgraded' });
        await audit.append({
          action: 'workspace.member.set', outcome: 'allowed', workspaceId: workspace.id, workspace: workspace.name,
          detail: { ...(member.principal ? { principalId: member.principal } : { groupId: member.group }), role, ...via }, ...actorFields(actor),
        }, tx);
      });
    },

    /** Removes a member: `memberId` is a principal's id or a group's. */
    async removeMember(actor: Actor, name: string, memberId: string) {
      const { workspace, via } = await authorizeWorkspace(actor, name, 'members.edit');
      await inTransaction(db, async (tx) => {
        let removedGroup = false;
        await keepingManagersAndOwners(tx, { workspaceIds: [workspace.id] }, async () => {
          if (await wsRepo.deleteMember(tx, workspace.id, memberId)) return;
          if (!(await wsRepo.deleteGroupMembership(tx, workspace.id, memberId))) throw notFound('member');
          removedGroup = true;
        });
        await audit.append({
          action: 'workspace.member.remove', outcome: 'allowed', workspaceId: workspace.id, workspace: workspace.name,
          detail: { ...(removedGroup ? { groupId: memberId } : { principalId: memberId }), ...via }, ...actorFields(actor),
        }, tx);
      });
    },
  };
}

export type WorkspaceService = ReturnType<typeof createWorkspaceService>;
