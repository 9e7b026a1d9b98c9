// Reading the audit trail: admins see everything, a vault's managers see their vault's rows.
// `vault` names the vault that carries that name now, and rows are matched by its id, so a vault
// re-created under a deleted one's name never shows its namesake's history. Admins can page
// through a deleted vault's rows by `vaultId` (the id is on every row and in the tombstone list).
import type { Db } from '../../db/client.ts';
import { queryAudit, type AuditFilter } from '../../db/repos/audit.ts';
import type { Actor } from '../actor.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { CofferError } from '../errors.ts';
import type { AuthorizeVault } from './vault-access.ts';
import { requireAdmin } from './vault-access.ts';

export function createAuditQueryService(deps: { db: Db; audit: AuditLog; authorizeVault: AuthorizeVault }) {
  return {
    async search(actor: Actor, query: Omit<AuditFilter, 'vaultId'> & { vault?: string; vaultId?: string }) {
      const { vault: vaultName, ...filter } = query;
      if (!actor.principal.isAdmin) {
        if (filter.vaultId) throw new CofferError('forbidden', 'only admins can filter by vault id; filter by the name of a vault you manage');
        if (!vaultName) throw new CofferError('forbidden', 'only admins can read the whole audit trail; filter by a vault you manage');
      }
      if (vaultName) {
        const { vault } = await deps.authorizeVault(actor, vaultName, 'audit.view');
        if (filter.vaultId && filter.vaultId !== vault.id) return { events: [], nextCursor: null };
        filter.vaultId = vault.id;
      }
      const rows = await queryAudit(deps.db, { ...filter, limit: filter.limit + 1 });
      const page = rows.slice(0, filter.limit);
      return { events: page, nextCursor: rows.length > filter.limit ? String(page[page.length - 1].seq) : null };
    },

    async verify(actor: Actor) {
      requireAdmin(actor);
      return deps.audit.verify();
    },
  };
}

export type AuditQueryService = ReturnType<typeof createAuditQueryService>;
