// Workspaces and their members. Admins create workspaces; owners manage members.
import { inTransaction, type Db } from '../../db/client.ts';
import type { WorkspaceRole, Workspace } from '../../db/schema.ts';
import * as wsRepo from '../../db/repos/workspaces.ts';
import { findPrincipal } from '../../db/repos/principals.ts';
import { CofferError, forbidden, notFound } from '../errors.ts';
import { newId } from '../crypto/credentials.ts';
import { actorFields, type Actor } from '../actor.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { workspaceRoleAllows, type WorkspaceAction } from '../policy/roles.ts';
import { isResourceName } from '../../domain/names.ts';
import { requireAdmin } from './vault-access.ts';

/**
 * Admins and roles that allow `action` pass. Non-members get 404, as for vaults: workspace names are
 * not disclosed by probing. Members whose role is too low get 403.
 */
export function checkWorkspaceAccess(actor: Actor, name: string, role: WorkspaceRole | null | undefined, action: WorkspaceAction): void {
  if (actor.principal.isAdmin || workspaceRoleAllows(role ?? undefined, action)) return;
  if (!role) throw notFound('workspace');
  throw forbidden(`your role "${role}" in workspace "${name}" does not allow ${action}`);
}

export function createWorkspaceService(deps: { db: Db; audit: AuditLog }) {
  const { db, audit } = deps;

  async function authorizeWorkspace(actor: Actor, name: string, action: WorkspaceAction): Promise<{ workspace: Workspace; role: WorkspaceRole | undefined }> {
    if (!isResourceName(name)) throw notFound('workspace');
    const workspace = await wsRepo.findWorkspaceByName(db, name);
    if (!workspace) throw notFound('workspace');
    const role = await wsRepo.findMemberRole(db, workspace.id, actor.principal.id);
    checkWorkspaceAccess(actor, name, role, action);
    return { workspace, role };
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
      const { workspace } = await authorizeWorkspace(actor, name, 'workspace.delete');
      await inTransaction(db, async (tx) => {
        await wsRepo.deleteWorkspace(tx, workspace.id);
        await audit.append({ action: 'workspace.delete', outcome: 'allowed', workspaceId: workspace.id, workspace: workspace.name, ...actorFields(actor) }, tx);
      });
    },

    async members(actor: Actor, name: string) {
      const { workspace } = await authorizeWorkspace(actor, name, 'members.view');
      return wsRepo.listMembers(db, workspace.id);
    },

    async setMember(actor: Actor, name: string, principalId: string, role: WorkspaceRole) {
      const { workspace } = await authorizeWorkspace(actor, name, 'members.edit');
      if (!(await findPrincipal(db, principalId))) throw notFound('principal');
      await inTransaction(db, async (tx) => {
        const owners = await wsRepo.lockOwners(tx, workspace.id);
        if (role !== 'owner' && owners.length === 1 && owners[0] === principalId) {
          throw new CofferError('last_owner', 'the last owner of a workspace cannot be downgraded; add another owner first');
        }
        await wsRepo.upsertMember(tx, workspace.id, principalId, role);
        await audit.append({ action: 'workspace.member.set', outcome: 'allowed', workspaceId: workspace.id, workspace: workspace.name, detail: { principalId, role }, ...actorFields(actor) }, tx);
      });
    },

    async removeMember(actor: Actor, name: string, principalId: string) {
      const { workspace } = await authorizeWorkspace(actor, name, 'members.edit');
      await inTransaction(db, async (tx) => {
        const owners = await wsRepo.lockOwners(tx, workspace.id);
        if (owners.length === 1 && owners[0] === principalId) {
          throw new CofferError('last_owner', 'the last owner of a workspace cannot be removed; add another owner first');
        }
        if (!(await wsRepo.deleteMember(tx, workspace.id, principalId))) throw notFound('member');
        await audit.append({ action: 'workspace.member.remove', outcome: 'allowed', workspaceId: workspace.id, workspace: workspace.name, detail: { principalId }, ...actorFields(actor) }, tx);
      });
    },
  };
}

export type WorkspaceService = ReturnType<typeof createWorkspaceService>;
