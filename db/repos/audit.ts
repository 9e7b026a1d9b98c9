// The audit trail's storage: append under the chain-head lock, page through, read for verification.
import { and, asc, desc, eq, gt, gte, lt, sql, type SQL } from 'drizzle-orm';
import { executedRows, type Db } from '../client.ts';
import { auditEvents, auditHead } from '../schema.ts';

export type AuditRow = typeof auditEvents.$inferSelect;
export type NewAuditRow = Omit<typeof auditEvents.$inferInsert, 'seq'>;

export const GENESIS_HASH = '0'.repeat(64);

export async function ensureAuditHead(db: Db) {
  await db.insert(auditHead).values({ id: 1, lastSeq: 0, lastHash: GENESIS_HASH }).onConflictDoNothing();
}

/**
 * Appends rows to the chain in a single statement, in order: lock the head, then one insert per row
 * whose hash is sha256(previous hash + "\n" + its canonical text), each insert reading the hash the
 * one before it returned, then move the head. The row lock keeps the chain linear under
 * concurrency; one statement keeps the hot path (every secret read) to one round trip. (A chain of
 * plain CTEs planned faster here, in PGlite especially, than one recursive CTE over a record set.)
 * Each row's `canonical` is computed by the caller from exactly the values stored here. Answers the
 * head's hash after the append.
 */
export async function appendAuditRows(db: Db, rows: Array<{ row: Omit<NewAuditRow, 'prevHash' | 'hash'>; canonical: string }>): Promise<string | undefined> {
  if (rows.length === 0) return undefined;
  const steps = rows.map(({ row, canonical }, i) => {
    const prev = sql.raw(i === 0 ? 'head.last_hash' : `r${i - 1}.hash`);
    const from = sql.raw(i === 0 ? 'head' : `r${i - 1}`);
    return sql`${sql.raw(`r${i}`)} as (
      insert into audit_events (id, at, request_id, actor_id, actor_kind, action, outcome, vault, secret, version,
                                workspace, function, invocation_id, detail, vault_id, workspace_id, client_request_id, hash_version,
                                prev_hash, hash)
      select ${row.id}, ${row.at.toISOString()}::timestamptz, ${row.requestId ?? null}, ${row.actorId ?? null}, ${row.actorKind ?? null},
             ${row.action}, ${row.outcome}, ${row.vault ?? null}, ${row.secret ?? null}, ${row.version ?? null}::integer,
             ${row.workspace ?? null}, ${row.function ?? null}, ${row.invocationId ?? null},
             ${row.detail == null ? null : JSON.stringify(row.detail)}::jsonb,
             ${row.vaultId ?? null}, ${row.workspaceId ?? null}, ${row.clientRequestId ?? null}, ${row.hashVersion ?? 1}::integer,
             ${prev}, encode(sha256(convert_to(${prev} || E'\n' || ${canonical}::text, 'UTF8')), 'hex')
      from ${from}
      returning seq, hash)`;
  });
  const last = sql.raw(`r${rows.length - 1}`);
  const result = await db.execute(sql`
    with head as (select last_hash from audit_head where id = 1 for update),
    ${sql.join(steps, sql`, `)}
    update audit_head set last_seq = ${last}.seq, last_hash = ${last}.hash from ${last} where audit_head.id = 1
    returning audit_head.last_hash`);
  return executedRows<{ last_hash: string }>(result)[0]?.last_hash;
}

/** A row whose hash the caller computed, chained from the head it expects. */
export type HashedAuditRow = Omit<NewAuditRow, 'prevHash' | 'hash'> & { prevHash: string; hash: string };

/**
 * Appends rows whose hashes the caller computed from the head it expects (`expectedHead`), with one
 * parameter (the rows as JSON), through the database function coffer_append_hashed_audit
 * (migration 0006), whose plan the database keeps: cheaper to run than appendAuditRows, which
 * hashes in SQL row by row. The head is locked and compared first:
 * if another writer moved it, nothing is written and the answer is false (the caller falls back to
 * appendAuditRows, which chains from whatever the head is). Rows keep their order: the sequence is
 * assigned as the array is read, in order.
 */
export async function appendHashedAuditRows(db: Db, expectedHead: string, rows: HashedAuditRow[]): Promise<boolean> {
  if (rows.length === 0) return true;
  const json = JSON.stringify(rows.map((r) => ({
    id: r.id, at: r.at.toISOString(), request_id: r.requestId ?? null, actor_id: r.actorId ?? null, actor_kind: r.actorKind ?? null,
    action: r.action, outcome: r.outcome, vault: r.vault ?? null, secret: r.secret ?? null, version: r.version ?? null,
    workspace: r.workspace ?? null, function: r.function ?? null, invocation_id: r.invocationId ?? null, detail: r.detail ?? null,
    vault_id: r.vaultId ?? null, workspace_id: r.workspaceId ?? null, client_request_id: r.clientRequestId ?? null,
    hash_version: r.hashVersion ?? 1, prev_hash: r.prevHash, hash: r.hash,
  })));
  const result = await db.execute(sql`select coffer_append_hashed_audit(${json}::jsonb, ${expectedHead}, ${rows[rows.length - 1].hash}) as last_seq`);
  return executedRows<{ last_seq: unknown }>(result)[0]?.last_seq != null;
}

export interface AuditFilter {
  /** By id: a name can be reused by a later vault, an id cannot. */
  vaultId?: string; secret?: string; actorId?: string; action?: string; outcome?: 'allowed' | 'denied';
  since?: Date; beforeSeq?: number; limit: number;
}

/** Newest first, keyset-paged by sequence number. */
export async function queryAudit(db: Db, f: AuditFilter) {
  const conds: SQL[] = [];
  if (f.vaultId) conds.push(eq(auditEvents.vaultId, f.vaultId));
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
