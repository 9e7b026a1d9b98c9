// Principals (users, service accounts) and their API keys.
import { and, eq, isNull, desc, sql } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import { preparedPerDb, type Db } from '../client.ts';
import { principals, apiKeys } from '../schema.ts';

export type NewPrincipal = typeof principals.$inferInsert;

export async function insertPrincipal(db: Db, p: NewPrincipal) {
  const [row] = await db.insert(principals).values(p).returning();
  return row;
}

export async function findPrincipal(db: Db, id: string) {
  const [row] = await db.select().from(principals).where(eq(principals.id, id));
  return row;
}

/** Locks the principal's row for the rest of the transaction (state changes run one at a time). */
export async function lockPrincipal(db: Db, id: string) {
  const [row] = await db.select().from(principals).where(eq(principals.id, id)).for('update');
  return row;
}

export async function findPrincipalByName(db: Db, kind: 'user' | 'service_account', name: string) {
  const [row] = await db.select().from(principals).where(and(eq(principals.kind, kind), eq(principals.name, name)));
  return row;
}

export async function listPrincipals(db: Db, kind: 'user' | 'service_account') {
  return db.select().from(principals).where(eq(principals.kind, kind)).orderBy(principals.name);
}

export async function updatePrincipal(db: Db, id: string, patch: Partial<NewPrincipal>) {
  const [row] = await db.update(principals).set({ ...patch, updatedAt: new Date() }).where(eq(principals.id, id)).returning();
  return row;
}

export async function deletePrincipal(db: Db, id: string) {
  await db.delete(principals).where(eq(principals.id, id));
}

/**
 * Whether the principal can authenticate now: active, and (a service account) its owner active too.
 * The same rule as the credential checks (api/services/api-key-auth.ts, access-token-auth.ts).
 */
// Qualified by hand: drizzle leaves columns unqualified in single-table selects, where the inner
// "owner_id" would then resolve to the subquery's own table.
export const canAuthenticateSql = sql<boolean>`("principals"."active" and ("principals"."owner_id" is null
  or exists (select 1 from principals owner_p where owner_p.id = "principals"."owner_id" and owner_p.active)))`;

/** Instance admins who can act now (for "who can read this?": admins can read everything). */
export async function listActiveAdmins(db: Db) {
  return db.select({ id: principals.id, name: principals.name, kind: principals.kind }).from(principals)
    .where(and(eq(principals.isAdmin, true), canAuthenticateSql)).orderBy(principals.name);
}

/** A principal with whether it can authenticate now. */
export async function findPrincipalStanding(db: Db, id: string) {
  const [row] = await db.select({ principal: principals, canAuthenticate: canAuthenticateSql }).from(principals).where(eq(principals.id, id));
  return row;
}

export async function anyAdminExists(db: Db): Promise<boolean> {
  const rows = await db.select({ id: principals.id }).from(principals).where(eq(principals.isAdmin, true)).limit(1);
  return rows.length > 0;
}

export async function insertApiKey(db: Db, k: typeof apiKeys.$inferInsert) {
  const [row] = await db.insert(apiKeys).values(k).returning();
  return row;
}

/** The key with this hash, its principal and its owner's standing, for authentication (on every request: prepared). */
export async function findApiKeyByHash(db: Db, hash: string) {
  const [row] = await apiKeyByHashQuery(db).execute({ hash });
  return row;
}

const owners = alias(principals, 'owner');

const apiKeyByHashQuery = preparedPerDb((db) => db
  .select({
    key: { id: apiKeys.id, hash: apiKeys.hash, revokedAt: apiKeys.revokedAt, lastUsedAt: apiKeys.lastUsedAt },
    principal: { id: principals.id, kind: principals.kind, name: principals.name, isAdmin: principals.isAdmin, active: principals.active },
    // A service account stops with its owner (deactivated or gone); a user has no owner.
    ownerActive: sql<boolean>`case when ${principals.ownerId} is null then true else coalesce(${owners.active}, false) end`,
  })
  .from(apiKeys)
  .innerJoin(principals, eq(apiKeys.principalId, principals.id))
  .leftJoin(owners, eq(owners.id, principals.ownerId))
  .where(eq(apiKeys.hash, sql.placeholder('hash')))
  .prepare('coffer_api_key_by_hash'));

export async function touchApiKey(db: Db, id: string, at: Date) {
  await db.update(apiKeys).set({ lastUsedAt: at }).where(eq(apiKeys.id, id));
}

export async function listApiKeys(db: Db, principalId: string) {
  return db.select().from(apiKeys).where(eq(apiKeys.principalId, principalId)).orderBy(desc(apiKeys.createdAt));
}

export async function revokeApiKey(db: Db, principalId: string, keyId: string) {
  const [row] = await db.update(apiKeys).set({ revokedAt: new Date() })
    .where(and(eq(apiKeys.id, keyId), eq(apiKeys.principalId, principalId), isNull(apiKeys.revokedAt)))
    .returning();
  return row;
}

export async function findApiKey(db: Db, principalId: string, keyId: string) {
  const [row] = await db.select().from(apiKeys).where(and(eq(apiKeys.id, keyId), eq(apiKeys.principalId, principalId)));
  return row;
}
