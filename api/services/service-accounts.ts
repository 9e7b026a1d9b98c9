// Service accounts: principals of kind 'service_account' that authenticate either with one
// long-lived API key or with OAuth client credentials (never both), and their client secrets.
// The owner (creator) and instance admins manage an account; anyone else gets the same 404 as for
// an account that does not exist, so account ids are not disclosed by probing.
import { inTransaction, type Db } from '../../db/client.ts';
import * as principalsRepo from '../../db/repos/principals.ts';
import * as accountsRepo from '../../db/repos/service-accounts.ts';
import type { Principal } from '../../db/schema.ts';
import { vaultsManagedOnlyBy } from '../../db/repos/vaults.ts';
import { workspacesOwnedOnlyBy } from '../../db/repos/workspaces.ts';
import { CofferError, forbidden, notFound } from '../errors.ts';
import { newId, newClientSecret, hashCredential, displayPrefix } from '../crypto/credentials.ts';
import { actorFields, type Actor } from '../actor.ts';
import type { AuditLog } from '../audit/audit-log.ts';

/** Two secrets are enough to rotate without downtime: add the new one, switch clients, retire the old. */
export const MAX_CLIENT_SECRETS = 2;

export type ServiceAccountAuth = 'api_key' | 'oauth';

type IssueKey = (tx: Db, principalId: string, name: string | null) => Promise<{ key: string; row: { id: string; prefix: string } }>;

