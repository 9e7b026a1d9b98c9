// Vaults and their grants.
import { and, eq, inArray, isNotNull, or, sql } from 'drizzle-orm';
import type { Db } from '../client.ts';
import { vaults, vaultGrants, principals, workspaces, vaultNameTombstones, groups, groupMembers } from '../schema.ts';
import type { HeldGrant } from '../../api/policy/grants.ts';
import { canAuthenticateSql } from './principals.ts';

export async function insertVault(db: Db, v: typeof vaults.$inferInsert) {
  const [row] = await db.insert(vaults).values(v).onConflictDoNothing().returning();
  return row;
}


export async function listAllVaults(db: Db) {
  return db.select().from(vaults).orderBy(vaults.name);
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

/** The columns a decision needs from a grant row joined to its (optional) group. */
const heldGrantColumns = {
  grantId: vaultGrants.id, role: vaultGrants.role, functions: vaultGrants.functions, secrets: vaultGrants.secrets,
  expiresAt: vaultGrants.expiresAt, groupId: groups.id, groupName: groups.name,
};
type HeldGrantRow = { grantId: string | null; role: HeldGrant['role'] | null; functions: string[] | null; secrets: string[] | null;
  expiresAt: Date | null; groupId: string | null; groupName: string | null };

function toHeldGrant(r: HeldGrantRow): HeldGrant | undefined {
  if (!r.grantId || !r.role) return undefined;
  return { grantId: r.grantId, role: r.role, functions: r.functions, secrets: r.secrets, expiresAt: r.expiresAt,
    group: r.groupId ? { id: r.groupId, name: r.groupName! } : null };
}

/** The grants that a principal holds itself or through one of its groups. */
function heldByPrincipal(db: Db, principalId: string) {
  return or(
    eq(vaultGrants.principalId, principalId),
    inArray(vaultGrants.groupId, db.select({ id: groupMembers.groupId }).from(groupMembers).where(eq(groupMembers.principalId, principalId))),
  );
}

/**
 * A vault by name with every grant the principal holds on it, directly or through its groups, in
 * one round trip, expired ones included: the decision (api/policy/grants.ts) is made by the caller.
 */
export async function findVaultWithGrants(db: Db, name: string, principalId: string) {
  const rows = await db.select({ vault: vaults, ...heldGrantColumns }).from(vaults)
    .leftJoin(vaultGrants, and(eq(vaultGrants.vaultId, vaults.id), heldByPrincipal(db, principalId)))
    .leftJoin(groups, eq(groups.id, vaultGrants.groupId))
    .where(eq(vaults.name, name));
  if (rows.length === 0) return undefined;
  return { vault: rows[0].vault, grants: rows.map(toHeldGrant).filter((g) => g !== undefined) };
}

/** Every grant the principal holds on any vault (directly or through groups), with the vault. */
export async function listGrantsHeldByPrincipal(db: Db, principalId: string) {
  const rows = await db.select({ vault: vaults, ...heldGrantColumns }).from(vaultGrants)
    .innerJoin(vaults, eq(vaults.id, vaultGrants.vaultId))
    .leftJoin(groups, eq(groups.id, vaultGrants.groupId))
    .where(heldByPrincipal(db, principalId))
    .orderBy(vaults.name);
  return rows.map((r) => ({ vault: r.vault, grant: toHeldGrant(r)! }));
}

/**
 * Every (principal, grant) pair that gives a principal a role on the vault: direct grants, and each
 * member of each group holding a grant. Workspace grants are listed by listGrants.
 */
export async function listPrincipalGrantsOnVault(db: Db, vaultId: string) {
  const direct = db.select({
    principal: { id: principals.id, name: principals.name, kind: principals.kind, canAuthenticate: canAuthenticateSql }, ...heldGrantColumns,
  }).from(vaultGrants)
    .innerJoin(principals, eq(principals.id, vaultGrants.principalId))
    .leftJoin(groups, eq(groups.id, vaultGrants.groupId))
    .where(eq(vaultGrants.vaultId, vaultId));
  const throughGroups = db.select({
    principal: { id: principals.id, name: principals.name, kind: principals.kind, canAuthenticate: canAuthenticateSql }, ...heldGrantColumns,
  }).from(vaultGrants)
    .innerJoin(groups, eq(groups.id, vaultGrants.groupId))
    .innerJoin(groupMembers, eq(groupMembers.groupId, groups.id))
    .innerJoin(principals, eq(principals.id, groupMembers.principalId))
    .where(eq(vaultGrants.vaultId, vaultId));
  const rows = [...await direct, ...await throughGroups];
  return rows.map((r) => ({ principal: r.principal, grant: toHeldGrant(r)! }));
}

export async function listGrants(db: Db, vaultId: string) {
  return db.select({
    grant: vaultGrants,
    principalName: principals.name,
    principalKind: principals.kind,
    workspaceName: workspaces.name,
    groupName: groups.name,
  }).from(vaultGrants)
    .leftJoin(principals, eq(principals.id, vaultGrants.principalId))
    .leftJoin(workspaces, eq(workspaces.id, vaultGrants.workspaceId))
    .leftJoin(groups, eq(groups.id, vaultGrants.groupId))
    .where(eq(vaultGrants.vaultId, vaultId))
    .orderBy(vaultGrants.createdAt);
}

export async function findGrant(db: Db, vaultId: string, grantId: string) {
  const [row] = await db.select().from(vaultGrants).where(and(eq(vaultGrants.vaultId, vaultId), eq(vaultGrants.id, grantId)));
  return row;
}

/**
 * Inserts a grant or, for a holder that already has one on this vault, replaces its role and terms
 * (a re-grant without `expiresAt` no longer expires). One grant per holder and vault.
 */
export async function upsertGrant(db: Db, g: typeof vaultGrants.$inferInsert) {
  const holder = g.principalId ? eq(vaultGrants.principalId, g.principalId)
    : g.groupId ? eq(vaultGrants.groupId, g.groupId)
      : eq(vaultGrants.workspaceId, g.workspaceId!);
  const [existing] = await db.select().from(vaultGrants).where(and(eq(vaultGrants.vaultId, g.vaultId), holder)).for('update');
  const terms = { role: g.role, functions: g.functions ?? null, secrets: g.secrets ?? null, expiresAt: g.expiresAt ?? null };
  if (existing) {
    const [row] = await db.update(vaultGrants).set(terms).where(eq(vaultGrants.id, existing.id)).returning();
    return { grant: row, previousRole: existing.role };
  }
  const [row] = await db.insert(vaultGrants).values({ ...g, ...terms }).returning();
  return { grant: row, previousRole: undefined };
}

export async function deleteGrant(db: Db, grantId: string) {
  await db.delete(vaultGrants).where(eq(vaultGrants.id, grantId));
}

// ---- The last-manager rule, counted through groups -------------------------------------------
// A vault has a manager while some principal holds an unexpired manager grant, itself or as a
// member of a group. Changes that could take the last one away (removing or downgrading a grant,
// removing a group member, deleting a group or a principal) take lockAccessHolders first, so two of
// them cannot both pass the check, then compare before and after inside their transaction.

/** Serialises changes that can remove a vault's last manager or a workspace's last owner. */
export async function lockAccessHolders(db: Db) {
  await db.execute(sql`select pg_advisory_xact_lock(1668247142, 1)`);
}

const unexpired = (now: Date) => sql`(${vaultGrants.expiresAt} is null or ${vaultGrants.expiresAt} > ${now.toISOString()}::timestamptz)`;

/** A manager grant that some principal holds (a principal's, or a group's with at least one member). */
const heldManagerGrant = (now: Date) => and(eq(vaultGrants.role, 'manager'), unexpired(now), or(
  isNotNull(vaultGrants.principalId),
  sql`exists (select 1 from ${groupMembers} where ${groupMembers.groupId} = ${vaultGrants.groupId})`,
));

/** Of these vaults, the ids of those that have a manager now. */
export async function vaultsWithManager(db: Db, vaultIds: string[], now: Date): Promise<Set<string>> {
  if (vaultIds.length === 0) return new Set();
  const rows = await db.selectDistinct({ id: vaultGrants.vaultId }).from(vaultGrants)
    .where(and(inArray(vaultGrants.vaultId, vaultIds), heldManagerGrant(now)));
  return new Set(rows.map((r) => r.id));
}

/** Whether some principal manages the vault with no expiry (itself, or through a group with members). */
export async function hasPermanentManager(db: Db, vaultId: string): Promise<boolean> {
  const rows = await db.select({ id: vaultGrants.id }).from(vaultGrants)
    .where(and(eq(vaultGrants.vaultId, vaultId), heldManagerGrant(new Date()), sql`${vaultGrants.expiresAt} is null`)).limit(1);
  return rows.length > 0;
}

/** Vaults on which this group holds a manager grant. */
export async function vaultsManagedByGroup(db: Db, groupId: string): Promise<string[]> {
  const rows = await db.select({ id: vaultGrants.vaultId }).from(vaultGrants)
    .where(and(eq(vaultGrants.groupId, groupId), eq(vaultGrants.role, 'manager')));
  return rows.map((r) => r.id);
}

export async function vaultNames(db: Db, ids: string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await db.select({ name: vaults.name }).from(vaults).where(inArray(vaults.id, ids)).orderBy(vaults.name);
  return rows.map((r) => r.name);
}

/** Names of the vaults on which this principal is the only manager, counting through groups. */
export async function vaultsManagedOnlyBy(db: Db, principalId: string, now = new Date()): Promise<string[]> {
  const managedBy = and(heldManagerGrant(now), or(
    eq(vaultGrants.principalId, principalId),
    sql`exists (select 1 from ${groupMembers} where ${groupMembers.groupId} = ${vaultGrants.groupId} and ${groupMembers.principalId} = ${principalId})`,
  ));
  const rows = await db.selectDistinct({ name: vaults.name }).from(vaultGrants)
    .innerJoin(vaults, eq(vaults.id, vaultGrants.vaultId))
    .where(and(managedBy, sql`not exists (
      select 1 from vault_grants other where other.vault_id = ${vaultGrants.vaultId} and other.role = 'manager'
        and (other.expires_at is null or other.expires_at > ${now.toISOString()}::timestamptz)
        and ((other.principal_id is not null and other.principal_id <> ${principalId})
          or exists (select 1 from group_members m where m.group_id = other.group_id and m.principal_id <> ${principalId})))`));
  return rows.map((r) => r.name);
}

/** The vault grants held by these workspaces, with the vault and the workspace (expired ones included). */
export async function listGrantsOfWorkspaces(db: Db, workspaceIds: string[]) {
  if (workspaceIds.length === 0) return [];
  return db.select({ grant: vaultGrants, vault: vaults, workspaceName: workspaces.name }).from(vaultGrants)
    .innerJoin(vaults, eq(vaults.id, vaultGrants.vaultId))
    .innerJoin(workspaces, eq(workspaces.id, vaultGrants.workspaceId))
    .where(inArray(vaultGrants.workspaceId, workspaceIds))
    .orderBy(workspaces.name, vaults.name);
}
