// The audit trail's storage: append under the chain-head lock, page through, read for verification.
import { and, asc, desc, eq, gt, gte, lt, type SQL } from 'drizzle-orm';
import type { Db } from '../client.ts';
import { auditEvents, auditHead } from '../schema.ts';

export type AuditRow = typeof auditEvents.$inferSelect;
export type NewAuditRow = Omit<typeof auditEvents.$inferInsert, 'seq'>;

export const GENESIS_HASH = '0'.repeat(64);

export async function ensureAuditHead(db: Db) {
  await db.insert(auditHead).values({ id: 1, lastSeq: 0, lastHash: GENESIS_HASH }).onConflictDoNothing();
}

/** Locks the chain head for the rest of the transaction and returns the previous hash. */
export async function lockAuditHead(db: Db) {
  const [head] = await db.select().from(auditHead).where(eq(auditHead.id, 1)).for('update');
  return head;
}

export async function insertAuditRow(db: Db, row: NewAuditRow) {
  const [inserted] = await db.insert(auditEvents).values(row).returning({ seq: auditEvents.seq });
  await db.update(auditHead).set({ lastSeq: inserted.seq, lastHash: row.hash }).where(eq(auditHead.id, 1));
  return inserted.seq;
}

export interface AuditFilter {
  vault?: string; secret?: string; actorId?: string; action?: string; outcome?: 'allowed' | 'denied';
  since?: Date; beforeSeq?: number; limit: number;
}

/** Newest first, keyset-paged by sequence number. */
export async function queryAudit(db: Db, f: AuditFilter) {
  const conds: SQL[] = [];
  if (f.vault) conds.push(eq(auditEvents.vault, f.vault));
  if (f.secret) conds.push(eq(auditEvents.secret, f.secret));
  if (f.actorId) conds.push(eq(auditEvents.actorId, f.actorId));
  if (f.action) conds.push(eq(auditEvents.action, f.action));
  if (f.outcome) conds.push(eq(auditEvents.outcome, f.outcome));
  if (f.since) conds.push(gte(auditEvents.at, f.since));
  if (f.beforeSeq) conds.push(lt(auditEvents.seq, f.beforeSeq));
  return db.select().from(auditEvents).where(conds.length ? and(...conds) : undefined)
    .orderBy(desc(auditEvents.seq)).limit(f.limit);
}

/** Oldest first from a sequence number, for verifying the chain in pages. */
export async function auditPage(db: Db, afterSeq: number, limit: number) {
  return db.select().from(auditEvents).where(gt(auditEvents.seq, afterSeq)).orderBy(asc(auditEvents.seq)).limit(limit);
}

export async function readAuditHead(db: Db) {
  const [head] = await db.select().from(auditHead).where(eq(auditHead.id, 1));
  return head;
}
