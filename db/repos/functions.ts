// Functions, their immutable deployed versions, and their recent invocations.
import { and, desc, eq, lt, sql, type SQL } from 'drizzle-orm';
import { preparedPerDb, type Db } from '../client.ts';
import { functions, functionVersions, invocations, workspaces } from '../schema.ts';
import { effectiveMembership, memberRolesSql } from './workspaces.ts';

export type FunctionRow = typeof functions.$inferSelect;
export type FunctionVersionRow = typeof functionVersions.$inferSelect;
export type InvocationRow = typeof invocations.$inferSelect;

/** Everything about a version except its source and script text. */
const versionMeta = {
  functionId: functionVersions.functionId, version: functionVersions.version, codeHash: functionVersions.codeHash,
  description: functionVersions.description, timeoutMs: functionVersions.timeoutMs, memoryMb: functionVersions.memoryMb,
  exposeSecrets: functionVersions.exposeSecrets, deployedBy: functionVersions.deployedBy, deployedAt: functionVersions.deployedAt,
};
export type FunctionVersionMeta = Omit<FunctionVersionRow, 'code' | 'script'>;

/**
 * Creates the function at version 1, or hands out its next version number and makes it active, in
 * one statement so that concurrent deploys never collide on a number.
 */
export async function reserveNextVersion(db: Db, f: { id: string; workspaceId: string; name: string; createdBy: string }): Promise<FunctionRow> {
  const [row] = await db.insert(functions)
    .values({ ...f, activeVersion: 1, latestVersion: 1 })
    .onConflictDoUpdate({
      target: [functions.workspaceId, functions.name],
      set: {
        latestVersion: sql`${functions.latestVersion} + 1`,
        activeVersion: sql`${functions.latestVersion} + 1`,
        updatedAt: sql`now()`,
      },
    })
    .returning();
  return row;
}

export async function insertVersion(db: Db, v: typeof functionVersions.$inferInsert) {
  await db.insert(functionVersions).values(v);
}

export async function findFunction(db: Db, workspaceId: string, name: string): Promise<FunctionRow | undefined> {
  const [row] = await db.select().from(functions).where(and(eq(functions.workspaceId, workspaceId), eq(functions.name, name)));
  return row;
}

export async function listFunctions(db: Db, workspaceId: string) {
  return db.select().from(functions).where(eq(functions.workspaceId, workspaceId)).orderBy(functions.name);
}

export async function deleteFunction(db: Db, id: string) {
  await db.delete(functions).where(eq(functions.id, id));
}

export async function setActiveVersion(db: Db, id: string, version: number): Promise<FunctionRow | undefined> {
  const [row] = await db.update(functions).set({ activeVersion: version, updatedAt: sql`now()` }).where(eq(functions.id, id)).returning();
  return row;
}

export async function listVersions(db: Db, functionId: string): Promise<FunctionVersionMeta[]> {
  return db.select(versionMeta).from(functionVersions).where(eq(functionVersions.functionId, functionId)).orderBy(desc(functionVersions.version));
}

export async function findVersionMeta(db: Db, functionId: string, version: number): Promise<FunctionVersionMeta | undefined> {
  const [row] = await db.select(versionMeta).from(functionVersions)
    .where(and(eq(functionVersions.functionId, functionId), eq(functionVersions.version, version)));
  return row;
}

export async function findVersion(db: Db, functionId: string, version: number): Promise<FunctionVersionRow | undefined> {
  const [row] = await db.select().from(functionVersions)
    .where(and(eq(functionVersions.functionId, functionId), eq(functionVersions.version, version)));
  return row;
}

/** What an invocation needs to know about the active version, without the source text. */
export async function findActiveScript(db: Db, functionId: string, version: number) {
  const [row] = await db.select({
    script: functionVersions.script, codeHash: functionVersions.codeHash, timeoutMs: functionVersions.timeoutMs,
    memoryMb: functionVersions.memoryMb, exposeSecrets: functionVersions.exposeSecrets,
  }).from(functionVersions).where(and(eq(functionVersions.functionId, functionId), eq(functionVersions.version, version)));
  return row;
}

/**
 * The invocation hot path in one round trip: the workspace by name, the caller's effective role in
 * it (if any: its own or a group's, the highest), and the function by name (if any). The caller
 * applies the workspace policy to the answer.
 */
export async function findInvocationTarget(db: Db, workspaceName: string, principalId: string, functionName: string) {
  const [row] = await invocationTargetQuery(db).execute({ workspaceName, principalId, functionName });
  return row && { workspace: row.workspace, fn: row.fn, ...effectiveMembership(row.roles) };
}

const invocationTargetQuery = preparedPerDb((db) =>
  db.select({ workspace: workspaces, roles: memberRolesSql(workspaces.id, sql.placeholder('principalId') as unknown as SQL), fn: functions }).from(workspaces)
    .leftJoin(functions, and(eq(functions.workspaceId, workspaces.id), eq(functions.name, sql.placeholder('functionName'))))
    .where(eq(workspaces.name, sql.placeholder('workspaceName')))
    .prepare('coffer_invocation_target'));

export type NewInvocation = typeof invocations.$inferInsert;

/**
 * Several invocation records in one call with one parameter (the rows as JSON), to the database
 * function coffer_insert_invocations (migration 0006): neither the query builder nor the database's
 * parser and planner does work per row, per column or per batch (on embedded PGlite, that work is
 * the gateway's CPU).
 */
export async function insertInvocations(db: Db, rows: NewInvocation[]) {
  if (rows.length === 0) return;
  const json = JSON.stringify(rows.map((r) => ({
    id: r.id, function_id: r.functionId, workspace_id: r.workspaceId, version: r.version, invoked_by: r.invokedBy ?? null,
    trigger: r.trigger ?? 'api', outcome: r.outcome, error_code: r.errorCode ?? null, error_message: r.errorMessage ?? null,
    logs: r.logs, duration_ms: r.durationMs, cpu_ms: r.cpuMs, started_at: r.startedAt.toISOString(),
  })));
  await db.execute(sql`select coffer_insert_invocations(${json}::jsonb)`);
}

export async function listInvocations(db: Db, functionId: string, limit: number) {
  return db.select().from(invocations).where(eq(invocations.functionId, functionId))
    .orderBy(desc(invocations.startedAt), desc(invocations.id)).limit(limit);
}

export async function findInvocation(db: Db, functionId: string, id: string): Promise<InvocationRow | undefined> {
  const [row] = await db.select().from(invocations).where(and(eq(invocations.functionId, functionId), eq(invocations.id, id)));
  return row;
}

/** Deletes invocations that started before `cutoff`; returns how many. */
export async function deleteInvocationsBefore(db: Db, cutoff: Date): Promise<number> {
  const rows = await db.delete(invocations).where(lt(invocations.startedAt, cutoff)).returning({ id: invocations.id });
  return rows.length;
}
