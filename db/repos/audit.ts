// The audit trail's storage: append under the chain-head lock, page through, read for verification.
import { and, asc, desc, eq, gt, gte, lt, sql, type SQL } from 'drizzle-orm';
import type { Db } from '../client.ts';
import { auditEvents, auditHead } from '../schema.ts';

export type AuditRow = typeof auditEvents.$inferSelect;
export type NewAuditRow = Omit<typeof auditEvents.$inferInsert, 'seq'>;

export const GENESIS_HASH = '0'.repeat(64);

export async function ensureAuditHead(db: Db) {
  await db.insert(auditHead).values({ id: 1, lastSeq: 0, lastHash: GENESIS_HASH }).onConflictDoNothing();
}

/**
 * Appends rows to the chain in a single statement, in order: lock the head, hash each row as
 * sha256(previous hash + "\n" + its canonical text) (a recursive CTE carries the previous hash
 * along), insert them, move the head. The row lock keeps the chain linear under concurrency; one
 * statement keeps the hot path (every secret read) to one round trip however many rows there are.
 * Each row's `canonical` is computed by the caller from exactly the values stored here.
 */
export async function appendAuditRows(db: Db, rows: Array<{ row: Omit<NewAuditRow, 'prevHash' | 'hash'>; canonical: string }>) {
  if (rows.length === 0) return;
  const input = JSON.stringify(rows.map(({ row, canonical }, ord) => ({
    ord, id: row.id, at: row.at.toISOString(), request_id: row.requestId ?? null, actor_id: row.actorId ?? null,
    actor_kind: row.actorKind ?? null, action: row.action, outcome: row.outcome, vault: row.vault ?? null,
    secret: row.secret ?? null, version: row.version ?? null, workspace: row.workspace ?? null,
    function: row.function ?? null, invocation_id: row.invocationId ?? null, detail: row.detail ?? null, canonical,
  })));
  await db.execute(sql`
    with recursive
    head as (select last_hash from audit_head where id = 1 for update),
    input as (
      select * from jsonb_to_recordset(${input}::jsonb) as x(
        ord int, id text, at timestamptz, request_id text, actor_id text, actor_kind text, action text, outcome text,
        vault text, secret text, version int, workspace text, function text, invocation_id text, detail jsonb, canonical text)
    ),
    chain as (
      select i.ord, h.last_hash as prev_hash, encode(sha256(convert_to(h.last_hash || E'\n' || i.canonical, 'UTF8')), 'hex') as hash
      from input i cross join head h where i.ord = 0
      union all
      select i.ord, c.hash, encode(sha256(convert_to(c.hash || E'\n' || i.canonical, 'UTF8')), 'hex')
      from chain c join input i on i.ord = c.ord + 1
    ),
    ins as (
      insert into audit_events (id, at, request_id, actor_id, actor_kind, action, outcome, vault, secret, version,
                                workspace, function, invocation_id, detail, prev_hash, hash)
      select i.id, i.at, i.request_id, i.actor_id, i.actor_kind, i.action, i.outcome, i.vault, i.secret, i.version,
             i.workspace, i.function, i.invocation_id, i.detail, c.prev_hash, c.hash
      from input i join chain c on c.ord = i.ord
      order by i.ord
      returning seq
    )
    update audit_head set last_seq = (select max(seq) from ins), last_hash = (select hash from chain order by ord desc limit 1)
    where id = 1`);
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
