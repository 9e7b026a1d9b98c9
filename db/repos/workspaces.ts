// Workspaces and their members.
import { and, eq, inArray, sql, type SQL } from 'drizzle-orm';
import type { Db } from '../client.ts';
import { workspaces, workspaceMembers, workspaceGroupMembers, groups, groupMembers, principals, type WorkspaceRole } from '../schema.ts';
import { highestWorkspaceRole } from '../../api/policy/roles.ts';

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

/**
 * The roles a principal holds in a workspace, itself and through its groups, as one comma-joined
 * text (the same on both drivers): `role` for its own, `role:groupId:groupName` for a group's (ids
 * and names never contain `,` or `:`). effectiveMembership picks the one that decides.
 */
export const memberRolesSql = (workspaceId: SQL | typeof workspaces.id, principalId: SQL | string) => {
  // Qualified by hand: drizzle leaves a selected expression's columns unqualified in a single-table
  // select, where "id" would resolve to the subquery's groups.id.
  const ws = workspaceId === workspaces.id ? sql.raw('"workspaces"."id"') : workspaceId;
  return sql<string | null>`(
  select string_agg(r, ',') from (
    select wm.role as r from workspace_members wm where wm.workspace_id = ${ws} and wm.principal_id = ${principalId}
    union all
    select wg.role || ':' || g.id || ':' || g.name from workspace_group_members wg
      join group_members gm on gm.group_id = wg.group_id join groups g on g.id = wg.group_id
      where wg.workspace_id = ${ws} and gm.principal_id = ${principalId}) held)`;
};

export interface Membership {
  role: WorkspaceRole | undefined;
  /** The group the role is held through; absent when the principal's own membership decides. */
  group?: { id: string; name: string };
}

/** The highest role held; between equal roles the principal's own wins over a group's, then the lowest group id. */
export function effectiveMembership(roles: string | null): Membership {
  const held = (roles ? roles.split(',') : []).map((entry) => {
    const [role, id, name] = entry.split(':');
    return { role: role as WorkspaceRole, group: id ? { id, name } : undefined };
  });
  const role = highestWorkspaceRole(held.map((h) => h.role));
  const order = (a: (typeof held)[number], b: (typeof held)[number]) =>
    !a.group || !b.group ? Number(!!a.group) - Number(!!b.group) : a.group.id < b.group.id ? -1 : a.group.id > b.group.id ? 1 : 0;
  const deciding = held.filter((h) => h.role === role).sort(order)[0];
  return deciding?.group ? { role, group: deciding.group } : { role };
}

export const effectiveRole = (roles: string | null): WorkspaceRole | undefined => effectiveMembership(roles).role;

/** Workspaces in which the principal holds a role, itself or through a group, with the highest one. */
export async function listWorkspacesForPrincipal(db: Db, principalId: string) {
  const rows = await db.select({ workspace: workspaces, roles: memberRolesSql(workspaces.id, principalId) }).from(workspaces)
    .where(sql`exists (select 1 from workspace_members wm where wm.workspace_id = ${workspaces.id} and wm.principal_id = ${principalId})
      or exists (select 1 from workspace_group_members wg join group_members gm on gm.group_id = wg.group_id
        where wg.workspace_id = ${workspaces.id} and gm.principal_id = ${principalId})`)
    .orderBy(workspaces.name);
  return rows.map((r) => ({ workspace: r.workspace, role: effectiveRole(r.roles) }));
}

export async function deleteWorkspace(db: Db, id: string) {
  await db.delete(workspaces).where(eq(workspaces.id, id));
}

/** The principal's effective role in the workspace (the highest of its own and its groups'), and the group it comes through. */
export async function findMembership(db: Db, workspaceId: string, principalId: string): Promise<Membership> {
  const [row] = await db.select({ roles: memberRolesSql(workspaces.id, principalId) }).from(workspaces).where(eq(workspaces.id, workspaceId));
  return effectiveMembership(row?.roles ?? null);
}

