// The event outbox is the audit trail (see eventCursor in db/schema.ts): audit rows after the
// cursor whose action maps to an event, read under the cursor's row lock.
import { and, asc, eq, gt, inArray, sql } from 'drizzle-orm';
import type { Db } from '../client.ts';
import { auditEvents, eventCursor, executors, vaultGrants, vaults, workspaces } from '../schema.ts';

/** The cursor, locked for this transaction; created at the current end of the trail the first time. */
export async function lockCursor(tx: Db): Promise<number> {
  // The first time: start just before the oldest event executor, so that a change committed between
  // its creation and this first dispatch is not skipped (each executor still ignores older rows).
  await tx.insert(eventCursor).values({
    id: 1,
    lastSeq: sql.raw(`coalesce((select max(a.seq) from audit_events a where a.at < (select min(e.created_at) from executors e where e.trigger->>'kind' = 'event')), 0)`),
  }).onConflictDoNothing();
  const [row] = await tx.select().from(eventCursor).where(eq(eventCursor.id, 1)).for('update');
  return row.lastSeq;
}

export async function moveCursor(tx: Db, lastSeq: number) {
  await tx.update(eventCursor).set({ lastSeq, updatedAt: sql`now()` }).where(eq(eventCursor.id, 1));
}

export async function auditRowsAfter(tx: Db, seq: number, actions: string[], limit: number) {
  return tx.select().from(auditEvents)
    .where(and(gt(auditEvents.seq, seq), inArray(auditEvents.action, actions), eq(auditEvents.outcome, 'allowed')))
    .orderBy(asc(auditEvents.seq)).limit(limit);
}

export async function lastAuditSeq(tx: Db): Promise<number> {
  const [row] = await tx.select({ seq: sql<number>`coalesce(max(${auditEvents.seq}), 0)::int` }).from(auditEvents);
  return Number(row.seq);
}

export async function listEventExecutors(tx: Db) {
  return tx.select({ executor: executors, workspace: workspaces }).from(executors)
    .innerJoin(workspaces, eq(workspaces.id, executors.workspaceId))
    .where(and(eq(executors.disabled, false), sql`${executors.trigger}->>'kind' = 'event'`));
}

/** Vault ids (by id, or by name where a row has none) on which each workspace holds a grant, with its role. */
export async function workspaceVaultRoles(tx: Db, workspaceIds: string[]) {
  if (workspaceIds.length === 0) return [];
  return tx.select({
    workspaceId: vaultGrants.workspaceId, vaultId: vaults.id, vaultName: vaults.name,
    role: vaultGrants.role, functions: vaultGrants.functions, secrets: vaultGrants.secrets, expiresAt: vaultGrants.expiresAt,
  })
    .from(vaultGrants).innerJoin(vaults, eq(vaults.id, vaultGrants.vaultId))
    .where(inArray(vaultGrants.workspaceId, workspaceIds));
}
