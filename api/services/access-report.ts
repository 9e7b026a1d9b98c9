// "Who can read this?" and "what can this principal read?", answered by the decision the request
// path makes: decideVaultAction (what authorizeVault applies to an API request) and
// decideFunctionRead (what a function's getSecret applies), both in api/policy/grants.ts, over the
// same grant rows. A report cannot say yes where a request would be refused, or the reverse.
import type { Db } from '../../db/client.ts';
import type { Vault, VaultGrant, VaultRole, WorkspaceRole } from '../../db/schema.ts';
import * as vaultsRepo from '../../db/repos/vaults.ts';
import { findPrincipalStanding, listActiveAdmins } from '../../db/repos/principals.ts';
import { listGroupsForPrincipal } from '../../db/repos/groups.ts';
import { listWorkspacesForPrincipal } from '../../db/repos/workspaces.ts';
import { decideFunctionRead, decideVaultAction, grantCovers, type HeldGrant } from '../policy/grants.ts';
import { workspaceRoleAllows } from '../policy/roles.ts';
import { forbidden, notFound } from '../errors.ts';
import type { Actor } from '../actor.ts';
import type { AuthorizeVault } from './vault-access.ts';

/** One way a principal holds access: a grant of its own, a group's grant, or being an admin. */
export interface AccessPath {
  source: 'direct' | 'group' | 'admin';
  grantId?: string;
  role?: VaultRole;
  group?: { id: string; name: string };
  /** The grant covers only these secret names (patterns). */
  secrets?: string[];
  expiresAt?: Date;
}

export interface PrincipalAccess {
  principal: { id: string; name: string; kind: string };
  /** The effective role: the strongest grant in force (null for an admin without one). */
  role: VaultRole | null;
  admin: boolean;
  /** Every grant in force that gives access, strongest first (the first decides), then admin. */
  via: AccessPath[];
}

/** A workspace grant in force: the functions it allows (null: all) read the vault. */
export interface WorkspaceAccess {
  workspace: string;
  role: VaultRole;
  grantId: string;
  functions: string[] | null;
  secrets: string[] | null;
  expiresAt: Date | null;
}

function pathOf(g: HeldGrant): AccessPath {
  return {
    source: g.group ? 'group' : 'direct', grantId: g.grantId, role: g.role,
    ...(g.group ? { group: g.group } : {}), ...(g.secrets ? { secrets: g.secrets } : {}), ...(g.expiresAt ? { expiresAt: g.expiresAt } : {}),
  };
}

/** Whether these grants let their holder read values (the secret's, if named) now, as a report entry. */
function readAccess(grants: HeldGrant[], admin: boolean, now: number, secret: string | undefined): Omit<PrincipalAccess, 'principal'> | undefined {
  const decision = decideVaultAction(grants, { admin, action: 'secrets.read_value', now, secret });
  if (!decision.allowed) return undefined;
  const effective = decision.grant;
  const others = grants.filter((g) => g !== effective && grantCovers(g, { now, secret })).sort(strongerFirst);
  const via = (effective ? [effective, ...others] : others).map(pathOf);
  if (admin) via.push({ source: 'admin' });
  return { role: decision.role ?? null, admin, via };
}

const RANK: Record<VaultRole, number> = { manager: 3, writer: 2, reader: 1 };
/** Stable order of the paths after the deciding one: higher role, direct before group, then by grant id. */
const strongerFirst = (a: HeldGrant, b: HeldGrant) =>
  RANK[b.role] - RANK[a.role] || Number(a.group !== null) - Number(b.group !== null) || a.grantId.localeCompare(b.grantId);

function workspaceAccess(grant: VaultGrant, workspaceName: string, now: number, secret: string | undefined): WorkspaceAccess | undefined {
  if (!decideFunctionRead(grant, { now, secret }).allowed) return undefined;
  return { workspace: workspaceName, role: grant.role, grantId: grant.id, functions: grant.functions, secrets: grant.secrets, expiresAt: grant.expiresAt };
}

