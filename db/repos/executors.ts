// Executors: the trigger -> target bindings of a workspace, and the schedule bookkeeping.
import { and, eq, isNull, lt, or, sql } from 'drizzle-orm';
import { preparedPerDb, type Db } from '../client.ts';
import { executors, workspaces, type ExecutorRow } from '../schema.ts';

export type { ExecutorRow };

export async function upsertExecutor(db: Db, row: typeof executors.$inferInsert): Promise<{ executor: ExecutorRow; created: boolean }> {
  const [executor] = await db.insert(executors).values(row)
    .onConflictDoUpdate({
      target: [executors.workspaceId, executors.name],
      set: {
        description: row.description ?? null, disabled: row.disabled ?? false, trigger: row.trigger, target: row.target, retry: row.retry ?? null,
        tokenHash: row.tokenHash ?? null, previousTokenHash: row.previousTokenHash ?? null, previousTokenUntil: row.previousTokenUntil ?? null,
        lastTickAt: row.lastTickAt ?? null, updatedAt: sql`now()`,
      },
    })
    .returning();
  return { executor, created: executor.id === row.id };
}

export async function findExecutor(db: Db, workspaceId: string, name: string): Promise<ExecutorRow | undefined> {
  const [row] = await db.select().from(executors).where(and(eq(executors.workspaceId, workspaceId), eq(executors.name, name)));
  return row;
}

export async function findExecutorById(db: Db, id: string): Promise<ExecutorRow | undefined> {
  const [row] = await db.select().from(executors).where(eq(executors.id, id));
  return row;
}

export async function listExecutors(db: Db, workspaceId: string): Promise<ExecutorRow[]> {
  return db.select().from(executors).where(eq(executors.workspaceId, workspaceId)).orderBy(executors.name);
}

/** Whether an enabled event executor of the workspace listens for `event` (a pipeline run's success is only an event then). */
export async function hasEventListener(db: Db, workspaceId: string, event: string): Promise<boolean> {
  const rows = await db.select({ id: executors.id }).from(executors).where(and(
    eq(executors.workspaceId, workspaceId), eq(executors.disabled, false),
    sql`${executors.trigger}->>'kind' = 'event' and ${executors.trigger}->'events' ? ${event}`,
  )).limit(1);
  return rows.length > 0;
}

export async function deleteExecutor(db: Db, id: string) {
  await db.delete(executors).where(eq(executors.id, id));
}

/** The hot path of an incoming webhook: workspace and executor by name, in one round trip. */
export async function findHookTarget(db: Db, wsName: string, name: string) {
  const [row] = await hookTargetQuery(db).execute({ wsName, name });
  return row;
}

const hookTargetQuery = preparedPerDb((db) => db
  .select({ workspace: workspaces, executor: executors })
  .from(workspaces)
  .innerJoin(executors, and(eq(executors.workspaceId, workspaces.id), eq(executors.name, sql.placeholder('name'))))
  .where(eq(workspaces.name, sql.placeholder('wsName')))
  .prepare('coffer_hook_target'));

export async function setTokens(db: Db, id: string, t: { tokenHash: string; previousTokenHash: string | null; previousTokenUntil: Date | null }) {
  const [row] = await db.update(executors).set({ ...t, updatedAt: sql`now()` }).where(eq(executors.id, id)).returning();
  return row;
}

/** Every enabled schedule executor, with its workspace name (for the function service). */
export async function listActiveSchedules(db: Db) {
  return db.select({ executor: executors, workspaceName: workspaces.name }).from(executors)
    .innerJoin(workspaces, eq(workspaces.id, executors.workspaceId))
    .where(and(eq(executors.disabled, false), sql`${executors.trigger}->>'kind' = 'schedule'`));
}

/**
 * Moves a schedule's bookmark forward to `tick`, only if it is behind: of several gateways looking
 * at the same tick, exactly one gets the row back (the others see the bookmark already there).
 */
export async function advanceLastTick(db: Db, id: string, tick: Date): Promise<boolean> {
  const rows = await db.update(executors).set({ lastTickAt: tick })
    .where(and(eq(executors.id, id), or(isNull(executors.lastTickAt), lt(executors.lastTickAt, tick))))
    .returning({ id: executors.id });
  return rows.length > 0;
}

/** An executor with its workspace, for running one of its jobs. */
export async function findExecutorWithWorkspace(db: Db, id: string) {
  const [row] = await db.select({ executor: executors, workspace: workspaces }).from(executors)
    .innerJoin(workspaces, eq(workspaces.id, executors.workspaceId))
    .where(eq(executors.id, id));
  return row;
}
