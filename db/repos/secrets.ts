// Secrets and their versions. Values are stored only as sealed bytes produced by api/crypto.
import { and, desc, eq, ne, isNotNull, asc, sql } from 'drizzle-orm';
import { preparedPerDb, type Db } from '../client.ts';
import { secrets, secretVersions, vaults, vaultGrants, type VersionState } from '../schema.ts';

export async function findSecret(db: Db, vaultId: string, name: string) {
  const [row] = await db.select().from(secrets).where(and(eq(secrets.vaultId, vaultId), eq(secrets.name, name)));
  return row;
}

export async function listSecrets(db: Db, vaultId: string) {
  return db.select().from(secrets).where(eq(secrets.vaultId, vaultId)).orderBy(secrets.name);
}

/**
 * Creates the secret if needed and reserves the next version number. The update takes a row lock,
 * so concurrent writers of one secret get consecutive numbers and never the same one.
 */
export async function reserveNextVersion(db: Db, s: { id: string; vaultId: string; name: string; description?: string | null; actorId: string }) {
  await db.insert(secrets).values({
    id: s.id, vaultId: s.vaultId, name: s.name, description: s.description ?? null,
    createdBy: s.actorId, updatedBy: s.actorId,
  }).onConflictDoNothing();
  const patch: Partial<typeof secrets.$inferInsert> = {
    latestVersion: sql`${secrets.latestVersion} + 1` as unknown as number,
    updatedBy: s.actorId,
    updatedAt: new Date(),
  };
  if (s.description !== undefined) patch.description = s.description;
  const [row] = await db.update(secrets).set(patch)
    .where(and(eq(secrets.vaultId, s.vaultId), eq(secrets.name, s.name)))
    .returning();
  return row;
}

export async function insertVersion(db: Db, v: typeof secretVersions.$inferInsert) {
  await db.insert(secretVersions).values(v);
}

export async function deleteSecret(db: Db, secretId: string) {
  await db.delete(secrets).where(eq(secrets.id, secretId));
}

export async function listVersions(db: Db, secretId: string) {
  return db.select({
    version: secretVersions.version, state: secretVersions.state, createdBy: secretVersions.createdBy,
    createdAt: secretVersions.createdAt, destroyedAt: secretVersions.destroyedAt,
  }).from(secretVersions).where(eq(secretVersions.secretId, secretId)).orderBy(desc(secretVersions.version));
}

export async function findVersion(db: Db, secretId: string, version: number) {
  const [row] = await db.select().from(secretVersions)
    .where(and(eq(secretVersions.secretId, secretId), eq(secretVersions.version, version)));
  return row;
}

export async function latestEnabledVersion(db: Db, secretId: string) {
  const [row] = await db.select().from(secretVersions)
    .where(and(eq(secretVersions.secretId, secretId), eq(secretVersions.state, 'enabled')))
    .orderBy(desc(secretVersions.version)).limit(1);
  return row;
}

/**
 * A function's secret read in one round trip: the vault by name, the workspace's grant on it (if
 * any: its role and terms, expired or not: the caller decides), and the secret's newest enabled
 * version (if any). No row: the vault does not exist.
 */
export async function findSecretForWorkspace(db: Db, workspaceId: string, vaultName: string, name: string) {
  const [row] = await secretForWorkspaceQuery(db).execute({ workspaceId, vaultName, name });
  return row;
}

const secretForWorkspaceQuery = preparedPerDb((db) => db
  .select({
    vaultId: vaults.id, grantId: vaultGrants.id, role: vaultGrants.role, functions: vaultGrants.functions, secrets: vaultGrants.secrets,
    expiresAt: vaultGrants.expiresAt, version: secretVersions.version,
    ciphertext: secretVersions.ciphertext, wrappedKey: secretVersions.wrappedKey, masterKeyId: secretVersions.masterKeyId,
  })
  .from(vaults)
  .leftJoin(vaultGrants, and(eq(vaultGrants.vaultId, vaults.id), eq(vaultGrants.workspaceId, sql.placeholder('workspaceId'))))
  .leftJoin(secrets, and(eq(secrets.vaultId, vaults.id), eq(secrets.name, sql.placeholder('name'))))
  .leftJoin(secretVersions, and(eq(secretVersions.secretId, secrets.id), eq(secretVersions.state, 'enabled')))
  .where(eq(vaults.name, sql.placeholder('vaultName')))
  // A secret with no enabled version yields one row of nulls; otherwise the newest version comes first.
  .orderBy(sql`${secretVersions.version} desc nulls last`)
  .limit(1)
  .prepare('coffer_secret_for_workspace'));

