// The one place that decides whether an actor may do something to a vault.
// A caller with no role on a vault gets the same 404 as for a vault that does not exist, so
// vault names are not disclosed by probing; a caller with some role but not enough gets 403.
// The role is the strongest of the grants the caller holds itself and through its groups that are
// in force now and cover the target (api/policy/grants.ts): an expired grant counts as none, a
// grant limited to some secrets gives nothing on the others.
import type { Db } from '../../db/client.ts';
import type { Vault, VaultRole } from '../../db/schema.ts';
import { findVaultWithGrants } from '../../db/repos/vaults.ts';
import { decideVaultAction, decidedThrough, type HeldGrant } from '../policy/grants.ts';
import type { VaultAction } from '../policy/roles.ts';
import { CofferError, forbidden, notFound } from '../errors.ts';
import { actorFields, type Actor } from '../actor.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { isResourceName } from '../../domain/names.ts';

export interface VaultAccess {
  vault: Vault;
  /** The actor's effective role for this target; admins without a grant have none but are allowed all the same. */
  role: VaultRole | undefined;
  /** The grant that gave the role (its group, if held through one), for the audit row. */
  grant: HeldGrant | undefined;
}

/**
 * Actions whose refusal is worth an audit row (they concern secret values or grants), with the
 * audit action an allowed attempt records, so one filter (`action=secret.read`) finds both outcomes.
 */
const AUDITED_DENIALS: Partial<Record<VaultAction, string>> = {
  'secrets.read_value': 'secret.read',
  'secrets.write': 'secret.write',
  'secrets.delete': 'secret.delete',
  'versions.manage': 'secret.version.manage',
  'grants.edit': 'grant.edit',
  'vault.delete': 'vault.delete',
};

export function createVaultAccess(deps: { db: Db; audit: AuditLog }) {
  return async function authorizeVault(actor: Actor, vaultName: string, action: VaultAction, target: { secret?: string } = {}): Promise<VaultAccess> {
    if (!isResourceName(vaultName)) throw notFound('vault');
    const found = await findVaultWithGrants(deps.db, vaultName, actor.principal.id);
    const vault = found?.vault;
    const decision = decideVaultAction(found?.grants ?? [], { admin: actor.principal.isAdmin, action, now: Date.now(), secret: target.secret });
    const { role, grant } = decision;
    if (vault && decision.allowed) return { vault, role, grant };

    const auditAction = AUDITED_DENIALS[action];
    const reason = vault ? decision.reason : 'no_access';
    if (auditAction) {
      await deps.audit.append({
        action: auditAction, outcome: 'denied', ...actorFields(actor),
        vaultId: vault?.id ?? null, vault: vaultName, secret: target.secret, detail: { reason, ...decidedThrough(grant) },
      });
    }
    if (!vault || !decision.visible) throw notFound('vault');
    if (decision.reason === 'not_for_secret') throw forbidden(`your grant on vault "${vaultName}" does not cover secret "${target.secret}"`);
    throw forbidden(`your role "${role}" on vault "${vaultName}" does not allow ${action}`);
  };
}

export type AuthorizeVault = ReturnType<typeof createVaultAccess>;

export function requireAdmin(actor: Actor): void {
  if (!actor.principal.isAdmin) throw new CofferError('forbidden', 'only instance admins can do this');
}