export function createServiceAccountService(deps: { db: Db; audit: AuditLog; issueKey: IssueKey }) {
  const { db, audit, issueKey } = deps;

  const canManage = (actor: Actor, account: Principal) => actor.principal.isAdmin || account.ownerId === actor.principal.id;

  async function manageable(actor: Actor, id: string, tx: Db = db, lock = false) {
    const account = lock ? await accountsRepo.lockServiceAccount(tx, id) : await accountsRepo.findServiceAccount(tx, id);
    if (!account || !canManage(actor, account)) throw notFound('service account');
    return account;
  }

  function requireOAuth(account: Principal) {
    if (account.authKind !== 'oauth') {
      throw new CofferError('wrong_auth_kind', 'this service account authenticates with an API key; client secrets exist only on OAuth service accounts');
    }
  }

  async function issueClientSecret(tx: Db, principalId: string) {
    const secret = newClientSecret();
    const row = await accountsRepo.insertClientSecret(tx, { id: newId('cs'), principalId, prefix: displayPrefix(secret), hash: hashCredential(secret) });
    return { secret, row };
  }

  /** Locks the account and returns its secrets with the one named, for the rotation rules below. */
  async function lockedSecret(tx: Db, actor: Actor, id: string, secretId: string) {
    const account = await manageable(actor, id, tx, true);
    requireOAuth(account);
    const secrets = await accountsRepo.listClientSecrets(tx, id);
    const target = secrets.find((s) => s.id === secretId);
    if (!target) throw notFound('client secret');
    return { account, secrets, target };
  }

  return {
    async create(actor: Actor, input: { name: string; description?: string; auth: ServiceAccountAuth }) {
      // Service accounts do not mint service accounts: every account traces back to a person.
      if (actor.principal.kind !== 'user') throw forbidden('only users can create service accounts');
      return inTransaction(db, async (tx) => {
        if (await principalsRepo.findPrincipalByName(tx, 'service_account', input.name)) {
          throw new CofferError('already_exists', `a service account named "${input.name}" already exists`);
        }
        const account = await principalsRepo.insertPrincipal(tx, {
          id: newId('sa'), kind: 'service_account', name: input.name, description: input.description ?? null,
          isAdmin: false, authKind: input.auth, ownerId: actor.principal.id,
        });
        const apiKey = input.auth === 'api_key' ? await issueKey(tx, account.id, 'service account key') : undefined;
        const clientSecret = input.auth === 'oauth' ? await issueClientSecret(tx, account.id) : undefined;
        await audit.append({
          action: 'service_account.create', outcome: 'allowed', ...actorFields(actor),
          detail: { serviceAccountId: account.id, auth: input.auth, apiKeyId: apiKey?.row.id, clientSecretId: clientSecret?.row.id },
        }, tx);
        return { account, apiKey, clientSecret };
      });
    },

    async list(actor: Actor) {
      return accountsRepo.listServiceAccounts(db, actor.principal.isAdmin ? {} : { ownerId: actor.principal.id });
    },

    async get(actor: Actor, id: string) {
      return manageable(actor, id);
    },

    async update(actor: Actor, id: string, patch: { name?: string; description?: string | null; active?: boolean }) {
      const updated = await inTransaction(db, async (tx) => {
        const account = await manageable(actor, id, tx, true);
        if (patch.name !== undefined && patch.name !== account.name && await principalsRepo.findPrincipalByName(tx, 'service_account', patch.name)) {
          throw new CofferError('already_exists', `a service account named "${patch.name}" already exists`);
        }
        // An admin's deactivation (say, in incident response) is not the owner's to undo. The
        // refusal is audited once the transaction (and its row lock) is over.
        if (patch.active === true && !account.active && account.deactivatedByAdmin && !actor.principal.isAdmin) return undefined;
        const flags = patch.active === false && account.active ? { deactivatedByAdmin: actor.principal.isAdmin }
          : patch.active === true && !account.active ? { deactivatedByAdmin: false } : {};
        const row = await principalsRepo.updatePrincipal(tx, id, { ...patch, ...flags });
        const action = patch.active === false && account.active ? 'service_account.deactivate'
          : patch.active === true && !account.active ? 'service_account.reactivate' : 'service_account.update';
        await audit.append({ action, outcome: 'allowed', ...actorFields(actor),
          detail: { serviceAccountId: id, fields: Object.keys(patch), byAdmin: actor.principal.isAdmin, ...(patch.name ? { from: account.name, to: patch.name } : {}) } }, tx);
        return row;
      });
      if (!updated) {
        await audit.append({ action: 'service_account.reactivate', outcome: 'denied', ...actorFields(actor),
          detail: { serviceAccountId: id, reason: 'deactivated_by_admin' } });
        throw forbidden('an admin deactivated this service account; only an admin can reactivate it');
      }
      return updated;
    },

    async remove(actor: Actor, id: string) {
      await inTransaction(db, async (tx) => {
        const account = await manageable(actor, id, tx, true);
        // Grants and memberships go with it (foreign keys cascade), so it must not be the last
        // manager of a vault or the last owner of a workspace: that would orphan them.
        const vaults = await vaultsManagedOnlyBy(tx, id);
        if (vaults.length > 0) {
          throw new CofferError('last_manager', `this service account is the last manager of ${vaults.map((v) => `"${v}"`).join(', ')}; add another manager first`);
        }
        const workspaces = await workspacesOwnedOnlyBy(tx, id);
        if (workspaces.length > 0) {
          throw new CofferError('last_owner', `this service account is the last owner of ${workspaces.map((w) => `"${w}"`).join(', ')}; add another owner first`);
        }
        // Keys and client secrets go with it too.
        await principalsRepo.deletePrincipal(tx, id);
        await audit.append({ action: 'service_account.delete', outcome: 'allowed', ...actorFields(actor), detail: { serviceAccountId: id, name: account.name } }, tx);
      });
    },

    async listSecrets(actor: Actor, id: string) {
      const account = await manageable(actor, id);
      requireOAuth(account);
      return accountsRepo.listClientSecrets(db, id);
    },

    async createSecret(actor: Actor, id: string) {
      return inTransaction(db, async (tx) => {
        const account = await manageable(actor, id, tx, true);
        requireOAuth(account);
        const existing = await accountsRepo.listClientSecrets(tx, id);
        if (existing.length >= MAX_CLIENT_SECRETS) {
          throw new CofferError('max_client_secrets', `a service account has at most ${MAX_CLIENT_SECRETS} client secrets; deactivate and delete one first`);
        }
        const issued = await issueClientSecret(tx, id);
        await audit.append({ action: 'client_secret.create', outcome: 'allowed', ...actorFields(actor), detail: { serviceAccountId: id, clientSecretId: issued.row.id } }, tx);
        return issued;
      });
    },

    async setSecretActive(actor: Actor, id: string, secretId: string, active: boolean) {
      return inTransaction(db, async (tx) => {
        const { secrets, target } = await lockedSecret(tx, actor, id, secretId);
        if (target.active === active) return target;
        if (!active && secrets.filter((s) => s.active).length <= 1) {
          throw new CofferError('last_active_secret', 'this is the account\'s last active client secret; create and activate another one first');
        }
        const row = await accountsRepo.setClientSecretActive(tx, secretId, active);
        await audit.append({ action: active ? 'client_secret.reactivate' : 'client_secret.deactivate', outcome: 'allowed', ...actorFields(actor),
          detail: { serviceAccountId: id, clientSecretId: secretId } }, tx);
        return row;
      });
    },

    async deleteSecret(actor: Actor, id: string, secretId: string) {
      await inTransaction(db, async (tx) => {
        const { target } = await lockedSecret(tx, actor, id, secretId);
        // Only a deactivated secret can go, and the last active one cannot be deactivated, so an
        // account always keeps one working secret.
        if (target.active) throw new CofferError('secret_still_active', 'deactivate the client secret before deleting it');
        await accountsRepo.deleteClientSecret(tx, secretId);
        await audit.append({ action: 'client_secret.delete', outcome: 'allowed', ...actorFields(actor), detail: { serviceAccountId: id, clientSecretId: secretId } }, tx);
      });
    },
  };
}

export type ServiceAccountService = ReturnType<typeof createServiceAccountService>;