/** Like findSecretForWorkspace, with up to `limit` enabled versions, newest first, and when each was written. */
export async function enabledVersionsForWorkspace(db: Db, workspaceId: string, vaultName: string, name: string, limit: number) {
  return db.select({
    vaultId: vaults.id, role: vaultGrants.role, functions: vaultGrants.functions, secrets: vaultGrants.secrets, expiresAt: vaultGrants.expiresAt,
    version: secretVersions.version, createdAt: secretVersions.createdAt,
    ciphertext: secretVersions.ciphertext, wrappedKey: secretVersions.wrappedKey, masterKeyId: secretVersions.masterKeyId,
  })
    .from(vaults)
    .leftJoin(vaultGrants, and(eq(vaultGrants.vaultId, vaults.id), eq(vaultGrants.workspaceId, workspaceId)))
    .leftJoin(secrets, and(eq(secrets.vaultId, vaults.id), eq(secrets.name, name)))
    .leftJoin(secretVersions, and(eq(secretVersions.secretId, secrets.id), eq(secretVersions.state, 'enabled')))
    .where(eq(vaults.name, vaultName))
    .orderBy(sql`${secretVersions.version} desc nulls last`)
    .limit(limit);
}

export async function setVersionState(db: Db, secretId: string, version: number, state: VersionState) {
  await db.update(secretVersions).set({ state })
    .where(and(eq(secretVersions.secretId, secretId), eq(secretVersions.version, version)));
}

export async function destroyVersion(db: Db, secretId: string, version: number) {
  await db.update(secretVersions)
    .set({ state: 'destroyed', ciphertext: null, wrappedKey: null, masterKeyId: null, destroyedAt: new Date() })
    .where(and(eq(secretVersions.secretId, secretId), eq(secretVersions.version, version)));
}

/** A page of versions whose data key is wrapped under a master key other than `activeKeyId`. */
export async function versionsToRewrap(db: Db, activeKeyId: string, after: { secretId: string; version: number } | null, limit: number) {
  const cursor = after
    ? sql`(${secretVersions.secretId}, ${secretVersions.version}) > (${after.secretId}, ${after.version})`
    : sql`true`;
  return db.select({
    secretId: secretVersions.secretId, version: secretVersions.version, ciphertext: secretVersions.ciphertext,
    wrappedKey: secretVersions.wrappedKey, masterKeyId: secretVersions.masterKeyId,
    vaultId: secrets.vaultId, name: secrets.name,
  }).from(secretVersions)
    .innerJoin(secrets, eq(secrets.id, secretVersions.secretId))
    .where(and(isNotNull(secretVersions.wrappedKey), ne(secretVersions.masterKeyId, activeKeyId), cursor))
    .orderBy(asc(secretVersions.secretId), asc(secretVersions.version))
    .limit(limit);
}

export async function updateWrappedKey(db: Db, secretId: string, version: number, wrappedKey: Buffer, masterKeyId: string, expectedKeyId: string) {
  const rows = await db.update(secretVersions).set({ wrappedKey, masterKeyId })
    .where(and(eq(secretVersions.secretId, secretId), eq(secretVersions.version, version), eq(secretVersions.masterKeyId, expectedKeyId)))
    .returning({ v: secretVersions.version });
  return rows.length;
}

export async function masterKeyIdsInUse(db: Db): Promise<string[]> {
  const rows = await db.selectDistinct({ id: secretVersions.masterKeyId }).from(secretVersions).where(isNotNull(secretVersions.masterKeyId));
  return rows.map((r) => r.id!).filter(Boolean);
}

