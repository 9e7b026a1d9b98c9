// Pipelines, their immutable deployed versions, and their recent runs with steps.
import { and, asc, desc, eq, inArray, lt, sql } from 'drizzle-orm';
import type { Db } from '../client.ts';
import { pipelines, pipelineVersions, pipelineRuns, pipelineRunSteps, workspaces, functions, functionVersions } from '../schema.ts';
import { effectiveMembership, memberRolesSql } from './workspaces.ts';

export type PipelineRow = typeof pipelines.$inferSelect;
export type PipelineVersionRow = typeof pipelineVersions.$inferSelect;
export type PipelineRunRow = typeof pipelineRuns.$inferSelect;
export type PipelineRunStepRow = typeof pipelineRunSteps.$inferSelect;
export type NewPipelineRun = typeof pipelineRuns.$inferInsert;
export type NewPipelineRunStep = typeof pipelineRunSteps.$inferInsert;

/** Creates the pipeline at version 1, or hands out its next version number and makes it active, in one statement. */
export async function reserveNextVersion(db: Db, p: { id: string; workspaceId: string; name: string; createdBy: string }): Promise<PipelineRow> {
  const [row] = await db.insert(pipelines)
    .values({ ...p, activeVersion: 1, latestVersion: 1 })
    .onConflictDoUpdate({
      target: [pipelines.workspaceId, pipelines.name],
      set: { latestVersion: sql`${pipelines.latestVersion} + 1`, activeVersion: sql`${pipelines.latestVersion} + 1`, updatedAt: sql`now()` },
    })
    .returning();
  return row;
}

export async function insertVersion(db: Db, v: typeof pipelineVersions.$inferInsert) {
  await db.insert(pipelineVersions).values(v);
}

export async function findPipeline(db: Db, workspaceId: string, name: string): Promise<PipelineRow | undefined> {
  const [row] = await db.select().from(pipelines).where(and(eq(pipelines.workspaceId, workspaceId), eq(pipelines.name, name)));
  return row;
}

export async function listPipelines(db: Db, workspaceId: string) {
  return db.select().from(pipelines).where(eq(pipelines.workspaceId, workspaceId)).orderBy(pipelines.name);
}

export async function deletePipeline(db: Db, id: string) {
  await db.delete(pipelines).where(eq(pipelines.id, id));
}

export async function setActiveVersion(db: Db, id: string, version: number): Promise<PipelineRow | undefined> {
  const [row] = await db.update(pipelines).set({ activeVersion: version, updatedAt: sql`now()` }).where(eq(pipelines.id, id)).returning();
  return row;
}

export async function listVersions(db: Db, pipelineId: string): Promise<PipelineVersionRow[]> {
  return db.select().from(pipelineVersions).where(eq(pipelineVersions.pipelineId, pipelineId)).orderBy(desc(pipelineVersions.version));
}

export async function findVersion(db: Db, pipelineId: string, version: number): Promise<PipelineVersionRow | undefined> {
  const [row] = await db.select().from(pipelineVersions)
    .where(and(eq(pipelineVersions.pipelineId, pipelineId), eq(pipelineVersions.version, version)));
  return row;
}

/**
 * Serialises changes to a workspace's set of pipelines (deploy, activate) until the transaction ends:
 * each is checked against the others inside it, so two concurrent deploys cannot both pass a check
 * the pair would fail (two pipelines declaring one type). NO KEY UPDATE leaves inserts that only
 * reference the workspace (functions, members, runs) unblocked.
 */
export async function lockWorkspacePipelines(db: Db, workspaceId: string): Promise<void> {
  await db.select({ id: workspaces.id }).from(workspaces).where(eq(workspaces.id, workspaceId)).for('no key update');
}

/** The active version of every pipeline of a workspace: what its GraphQL schema is built from. */
export async function activeVersions(db: Db, workspaceId: string) {
  return db.select({ pipeline: pipelines, version: pipelineVersions }).from(pipelines)
    .innerJoin(pipelineVersions, and(eq(pipelineVersions.pipelineId, pipelines.id), eq(pipelineVersions.version, pipelines.activeVersion)))
    .where(eq(pipelines.workspaceId, workspaceId)).orderBy(pipelines.name);
}

/**
 * What identifies a workspace's schema: each pipeline's id and active version. Cheap enough to ask
 * whenever the access epoch moved; the schema is rebuilt only when this changes.
 */
