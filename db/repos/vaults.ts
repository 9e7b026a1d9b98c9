// Vaults and their grants.
import { and, eq, sql } from 'drizzle-orm';
import type { Db } from '../client.ts';
import { vaults, vaultGrants, principals, workspaces, vaultNameTombstones } from '../schema.ts';

export async function insertVault(db: Db, v: typeof vaults.$inferInsert) {
  const [row] = await db.insert(vaults).values(v).onConflictDoNothing().returning();
  return row;
}


export async function listAllVaults(db: Db) {
  return db.select().from(vaults).orderBy(vaults.name);
}

/** Vaults on which the principal holds any role, with that role. */
export async function listVaultsForPrincipal(db: Db, principalId: string) {
  return db.select({ vault: vaults, role: vaultGrants.role }).from(vaults)
    .innerJoin(vaultGrants, eq(vaultGrants.vaultId, vaults.id))
    .where(eq(vaultGrants.principalId, principalId))
    .orderBy(vaults.name);
}

export async function deleteVault(db: Db, id: string) {
  await db.delete(vaults).where(eq(vaults.id, id));
}

/** Reserves a deleted vault's name (a later deletion of a re-created namesake replaces the entry). */
export async function insertTombstone(db: Db, t: { name: string; vaultId: string; deletedBy: string }) {
  await db.insert(vaultNameTombstones).values(t)
    .onConflictDoUpdate({ target: vaultNameTombstones.name, set: { vaultId: t.vaultId, deletedBy: t.deletedBy, deletedAt: sql`now()` } });
}

export async function findTombstone(db: Db, name: string) {
  const [row] = await db.select().from(vaultNameTombstones).where(eq(vaultNameTombstones.name, name)).for('share');
  return row;
}

export async function listTombstones(db: Db) {
  return db.select().from(vaultNameTombstones).orderBy(vaultNameTombstones.name);
}

export async function deleteTombstone(db: Db, name: string) {
  const [row] = await db.delete(vaultNameTombstones).where(eq(vaultNameTombstones.name, name)).returning();
  return row;
}

/** A vault by name with the principal's own role on it (if any), in one round trip. */
export async function findVaultWithRole(db: Db, name: string, principalId: string) {
  const [row] = await db.select({ vault: vaults, role: vaultGrants.role }).from(vaults)
    .leftJoin(vaultGrants, and(eq(vaultGrants.vaultId, vaults.id), eq(vaultGrants.principalId, principalId)))
    .where(eq(vaults.name, name));
  return row;
}

export async function listGrants(db: Db, vaultId: string) {
  return db.select({
    grant: vaultGrants,
    principalName: principals.name,
    principalKind: principals.kind,
    workspaceName: workspaces.name,
  }).from(vaultGrants)
    .leftJoin(principals, eq(principals.id, vaultGrants.principalId))
    .leftJoin(workspaces, eq(workspaces.id, vaultGrants.workspaceId))
    .where(eq(vaultGrants.vaultId, vaultId))
    .orderBy(vaultGrants.createdAt);
}

export async function findGrant(db: Db, vaultId: string, grantId: string) {
  const [row] = await db.select().from(vaultGrants).where(and(eq(vaultGrants.vaultId, vaultId), eq(vaultGrants.id, grantId)));
  return row;
}

/** Inserts or changes the holder's role; one grant per holder and vault. */
export async function upsertGrant(db: Db, g: typeof vaultGrants.$inferInsert) {
  const holder = g.principalId
    ? and(eq(vaultGrants.vaultId, g.vaultId), eq(vaultGrants.principalId, g.principalId))
    : and(eq(vaultGrants.vaultId, g.vaultId), eq(vaultGrants.workspaceId, g.workspaceId!));
  const [existing] = await db.select().from(vaultGrants).where(holder).for('update');
  if (existing) {
    const [row] = await db.update(vaultGrants).set({ role: g.role }).where(eq(vaultGrants.id, existing.id)).returning();
    return { grant: row, previousRole: existing.role };
  }
  const [row] = await db.insert(vaultGrants).values(g).returning();
  return { grant: row, previousRole: undefined };
}

export async function deleteGrant(db: Db, grantId: string) {
  await db.delete(vaultGrants).where(eq(vaultGrants.id, grantId));
}

/** Locks the vault's manager grants and counts them, so two removals cannot both pass the check. */
export async function lockManagerGrants(db: Db, vaultId: string): Promise<string[]> {
  const rows = await db.select({ id: vaultGrants.id }).from(vaultGrants)
    .where(and(eq(vaultGrants.vaultId, vaultId), eq(vaultGrants.role, 'manager'), sql`${vaultGrants.principalId} is not null`))
    .for('update');
  return rows.map((r) => r.id);
}

/** Names of the vaults on which this principal is the only manager. */
export async function vaultsManagedOnlyBy(db: Db, principalId: string): Promise<string[]> {
  const rows = await db.select({ name: vaults.name }).from(vaultGrants)
    .innerJoin(vaults, eq(vaults.id, vaultGrants.vaultId))
    .where(and(eq(vaultGrants.principalId, principalId), eq(vaultGrants.role, 'manager'), sql`not exists (
      select 1 from vault_grants other where other.vault_id = ${vaultGrants.vaultId} and other.role = 'manager'
        and other.principal_id is not null and other.principal_id <> ${principalId})`));
  return rows.map((r) => r.name);
}
