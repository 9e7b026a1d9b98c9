// Principal groups and their members.
import { and, eq, sql } from 'drizzle-orm';
import type { Db } from '../client.ts';
import { groups, groupMembers, principals, vaultGrants, workspaceGroupMembers, vaults, workspaces, type GroupRole } from '../schema.ts';

export async function insertGroup(db: Db, g: typeof groups.$inferInsert) {
  const [row] = await db.insert(groups).values(g).onConflictDoNothing().returning();
  return row;
}

export async function findGroup(db: Db, id: string) {
  const [row] = await db.select().from(groups).where(eq(groups.id, id));
  return row;
}

export async function listAllGroups(db: Db) {
  return db.select().from(groups).orderBy(groups.name);
}

/** The groups a principal belongs to, with its role in each. */
export async function listGroupsForPrincipal(db: Db, principalId: string) {
  return db.select({ group: groups, role: groupMembers.role }).from(groups)
    .innerJoin(groupMembers, eq(groupMembers.groupId, groups.id))
    .where(eq(groupMembers.principalId, principalId))
    .orderBy(groups.name);
}

/** Renames or re-describes a group; undefined when another group already has the name. */
export async function updateGroup(db: Db, id: string, patch: { name?: string; description?: string | null }) {
  const [row] = await db.update(groups).set(patch).where(eq(groups.id, id)).returning()
    .catch((err: unknown) => { if (isUniqueViolation(err)) return [undefined]; throw err; });
  return row;
}

function isUniqueViolation(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if ((e as { code?: unknown }).code === '23505') return true;
  }
  return false;
}

export async function deleteGroup(db: Db, id: string) {
  await db.delete(groups).where(eq(groups.id, id));
}

export async function findGroupRole(db: Db, groupId: string, principalId: string): Promise<GroupRole | undefined> {
  const [row] = await db.select({ role: groupMembers.role }).from(groupMembers)
    .where(and(eq(groupMembers.groupId, groupId), eq(groupMembers.principalId, principalId)));
  return row?.role;
}

export async function listGroupMembers(db: Db, groupId: string) {
  return db.select({ principalId: groupMembers.principalId, role: groupMembers.role, createdAt: groupMembers.createdAt,
    name: principals.name, kind: principals.kind })
    .from(groupMembers).innerJoin(principals, eq(principals.id, groupMembers.principalId))
    .where(eq(groupMembers.groupId, groupId)).orderBy(principals.name);
}

export async function upsertGroupMember(db: Db, groupId: string, principalId: string, role: GroupRole) {
  await db.insert(groupMembers).values({ groupId, principalId, role })
    .onConflictDoUpdate({ target: [groupMembers.groupId, groupMembers.principalId], set: { role } });
}

export async function deleteGroupMember(db: Db, groupId: string, principalId: string): Promise<boolean> {
  const rows = await db.delete(groupMembers)
    .where(and(eq(groupMembers.groupId, groupId), eq(groupMembers.principalId, principalId)))
    .returning({ id: groupMembers.principalId });
  return rows.length > 0;
}

export async function countGroupOwners(db: Db, groupId: string): Promise<number> {
  const [row] = await db.select({ n: sql<number>`count(*)::int` }).from(groupMembers)
    .where(and(eq(groupMembers.groupId, groupId), eq(groupMembers.role, 'owner')));
  return row.n;
}

/** What the group holds: its vault grants and workspace roles, for its own page. */
export async function listGroupHoldings(db: Db, groupId: string) {
  const [vaultRows, workspaceRows] = await Promise.all([
    db.select({ grant: vaultGrants, vault: vaults.name }).from(vaultGrants)
      .innerJoin(vaults, eq(vaults.id, vaultGrants.vaultId))
      .where(eq(vaultGrants.groupId, groupId)).orderBy(vaults.name),
    db.select({ workspace: workspaces.name, role: workspaceGroupMembers.role }).from(workspaceGroupMembers)
      .innerJoin(workspaces, eq(workspaces.id, workspaceGroupMembers.workspaceId))
      .where(eq(workspaceGroupMembers.groupId, groupId)).orderBy(workspaces.name),
  ]);
  return { vaults: vaultRows, workspaces: workspaceRows };
}