export function createAccessReport(deps: { db: Db; authorizeVault: AuthorizeVault }) {
  const { db, authorizeVault } = deps;

  return {
    /** Everyone who can read the vault's values (one secret's, if named) now; vault managers and admins may ask. */
    async forVault(actor: Actor, vaultName: string, options: { secret?: string } = {}) {
      const { vault } = await authorizeVault(actor, vaultName, 'grants.view');
      const now = Date.now();
      const byPrincipal = new Map<string, { principal: PrincipalAccess['principal']; canAuthenticate: boolean; grants: HeldGrant[] }>();
      for (const { principal, grant } of await vaultsRepo.listPrincipalGrantsOnVault(db, vault.id)) {
        const entry = byPrincipal.get(principal.id)
          ?? { principal: { id: principal.id, name: principal.name, kind: principal.kind }, canAuthenticate: principal.canAuthenticate, grants: [] };
        entry.grants.push(grant);
        byPrincipal.set(principal.id, entry);
      }
      const admins = new Set<string>();
      for (const a of await listActiveAdmins(db)) {
        admins.add(a.id);
        if (!byPrincipal.has(a.id)) byPrincipal.set(a.id, { principal: a, canAuthenticate: true, grants: [] });
      }
      const principals: PrincipalAccess[] = [];
      for (const { principal, canAuthenticate, grants } of byPrincipal.values()) {
        // A principal that cannot authenticate (deactivated, or its owner is) reads nothing, whatever it holds.
        const access = canAuthenticate ? readAccess(grants, admins.has(principal.id), now, options.secret) : undefined;
        if (access) principals.push({ principal, ...access });
      }
      principals.sort((a, b) => a.principal.name.localeCompare(b.principal.name) || a.principal.id.localeCompare(b.principal.id));

      const workspaces = (await vaultsRepo.listGrants(db, vault.id)).flatMap((g) => {
        const access = g.grant.workspaceId && g.workspaceName ? workspaceAccess(g.grant, g.workspaceName, now, options.secret) : undefined;
        return access ? [access] : [];
      });
      return { vault, at: new Date(now), principals, workspaces };
    },

    /**
     * Every vault the principal can read now, and how; and the vaults its workspaces' functions read,
     * where it may invoke them (it uses those secrets without reading them). Admins, and the principal
     * itself, may ask.
     */
    async forPrincipal(actor: Actor, principalId: string) {
      if (!actor.principal.isAdmin && actor.principal.id !== principalId) throw forbidden('only admins can see another principal\'s access');
      const standing = await findPrincipalStanding(db, principalId);
      if (!standing) throw notFound('principal');
      const { principal, canAuthenticate } = standing;
      const now = Date.now();
      const byVault = new Map<string, { vault: Vault; grants: HeldGrant[] }>();
      for (const { vault, grant } of await vaultsRepo.listGrantsHeldByPrincipal(db, principalId)) {
        const entry = byVault.get(vault.id) ?? { vault, grants: [] };
        entry.grants.push(grant);
        byVault.set(vault.id, entry);
      }
      const admin = principal.isAdmin && canAuthenticate;
      if (admin) for (const vault of await vaultsRepo.listAllVaults(db)) if (!byVault.has(vault.id)) byVault.set(vault.id, { vault, grants: [] });
      const vaults = canAuthenticate
        ? [...byVault.values()].flatMap(({ vault, grants }) => {
          const access = readAccess(grants, admin, now, undefined);
          return access ? [{ vault, ...access }] : [];
        }).sort((a, b) => a.vault.name.localeCompare(b.vault.name))
        : [];

      const invokable = canAuthenticate
        ? (await listWorkspacesForPrincipal(db, principalId)).filter((w) => workspaceRoleAllows(w.role, 'functions.invoke'))
        : [];
      const roleIn = new Map<string, WorkspaceRole | undefined>(invokable.map((w) => [w.workspace.id, w.role]));
      const throughFunctions = (await vaultsRepo.listGrantsOfWorkspaces(db, [...roleIn.keys()])).flatMap((g) => {
        const access = workspaceAccess(g.grant, g.workspaceName, now, undefined);
        return access ? [{ vault: g.vault, workspaceRole: roleIn.get(g.grant.workspaceId!)!, ...access }] : [];
      });
      const groups = await listGroupsForPrincipal(db, principalId);
      return { principal, canAuthenticate, at: new Date(now), groups, vaults, throughFunctions };
    },
  };
}

export type AccessReport = ReturnType<typeof createAccessReport>;
