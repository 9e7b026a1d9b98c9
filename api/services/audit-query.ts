// Reading the audit trail: admins see everything, a vault's managers see their vault's rows.
import type { Db } from '../../db/client.ts';
import { queryAudit, type AuditFilter } from '../../db/repos/audit.ts';
import type { Actor } from '../actor.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { CofferError } from '../errors.ts';
import type { AuthorizeVault } from './vault-access.ts';
import { requireAdmin } from './vault-access.ts';

export function createAuditQueryService(deps: { db: Db; audit: AuditLog; authorizeVault: AuthorizeVault }) {
  return {
    async search(actor: Actor, filter: AuditFilter) {
      if (!actor.principal.isAdmin) {
        if (!filter.vault) throw new CofferError('forbidden', 'only admins can read the whole audit trail; filter by a vault you manage');
        await deps.authorizeVault(actor, filter.vault, 'audit.view');
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
