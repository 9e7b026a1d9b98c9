// "Who can read this?" and "what can this principal read?", answered by the decision the request
// path makes (strongestGrant and grantCovers in api/policy/grants.ts, over the same grant rows), so
// a report cannot say yes where a request would be refused, or the reverse.
import type { Db } from '../../db/client.ts';
import type { Vault, VaultRole } from '../../db/schema.ts';
import * as vaultsRepo from '../../db/repos/vaults.ts';
import { findPrincipal, listActiveAdmins } from '../../db/repos/principals.ts';
import { listGroupsForPrincipal } from '../../db/repos/groups.ts';
import { grantCovers, strongestGrant, type HeldGrant } from '../policy/grants.ts';
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

function pathOf(g: HeldGrant): AccessPath {
  return {
    source: g.group ? 'group' : 'direct', grantId: g.grantId, role: g.role,
    ...(g.group ? { group: g.group } : {}), ...(g.secrets ? { secrets: g.secrets } : {}), ...(g.expiresAt ? { expiresAt: g.expiresAt } : {}),
  };
}

/** The decision over one principal's grants on one vault, as a report entry; undefined: no access. */
function decide(grants: HeldGrant[], admin: boolean, now: number): Omit<PrincipalAccess, 'principal'> | undefined {
  const effective = strongestGrant(grants, { now });
  if (!effective && !admin) return undefined;
  const inForce = grants.filter((g) => grantCovers(g, { now }));
  const ordered = effective ? [effective, ...inForce.filter((g) => g !== effective)] : [];
  const via = ordered.map(pathOf);
  if (admin) via.push({ source: 'admin' });
  return { role: effective?.role ?? null, admin, via };
}

export function createAccessReport(deps: { db: Db; authorizeVault: AuthorizeVault }) {
  const { db, authorizeVault } = deps;

  return {
    /** Everyone who can read the vault's values now (vault managers and admins may ask). */
    async forVault(actor: Actor, vaultName: string) {
      const { vault } = await authorizeVault(actor, vaultName, 'grants.view');
      const now = Date.now();
      const byPrincipal = new Map<string, { principal: PrincipalAccess['principal']; active: boolean; grants: HeldGrant[] }>();
      for (const { principal, grant } of await vaultsRepo.listPrincipalGrantsOnVault(db, vault.id)) {
        const entry = byPrincipal.get(principal.id) ?? { principal: { id: principal.id, name: principal.name, kind: principal.kind }, active: principal.active, grants: [] };
        entry.grants.push(grant);
        byPrincipal.set(principal.id, entry);
      }
      const admins = new Set<string>();
      for (const a of await listActiveAdmins(db)) {
        admins.add(a.id);
        if (!byPrincipal.has(a.id)) byPrincipal.set(a.id, { principal: a, active: true, grants: [] });
      }
      const principals: PrincipalAccess[] = [];
      for (const { principal, active, grants } of byPrincipal.values()) {
        // A deactivated principal cannot authenticate, so it reads nothing whatever it holds.
        const decided = active ? decide(grants, admins.has(principal.id), now) : undefined;
        if (decided) principals.push({ principal, ...decided });
      }
      principals.sort((a, b) => a.principal.name.localeCompare(b.principal.name) || a.principal.id.localeCompare(b.principal.id));

      const workspaces = (await vaultsRepo.listGrants(db, vault.id))
        .filter((g) => g.grant.workspaceId && g.workspaceName && grantCovers(g.grant, { now }))
        .map((g) => ({
          workspace: g.workspaceName!, role: g.grant.role, grantId: g.grant.id,
          functions: g.grant.functions, secrets: g.grant.secrets, expiresAt: g.grant.expiresAt,
        }));
      return { vault, at: new Date(now), principals, workspaces };
    },

    /** Every vault the principal can read now, and how (admins, and the principal itself, may ask). */
    async forPrincipal(actor: Actor, principalId: string) {
      if (!actor.principal.isAdmin && actor.principal.id !== principalId) throw forbidden('only admins can see another principal\'s access');
      const principal = await findPrincipal(db, principalId);
      if (!principal) throw notFound('principal');
      const now = Date.now();
      const byVault = new Map<string, { vault: Vault; grants: HeldGrant[] }>();
      for (const { vault, grant } of await vaultsRepo.listGrantsHeldByPrincipal(db, principalId)) {
        const entry = byVault.get(vault.id) ?? { vault, grants: [] };
        entry.grants.push(grant);
        byVault.set(vault.id, entry);
      }
      const admin = principal.isAdmin && principal.active;
      if (admin) for (const vault of await vaultsRepo.listAllVaults(db)) if (!byVault.has(vault.id)) byVault.set(vault.id, { vault, grants: [] });
      const vaults = principal.active
        ? [...byVault.values()].flatMap(({ vault, grants }) => {
          const decided = decide(grants, admin, now);
          return decided ? [{ vault, ...decided }] : [];
        }).sort((a, b) => a.vault.name.localeCompare(b.vault.name))
        : [];
      const groups = await listGroupsForPrincipal(db, principalId);
      return { principal, at: new Date(now), groups, vaults };
    },
  };
}

export type AccessReport = ReturnType<typeof createAccessReport>;
