// Vaults and their grants: creation, listing, deletion, role assignments, reserved names.
// A deleted vault's name is reserved (a tombstone) until an admin releases it: whoever re-created
// it would otherwise stand in for the old vault to every function that still names it. Its audit
// history stays with the old vault's id either way, so a namesake never sees it.
import { inTransaction, type Db } from '../../db/client.ts';
import type { Vault, VaultRole } from '../../db/schema.ts';
import type { HeldGrant } from '../policy/grants.ts';
import * as vaultsRepo from '../../db/repos/vaults.ts';
import { findPrincipal } from '../../db/repos/principals.ts';
import { findWorkspaceByName, findMemberRole } from '../../db/repos/workspaces.ts';
import { findGroup } from '../../db/repos/groups.ts';
import { decideVaultAction, decidedThrough } from '../policy/grants.ts';
import { CofferError, notFound, badRequest, forbidden } from '../errors.ts';
import { workspaceRoleAllows } from '../policy/roles.ts';
import { newId } from '../crypto/credentials.ts';
import { actorFields, type Actor } from '../actor.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { requireAdmin, type AuthorizeVault } from './vault-access.ts';
import { keepingManagersAndOwners } from './access-holders.ts';

export function createVaultService(deps: { db: Db; audit: AuditLog; authorizeVault: AuthorizeVault }) {
  const { db, audit, authorizeVault } = deps;

  return {
    async list(actor: Actor) {
      const now = Date.now();
      const held = new Map<string, { vault: Vault; grants: HeldGrant[] }>();
      for (const { vault, grant } of await vaultsRepo.listGrantsHeldByPrincipal(db, actor.principal.id)) {
        const entry = held.get(vault.id) ?? { vault, grants: [] };
        entry.grants.push(grant);
        held.set(vault.id, entry);
      }
      const roleOf = (vaultId: string) => {
        const h = held.get(vaultId);
        return h && decideVaultAction(h.grants, { admin: false, action: 'vault.view', now }).role;
      };
      if (actor.principal.isAdmin) return (await vaultsRepo.listAllVaults(db)).map((vault) => ({ vault, role: roleOf(vault.id) }));
      return [...held.values()].map(({ vault }) => ({ vault, role: roleOf(vault.id) })).filter((v) => v.role !== undefined);
    },

    async create(actor: Actor, input: { name: string; description?: string }) {
      return inTransaction(db, async (tx) => {
        if (await vaultsRepo.findTombstone(tx, input.name)) {
          throw new CofferError('name_reserved', `the name "${input.name}" belonged to a deleted vault and stays reserved until an admin releases it`);
        }
        const vault = await vaultsRepo.insertVault(tx, {
          id: newId('vlt'), name: input.name, description: input.description ?? null, createdBy: actor.principal.id,
        });
        if (!vault) throw new CofferError('already_exists', `a vault named "${input.name}" already exists`);
        await vaultsRepo.upsertGrant(tx, { id: newId('grt'), vaultId: vault.id, principalId: actor.principal.id, role: 'manager', createdBy: actor.principal.id });
        await audit.append({ action: 'vault.create', outcome: 'allowed', vaultId: vault.id, vault: vault.name, ...actorFields(actor) }, tx);
        return { vault, role: 'manager' as VaultRole };
      });
    },

    async get(actor: Actor, name: string) {
      return authorizeVault(actor, name, 'vault.view');
    },

    async remove(actor: Actor, name: string) {
      const { vault } = await authorizeVault(actor, name, 'vault.delete');
      await inTransaction(db, async (tx) => {
        await vaultsRepo.deleteVault(tx, vault.id);
        await vaultsRepo.insertTombstone(tx, { name: vault.name, vaultId: vault.id, deletedBy: actor.principal.id });
        await audit.append({ action: 'vault.delete', outcome: 'allowed', vaultId: vault.id, vault: vault.name, ...actorFields(actor) }, tx);
      });
    },

    async listGrants(actor: Actor, vaultName: string) {
      const { vault } = await authorizeVault(actor, vaultName, 'grants.view');
      return vaultsRepo.listGrants(db, vault.id);
    },

    async addGrant(actor: Actor, vaultName: string, input: GrantInput) {
      const { vault, grant: decidedBy } = await authorizeVault(actor, vaultName, 'grants.edit');
      if ([input.principal, input.workspace, input.group].filter(Boolean).length !== 1) throw badRequest('give exactly one of "principal", "workspace" or "group"');
      if (input.functions && !input.workspace) throw badRequest('"functions" limits a workspace grant; give it with "workspace"');
      // Writers and managers list, write and manage the whole vault; only reading can be narrowed to names.
      if (input.secrets && input.role !== 'reader') throw badRequest('"secrets" can only limit a "reader" grant');
      const expiresAt = input.expiresAt === undefined ? null : new Date(input.expiresAt);
      if (expiresAt && expiresAt.getTime() <= Date.now()) throw badRequest('"expiresAt" must be in the future');
      let holder: { principalId?: string; workspaceId?: string; groupId?: string };
      if (input.workspace) {
        // A workspace's functions only ever read; writing from functions is not part of the model.
        if (input.role !== 'reader') throw badRequest('a workspace can only be granted the "reader" role');
        // Consent: the workspace's functions will read this vault, so its owner (or an admin) must
        // be the one granting. A workspace the granter cannot see is answered like one that does
        // not exist, so workspace names cannot be probed through grants.
        const ws = await findWorkspaceByName(db, input.workspace);
        const wsRole = ws ? await findMemberRole(db, ws.id, actor.principal.id) : undefined;
        if (!ws || (!actor.principal.isAdmin && !wsRole)) throw notFound('workspace');
        if (!actor.principal.isAdmin && !workspaceRoleAllows(wsRole, 'grants.accept')) {
          await audit.append({ action: 'grant.edit', outcome: 'denied', vaultId: vault.id, vault: vault.name, workspaceId: ws.id, workspace: ws.name,
            detail: { reason: 'no_workspace_consent', role: input.role }, ...actorFields(actor) });
          throw forbidden(`only an owner of workspace "${ws.name}" (or an admin) can grant it access to a vault`);
        }
        holder = { workspaceId: ws.id };
      } else if (input.group) {
        if (!(await findGroup(db, input.group))) throw notFound('group');
        holder = { groupId: input.group };
      } else {
        const p = await findPrincipal(db, input.principal!);
        if (!p) throw notFound('principal');
        holder = { principalId: p.id };
      }
      const terms = { functions: input.functions ?? null, secrets: input.secrets ?? null, expiresAt };
      return inTransaction(db, async (tx) => {
        const { grant, previousRole } = await keepingManagersAndOwners(tx, { vaultIds: [vault.id] }, () => vaultsRepo.upsertGrant(tx, {
          id: newId('grt'), vaultId: vault.id, ...holder, role: input.role, ...terms, createdBy: actor.principal.id,
        }), { what: 'downgraded' });
        // An expiring manager grant must not become the vault's only way to be managed: at its
        // instant the vault would be left without a manager, with nobody's change to refuse.
        if (expiresAt && (input.role === 'manager' || previousRole === 'manager') && !(await vaultsRepo.hasPermanentManager(tx, vault.id))) {
          throw new CofferError('last_manager', 'the vault would be managed only through expiring grants; keep a manager without expiresAt');
        }
        await audit.append({
          action: 'grant.create', outcome: 'allowed', vaultId: vault.id, vault: vault.name, workspace: input.workspace ?? null,
          workspaceId: holder.workspaceId ?? null,
          detail: {
            grantId: grant.id, role: input.role, principalId: holder.principalId ?? null, previousRole: previousRole ?? null,
            ...(holder.groupId ? { groupId: holder.groupId } : {}), ...(terms.functions ? { functions: terms.functions } : {}),
            ...(terms.secrets ? { secrets: terms.secrets } : {}), ...(expiresAt ? { expiresAt: expiresAt.toISOString() } : {}),
            ...decidedThrough(decidedBy),
          },
          ...actorFields(actor),
        }, tx);
        return grant;
      });
    },

    /** Reserved names of deleted vaults (admin). */
    async listReservedNames(actor: Actor) {
      requireAdmin(actor);
      return vaultsRepo.listTombstones(db);
    },

    /** Lets a deleted vault's name be used again (admin). The old vault's trail stays under its id. */
    async releaseName(actor: Actor, name: string) {
      requireAdmin(actor);
      await inTransaction(db, async (tx) => {
        const released = await vaultsRepo.deleteTombstone(tx, name);
        if (!released) throw notFound('reserved vault name');
        await audit.append({ action: 'vault.name.release', outcome: 'allowed', vault: name,
          detail: { formerVaultId: released.vaultId, deletedAt: released.deletedAt.toISOString() }, ...actorFields(actor) }, tx);
      });
    },

    async removeGrant(actor: Actor, vaultName: string, grantId: string) {
      const { vault, grant: decidedBy } = await authorizeVault(actor, vaultName, 'grants.edit');
      await inTransaction(db, async (tx) => {
        const grant = await vaultsRepo.findGrant(tx, vault.id, grantId);
        if (!grant) throw notFound('grant');
        await keepingManagersAndOwners(tx, { vaultIds: [vault.id] }, () => vaultsRepo.deleteGrant(tx, grant.id));
        await audit.append({
          action: 'grant.delete', outcome: 'allowed', vaultId: vault.id, vault: vault.name,
          detail: {
            grantId: grant.id, role: grant.role, principalId: grant.principalId, workspaceId: grant.workspaceId,
            ...(grant.groupId ? { groupId: grant.groupId } : {}), ...decidedThrough(decidedBy),
          },
          ...actorFields(actor),
        }, tx);
      });
    },
  };
}

export interface GrantInput {
  principal?: string;
  workspace?: string;
  group?: string;
  role: VaultRole;
  functions?: string[];
  secrets?: string[];
  /** ISO 8601 instant. */
  expiresAt?: string;
}

export type VaultService = ReturnType<typeof createVaultService>;