export async function findMemberRole(db: Db, workspaceId: string, principalId: string): Promise<WorkspaceRole | undefined> {
  return (await findMembership(db, workspaceId, principalId)).role;
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

export async function listGroupsOfWorkspace(db: Db, workspaceId: string) {
  return db.select({ groupId: workspaceGroupMembers.groupId, role: workspaceGroupMembers.role, createdAt: workspaceGroupMembers.createdAt, name: groups.name })
    .from(workspaceGroupMembers).innerJoin(groups, eq(groups.id, workspaceGroupMembers.groupId))
    .where(eq(workspaceGroupMembers.workspaceId, workspaceId)).orderBy(groups.name);
}

export async function upsertGroupMembership(db: Db, workspaceId: string, groupId: string, role: WorkspaceRole) {
  await db.insert(workspaceGroupMembers).values({ workspaceId, groupId, role })
    .onConflictDoUpdate({ target: [workspaceGroupMembers.workspaceId, workspaceGroupMembers.groupId], set: { role } });
}

export async function deleteGroupMembership(db: Db, workspaceId: string, groupId: string): Promise<boolean> {
  const rows = await db.delete(workspaceGroupMembers)
    .where(and(eq(workspaceGroupMembers.workspaceId, workspaceId), eq(workspaceGroupMembers.groupId, groupId)))
    .returning({ id: workspaceGroupMembers.groupId });
  return rows.length > 0;
}

// ---- The last-owner rule, counted through groups ---------------------------------------------
// A workspace has an owner while some principal is an owner member, or a member of a group that is
// an owner member. Changes that could remove the last one take lockAccessHolders (db/repos/vaults.ts)
// and compare before and after inside their transaction.

/** Of these workspaces, the ids of those that have an owner now. */
export async function workspacesWithOwner(db: Db, workspaceIds: string[]): Promise<Set<string>> {
  if (workspaceIds.length === 0) return new Set();
  const rows = await db.select({ id: workspaces.id }).from(workspaces)
    .where(and(inArray(workspaces.id, workspaceIds), sql`(
      exists (select 1 from workspace_members wm where wm.workspace_id = ${workspaces.id} and wm.role = 'owner')
      or exists (select 1 from workspace_group_members wg where wg.workspace_id = ${workspaces.id} and wg.role = 'owner'
        and exists (select 1 from ${groupMembers} where ${groupMembers.groupId} = wg.group_id)))`));
  return new Set(rows.map((r) => r.id));
}

/** Workspaces in which this group is an owner member. */
export async function workspacesOwnedByGroup(db: Db, groupId: string): Promise<string[]> {
  const rows = await db.select({ id: workspaceGroupMembers.workspaceId }).from(workspaceGroupMembers)
    .where(and(eq(workspaceGroupMembers.groupId, groupId), eq(workspaceGroupMembers.role, 'owner')));
  return rows.map((r) => r.id);
}

export async function workspaceNames(db: Db, ids: string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await db.select({ name: workspaces.name }).from(workspaces).where(inArray(workspaces.id, ids)).orderBy(workspaces.name);
  return rows.map((r) => r.name);
}

/** Names of the workspaces of which this principal is the only owner, counting through groups. */
export async function workspacesOwnedOnlyBy(db: Db, principalId: string): Promise<string[]> {
  const rows = await db.select({ name: workspaces.name, roles: memberRolesSql(workspaces.id, principalId) }).from(workspaces)
    .where(sql`not exists (select 1 from workspace_members wm where wm.workspace_id = ${workspaces.id} and wm.role = 'owner' and wm.principal_id <> ${principalId})
      and not exists (select 1 from workspace_group_members wg join group_members gm on gm.group_id = wg.group_id
        where wg.workspace_id = ${workspaces.id} and wg.role = 'owner' and gm.principal_id <> ${principalId})`)
    .orderBy(workspaces.name);
  return rows.filter((r) => effectiveRole(r.roles) === 'owner').map((r) => r.name);
}