export async function schemaRevision(db: Db, workspaceId: string): Promise<string> {
  const rows = await db.select({ id: pipelines.id, v: pipelines.activeVersion }).from(pipelines)
    .where(eq(pipelines.workspaceId, workspaceId)).orderBy(pipelines.id);
  return rows.map((r) => `${r.id}:${r.v}`).join(',');
}

/** The workspace by name and the caller's effective role in it (its own or a group's, the highest), in one round trip. */
export async function findWorkspaceWithRole(db: Db, workspaceName: string, principalId: string) {
  const [row] = await db.select({ workspace: workspaces, roles: memberRolesSql(workspaces.id, principalId) }).from(workspaces)
    .where(eq(workspaces.name, workspaceName));
  return row && { workspace: row.workspace, ...effectiveMembership(row.roles) };
}

/** Names of the workspace's functions among `names` (to refuse steps naming missing functions). */
export async function existingFunctionNames(db: Db, workspaceId: string, names: string[]): Promise<Set<string>> {
  if (names.length === 0) return new Set();
  const rows = await db.select({ name: functions.name }).from(functions)
    .where(and(eq(functions.workspaceId, workspaceId), inArray(functions.name, names)));
  return new Set(rows.map((r) => r.name));
}

/** What a step needs to run a function's active version, without the source text. */
export async function findStepFunction(db: Db, workspaceId: string, name: string) {
  const [row] = await db.select({
    id: functions.id, name: functions.name, version: functions.activeVersion, script: functionVersions.script, codeHash: functionVersions.codeHash,
    timeoutMs: functionVersions.timeoutMs, memoryMb: functionVersions.memoryMb, exposeSecrets: functionVersions.exposeSecrets,
  }).from(functions)
    .innerJoin(functionVersions, and(eq(functionVersions.functionId, functions.id), eq(functionVersions.version, functions.activeVersion)))
    .where(and(eq(functions.workspaceId, workspaceId), eq(functions.name, name)));
  return row;
}

/**
 * Runs and their steps in one call (the database function coffer_insert_pipeline_runs, migration
 * 0006), each as one JSON parameter: one statement, so one transaction, planned once per session.
 */
export async function insertRuns(db: Db, runs: { run: NewPipelineRun; steps: NewPipelineRunStep[] }[]) {
  if (runs.length === 0) return;
  const runsJson = JSON.stringify(runs.map(({ run: r }) => ({
    id: r.id, pipeline_id: r.pipelineId, workspace_id: r.workspaceId, version: r.version, invoked_by: r.invokedBy ?? null,
    request_id: r.requestId ?? null, outcome: r.outcome, error_code: r.errorCode ?? null, error_message: r.errorMessage ?? null,
    error_step: r.errorStep ?? null, duration_ms: r.durationMs, started_at: r.startedAt.toISOString(),
  })));
  const stepsJson = JSON.stringify(runs.flatMap((r) => r.steps).map((s) => ({
    run_id: s.runId, position: s.position, name: s.name, function: s.function, status: s.status, duration_ms: s.durationMs,
    invocation_ids: s.invocationIds, logs: s.logs, error_code: s.errorCode ?? null, error_message: s.errorMessage ?? null,
  })));
  await db.execute(sql`select coffer_insert_pipeline_runs(${runsJson}::jsonb, ${stepsJson}::jsonb)`);
}

export async function listRuns(db: Db, pipelineId: string, limit: number) {
  return db.select().from(pipelineRuns).where(eq(pipelineRuns.pipelineId, pipelineId))
    .orderBy(desc(pipelineRuns.startedAt), desc(pipelineRuns.id)).limit(limit);
}

export async function findRun(db: Db, pipelineId: string, id: string): Promise<PipelineRunRow | undefined> {
  const [row] = await db.select().from(pipelineRuns).where(and(eq(pipelineRuns.pipelineId, pipelineId), eq(pipelineRuns.id, id)));
  return row;
}

export async function stepsOfRuns(db: Db, runIds: string[]): Promise<PipelineRunStepRow[]> {
  if (runIds.length === 0) return [];
  return db.select().from(pipelineRunSteps).where(inArray(pipelineRunSteps.runId, runIds))
    .orderBy(asc(pipelineRunSteps.runId), asc(pipelineRunSteps.position));
}

/** Deletes runs (and their steps) that started before `cutoff`; returns how many. */
export async function deleteRunsBefore(db: Db, cutoff: Date): Promise<number> {
  const rows = await db.delete(pipelineRuns).where(lt(pipelineRuns.startedAt, cutoff)).returning({ id: pipelineRuns.id });
  return rows.length;
}
