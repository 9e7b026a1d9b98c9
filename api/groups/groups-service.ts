// Principal groups: admins create them; a group's owners manage its members. A group is a grantee
// like a principal (vault grants, workspace roles), and every member holds what the group holds.
// Every change here is a write transaction, so it moves the access epoch and (on PostgreSQL)
// notifies every gateway: a membership change is seen by the next request anywhere.
import { inTransaction, type Db } from '../../db/client.ts';
import type { Group, GroupRole } from '../../db/schema.ts';
import * as groupsRepo from '../../db/repos/groups.ts';
import { lockAccessHolders, vaultsManagedByGroup } from '../../db/repos/vaults.ts';
import { workspacesOwnedByGroup } from '../../db/repos/workspaces.ts';
import { findPrincipal } from '../../db/repos/principals.ts';
import { CofferError, forbidden, notFound } from '../errors.ts';
import { newId } from '../crypto/credentials.ts';
import { actorFields, type Actor } from '../actor.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { requireAdmin } from '../services/vault-access.ts';
import { keepingManagersAndOwners } from '../services/access-holders.ts';
import { storableText } from '../storable-text.ts';

type GroupAction = 'view' | 'edit';
const MAX_DESCRIPTION_CHARS = 1024;

export function createGroupService(deps: { db: Db; audit: AuditLog }) {
  const { db, audit } = deps;

  /** Admins may do anything; members may view; owners may edit. Others get 404, as for a missing group. */
  async function authorizeGroup(actor: Actor, id: string, action: GroupAction): Promise<{ group: Group; role: GroupRole | undefined }> {
    const group = await groupsRepo.findGroup(db, id);
    if (!group) throw notFound('group');
    const role = await groupsRepo.findGroupRole(db, id, actor.principal.id);
    if (actor.principal.isAdmin || (role && (action === 'view' || role === 'owner'))) return { group, role };
    if (!role) throw notFound('group');
    throw forbidden('only the group\'s owners and admins can change it');
  }

  /** What the group's removal or a member's leaving could orphan: vaults it manages, workspaces it owns. */
  async function holdings(tx: Db, groupId: string) {
    return { vaultIds: await vaultsManagedByGroup(tx, groupId), workspaceIds: await workspacesOwnedByGroup(tx, groupId) };
  }

  return {
    authorizeGroup,

    async list(actor: Actor) {
      const mine = await groupsRepo.listGroupsForPrincipal(db, actor.principal.id);
      if (!actor.principal.isAdmin) return mine;
      const roles = new Map(mine.map((m) => [m.group.id, m.role]));
      return (await groupsRepo.listAllGroups(db)).map((group) => ({ group, role: roles.get(group.id) }));
    },

    async create(actor: Actor, input: { name: string; description?: string; owner?: string }) {
      requireAdmin(actor);
      const ownerId = input.owner ?? actor.principal.id;
      if (input.owner && !(await findPrincipal(db, input.owner))) throw notFound('principal');
      return inTransaction(db, async (tx) => {
        const group = await groupsRepo.insertGroup(tx, { id: newId('grp'), name: input.name, description: input.description === undefined ? null : storableText(input.description, MAX_DESCRIPTION_CHARS), createdBy: actor.principal.id });
        if (!group) throw new CofferError('already_exists', `a group named "${input.name}" already exists`);
        await groupsRepo.upsertGroupMember(tx, group.id, ownerId, 'owner');
        await audit.append({ action: 'group.create', outcome: 'allowed', detail: { groupId: group.id, name: group.name, ownerId }, ...actorFields(actor) }, tx);
        return { group, role: ownerId === actor.principal.id ? 'owner' as const : undefined };
      });
    },

    async get(actor: Actor, id: string) {
      const { group, role } = await authorizeGroup(actor, id, 'view');
      return { group, role, holds: await groupsRepo.listGroupHoldings(db, id) };
    },

    async update(actor: Actor, id: string, patch: { name?: string; description?: string | null }) {
      const { group, role } = await authorizeGroup(actor, id, 'edit');
      if (patch.name === undefined && patch.description === undefined) return { group, role };
      if (typeof patch.description === 'string') patch = { ...patch, description: storableText(patch.description, MAX_DESCRIPTION_CHARS) };
      return inTransaction(db, async (tx) => {
        const updated = await groupsRepo.updateGroup(tx, group.id, patch);
        if (!updated) throw new CofferError('already_exists', `a group named "${patch.name}" already exists`);
        await audit.append({ action: 'group.update', outcome: 'allowed', detail: { groupId: group.id, ...patch }, ...actorFields(actor) }, tx);
        return { group: updated, role };
      });
    },

    async remove(actor: Actor, id: string) {
      const { group } = await authorizeGroup(actor, id, 'edit');
      await inTransaction(db, async (tx) => {
        await keepingManagersAndOwners(tx, await holdings(tx, group.id), () => groupsRepo.deleteGroup(tx, group.id), { what: 'removed with its group' });
        await audit.append({ action: 'group.delete', outcome: 'allowed', detail: { groupId: group.id, name: group.name }, ...actorFields(actor) }, tx);
      });
    },

    async members(actor: Actor, id: string) {
      await authorizeGroup(actor, id, 'view');
      return groupsRepo.listGroupMembers(db, id);
    },

    async setMember(actor: Actor, id: string, principalId: string, role: GroupRole) {
      const { group } = await authorizeGroup(actor, id, 'edit');
      if (!(await findPrincipal(db, principalId))) throw notFound('principal');
      await inTransaction(db, async (tx) => {
        await keepingGroupOwner(tx, group.id, () => groupsRepo.upsertGroupMember(tx, group.id, principalId, role), 'downgraded');
        await audit.append({ action: 'group.member.set', outcome: 'allowed', detail: { groupId: group.id, principalId, role }, ...actorFields(actor) }, tx);
      });
    },

    async removeMember(actor: Actor, id: string, principalId: string) {
      const { group } = await authorizeGroup(actor, id, 'edit');
      await inTransaction(db, async (tx) => {
        await keepingManagersAndOwners(tx, await holdings(tx, group.id), () => keepingGroupOwner(tx, group.id, async () => {
          if (!(await groupsRepo.deleteGroupMember(tx, group.id, principalId))) throw notFound('member');
        }, 'removed'), { what: 'removed from the group that makes them one' });
        await audit.append({ action: 'group.member.remove', outcome: 'allowed', detail: { groupId: group.id, principalId }, ...actorFields(actor) }, tx);
      });
    },
  };
}

/** A group keeps at least one owner (it is deleted, not emptied of owners). */
async function keepingGroupOwner<T>(tx: Db, groupId: string, change: () => Promise<T>, what: string): Promise<T> {
  await lockAccessHolders(tx);
  const had = await groupsRepo.countGroupOwners(tx, groupId);
  const result = await change();
  if (had > 0 && (await groupsRepo.countGroupOwners(tx, groupId)) === 0) {
    throw new CofferError('last_owner', `the last owner of a group cannot be ${what}; add another owner first, or delete the group`);
  }
  return result;
}

export type GroupService = ReturnType<typeof createGroupService>;
