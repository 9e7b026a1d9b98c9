// Workspaces and their members.
import { and, eq, sql } from 'drizzle-orm';
import type { Db } from '../client.ts';
import { workspaces, workspaceMembers, principals, type WorkspaceRole } from '../schema.ts';

export async function insertWorkspace(db: Db, w: typeof workspaces.$inferInsert) {
  const [row] = await db.insert(workspaces).values(w).onConflictDoNothing().returning();
  return row;
}

export async function findWorkspaceByName(db: Db, name: string) {
  const [row] = await db.select().from(workspaces).where(eq(workspaces.name, name));
  return row;
}

export async function listAllWorkspaces(db: Db) {
  return db.select().from(workspaces).orderBy(workspaces.name);
}

export async function listWorkspacesForPrincipal(db: Db, principalId: string) {
  return db.select({ workspace: workspaces, role: workspaceMembers.role }).from(workspaces)
    .innerJoin(workspaceMembers, eq(workspaceMembers.workspaceId, workspaces.id))
    .where(eq(workspaceMembers.principalId, principalId))
    .orderBy(workspaces.name);
}

export async function deleteWorkspace(db: Db, id: string) {
  await db.delete(workspaces).where(eq(workspaces.id, id));
}

export async function findMemberRole(db: Db, workspaceId: string, principalId: string): Promise<WorkspaceRole | undefined> {
  const [row] = await db.select({ role: workspaceMembers.role }).from(workspaceMembers)
    .where(and(eq(workspaceMembers.workspaceId, workspaceId), eq(workspaceMembers.principalId, principalId)));
  return row?.role;
}

export async function listMembers(db: Db, workspaceId: string) {
  return db.select({ principalId: workspaceMembers.principalId, role: workspaceMembers.role, createdAt: workspaceMembers.createdAt,
    name: principals.name, kind: principals.kind })
    .from(workspaceMembers).innerJoin(principals, eq(principals.id, workspaceMembers.principalId))
    .where(eq(workspaceMembers.workspaceId, workspaceId)).orderBy(principals.name);
}

export async function upsertMember(db: Db, workspaceId: string, principalId: string, role: WorkspaceRole) {
  await db.insert(workspaceMembers).values({ workspaceId, principalId, role })
    .onConflictDoUpdate({ target: [workspaceMembers.workspaceId, workspaceMembers.principalId], set: { role } });
}

export async function deleteMember(db: Db, workspaceId: string, principalId: string) {
  const rows = await db.delete(workspaceMembers)
    .where(and(eq(workspaceMembers.workspaceId, workspaceId), eq(workspaceMembers.principalId, principalId)))
    .returning({ id: workspaceMembers.principalId });
  return rows.length > 0;
}

/** Locks the owner rows of a workspace (so two removals cannot both leave it ownerless). */
export async function lockOwners(db: Db, workspaceId: string): Promise<string[]> {
  const rows = await db.select({ id: workspaceMembers.principalId }).from(workspaceMembers)
    .where(and(eq(workspaceMembers.workspaceId, workspaceId), eq(workspaceMembers.role, 'owner'))).for('update');
  return rows.map((r) => r.id);
}

/** Names of the workspaces of which this principal is the only owner. */
export async function workspacesOwnedOnlyBy(db: Db, principalId: string): Promise<string[]> {
  const rows = await db.select({ name: workspaces.name }).from(workspaceMembers)
    .innerJoin(workspaces, eq(workspaces.id, workspaceMembers.workspaceId))
    .where(and(eq(workspaceMembers.principalId, principalId), eq(workspaceMembers.role, 'owner'), sql`not exists (
      select 1 from workspace_members other where other.workspace_id = ${workspaceMembers.workspaceId} and other.role = 'owner'
        and other.principal_id <> ${principalId})`));
  return rows.map((r) => r.name);
}
