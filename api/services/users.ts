// Users and their API keys. Admins create users and manage anyone's keys; a user manages their own.
// Offboarding is deactivation, not deletion (the audit trail keeps naming the person): a deactivated
// user's keys fail from the next request on, and so do the service accounts they own (checked at
// authentication, db/repos/principals.ts), until an admin reactivates them.
import { inTransaction, type Db } from '../../db/client.ts';
import * as principalsRepo from '../../db/repos/principals.ts';
import { CofferError, forbidden, notFound } from '../errors.ts';
import { newId, newApiKey, hashCredential, displayPrefix } from '../crypto/credentials.ts';
import { actorFields, type Actor } from '../actor.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { requireAdmin } from './vault-access.ts';

export function createUserService(deps: { db: Db; audit: AuditLog }) {
  const { db, audit } = deps;

  function requireSelfOrAdmin(actor: Actor, principalId: string) {
    if (!actor.principal.isAdmin && actor.principal.id !== principalId) throw forbidden('only admins can manage other principals\' API keys');
  }

  /** Issues a key for any principal; returns the key itself, which is never stored or shown again. */
  async function issueKey(tx: Db, principalId: string, name: string | null) {
    const key = newApiKey();
    const row = await principalsRepo.insertApiKey(tx, { id: newId('key'), principalId, name, prefix: displayPrefix(key), hash: hashCredential(key) });
    return { key, row };
  }

  return {
    issueKey,

    async list(actor: Actor) {
      requireAdmin(actor);
      return principalsRepo.listPrincipals(db, 'user');
    },

    async create(actor: Actor, input: { name: string; isAdmin?: boolean; description?: string }) {
      requireAdmin(actor);
      return inTransaction(db, async (tx) => {
        // A concurrent create of the same name fails on the unique index: 409 from the error handler.
        if (await principalsRepo.findPrincipalByName(tx, 'user', input.name)) {
          throw new CofferError('already_exists', `a user named "${input.name}" already exists`);
        }
        const user = await principalsRepo.insertPrincipal(tx, {
          id: newId('usr'), kind: 'user', name: input.name, description: input.description ?? null, isAdmin: input.isAdmin ?? false,
        });
        await audit.append({ action: 'user.create', outcome: 'allowed', detail: { userId: user.id, isAdmin: user.isAdmin }, ...actorFields(actor) }, tx);
        return user;
      });
    },

    async get(actor: Actor, id: string) {
      requireSelfOrAdmin(actor, id);
      const user = await principalsRepo.findPrincipal(db, id);
      if (!user || user.kind !== 'user') throw notFound('user');
      return user;
    },

    /** Deactivates or reactivates a user (admin). Admins cannot deactivate themselves, so one always remains. */
    async setActive(actor: Actor, id: string, active: boolean) {
      requireAdmin(actor);
      if (!active && id === actor.principal.id) throw new CofferError('conflict', 'you cannot deactivate yourself; ask another admin');
      return inTransaction(db, async (tx) => {
        const user = await principalsRepo.lockPrincipal(tx, id);
        if (!user || user.kind !== 'user') throw notFound('user');
        if (user.active === active) return user;
        // Committing moves the access epoch (and notifies other gateways), so cached key lookups
        // for this user and the service accounts they own are dropped before the next request.
        const updated = await principalsRepo.updatePrincipal(tx, id, { active });
        await audit.append({ action: active ? 'user.reactivate' : 'user.deactivate', outcome: 'allowed', ...actorFields(actor),
          detail: { userId: id, name: user.name } }, tx);
        return updated;
      });
    },

    async listKeys(actor: Actor, principalId: string) {
      requireSelfOrAdmin(actor, principalId);
      if (!(await principalsRepo.findPrincipal(db, principalId))) throw notFound('principal');
      return principalsRepo.listApiKeys(db, principalId);
    },

    async createKey(actor: Actor, principalId: string, input: { name?: string }) {
      requireSelfOrAdmin(actor, principalId);
      const principal = await principalsRepo.findPrincipal(db, principalId);
      if (!principal || principal.kind !== 'user') throw notFound('user');
      return inTransaction(db, async (tx) => {
        const issued = await issueKey(tx, principalId, input.name ?? null);
        await audit.append({ action: 'api_key.create', outcome: 'allowed', detail: { principalId, keyId: issued.row.id }, ...actorFields(actor) }, tx);
        return issued;
      });
    },

    async revokeKey(actor: Actor, principalId: string, keyId: string) {
      requireSelfOrAdmin(actor, principalId);
      await inTransaction(db, async (tx) => {
        const row = await principalsRepo.revokeApiKey(tx, principalId, keyId);
        if (!row) {
          if (await principalsRepo.findApiKey(tx, principalId, keyId)) return; // already revoked: idempotent
          throw notFound('API key');
        }
        await audit.append({ action: 'api_key.revoke', outcome: 'allowed', detail: { principalId, keyId }, ...actorFields(actor) }, tx);
      });
    },
  };
}

export type UserService = ReturnType<typeof createUserService>;
