// Service accounts (principals of kind 'service_account') and their OAuth client secrets.
import { and, asc, eq, sql } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import type { Db } from '../client.ts';
import { principals, clientSecrets } from '../schema.ts';

export type ClientSecret = typeof clientSecrets.$inferSelect;

export async function findServiceAccount(db: Db, id: string) {
  const [row] = await db.select().from(principals).where(and(eq(principals.id, id), eq(principals.kind, 'service_account')));
  return row;
}

const owners = alias(principals, 'owner');
/**
 * Whether the principal's owner (if it has one) is active: a service account stops working while
 * the person who owns it is deactivated, and if that person no longer exists.
 */
export const ownerActive = sql<boolean>`case when ${principals.ownerId} is null then true else coalesce(${owners.active}, false) end`.as('owner_active');

/** The account with its owner's standing, for the token endpoint. */
export async function findServiceAccountWithOwner(db: Db, id: string) {
  const [row] = await db.select({ account: principals, ownerActive }).from(principals)
    .leftJoin(owners, eq(owners.id, principals.ownerId))
    .where(and(eq(principals.id, id), eq(principals.kind, 'service_account')));
  return row ? { ...row.account, ownerActive: row.ownerActive } : undefined;
}

/** Locks the account row, so concurrent secret rotations on one account run one after the other. */
export async function lockServiceAccount(db: Db, id: string) {
  const [row] = await db.select().from(principals)
    .where(and(eq(principals.id, id), eq(principals.kind, 'service_account'))).for('update');
  return row;
}

export async function listServiceAccounts(db: Db, filter: { ownerId?: string } = {}) {
  const where = filter.ownerId
    ? and(eq(principals.kind, 'service_account'), eq(principals.ownerId, filter.ownerId))
    : eq(principals.kind, 'service_account');
  return db.select().from(principals).where(where).orderBy(asc(principals.name));
}

export async function insertClientSecret(db: Db, s: typeof clientSecrets.$inferInsert) {
  const [row] = await db.insert(clientSecrets).values(s).returning();
  return row;
}

export async function listClientSecrets(db: Db, principalId: string) {
  return db.select().from(clientSecrets).where(eq(clientSecrets.principalId, principalId)).orderBy(asc(clientSecrets.createdAt), asc(clientSecrets.id));
}

export async function setClientSecretActive(db: Db, secretId: string, active: boolean) {
  const [row] = await db.update(clientSecrets).set({ active }).where(eq(clientSecrets.id, secretId)).returning();
  return row;
}

export async function deleteClientSecret(db: Db, secretId: string) {
  await db.delete(clientSecrets).where(eq(clientSecrets.id, secretId));
}

export async function touchClientSecret(db: Db, secretId: string, at: Date) {
  await db.update(clientSecrets).set({ lastUsedAt: at }).where(eq(clientSecrets.id, secretId));
}

/** The secret named by an access token together with its account, for checking on every request. */
export async function findClientSecretWithAccount(db: Db, secretId: string) {
  const [row] = await db.select({ secret: clientSecrets, account: principals, ownerActive }).from(clientSecrets)
    .innerJoin(principals, eq(principals.id, clientSecrets.principalId))
    .leftJoin(owners, eq(owners.id, principals.ownerId))
    .where(eq(clientSecrets.id, secretId));
  return row;
}

/**
 * Serialises signing-key creation and rotation across gateways sharing one database, for the rest
 * of the transaction (an advisory lock, because on first use there is no row to lock yet).
 */
export async function lockSigningKeyRotation(db: Db) {
  await db.execute(sql`select pg_advisory_xact_lock(hashtext('coffer.signing_keys'))`);
}
