// Every decision about a secret leaves one row here. Rows are hash-chained: each row's hash covers
// its content and the previous row's hash, so editing or deleting a row breaks the chain from there.
import crypto from 'node:crypto';
import type { Db } from '../../db/client.ts';
import { ensureAuditHead, appendAuditRow, auditPage, readAuditHead, type AuditRow, GENESIS_HASH } from '../../db/repos/audit.ts';
import { newId } from '../crypto/credentials.ts';

export interface AuditEntry {
  action: string;
  outcome: 'allowed' | 'denied';
  actorId?: string | null;
  actorKind?: string | null;
  requestId?: string | null;
  vault?: string | null;
  secret?: string | null;
  version?: number | null;
  workspace?: string | null;
  function?: string | null;
  invocationId?: string | null;
  /** Small, value-free facts (a role, a reason code). Never a secret value or a credential. */
  detail?: Record<string, unknown> | null;
}

type Hashed = Omit<AuditRow, 'seq' | 'prevHash' | 'hash'>;

/** JSON with object keys sorted: jsonb does not keep key order, so the hash must not depend on it. */
function sortedJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedJson);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortedJson((value as Record<string, unknown>)[k])]));
  }
  return value;
}

function canonical(row: Hashed): string {
  return JSON.stringify([
    row.id, row.at.toISOString(), row.requestId, row.actorId, row.actorKind, row.action, row.outcome,
    row.vault, row.secret, row.version, row.workspace, row.function, row.invocationId, sortedJson(row.detail ?? null),
  ]);
}

export function rowHash(prevHash: string, row: Hashed): string {
  return crypto.createHash('sha256').update(prevHash).update('\n').update(canonical(row)).digest('hex');
}

export interface AuditLog {
  /** Appends within the given transaction (or its own): the caller's write and its audit row commit together. */
  append(entry: AuditEntry, tx?: Db): Promise<void>;
  verify(): Promise<{ intact: boolean; checked: number; firstBrokenSeq?: number }>;
}

export function createAuditLog(db: Db): AuditLog {
  return {
    async append(entry, tx) {
      const row: Hashed = {
        id: newId('aud'),
        at: new Date(),
        requestId: entry.requestId ?? null,
        actorId: entry.actorId ?? null,
        actorKind: entry.actorKind ?? null,
        action: entry.action,
        outcome: entry.outcome,
        vault: entry.vault ?? null,
        secret: entry.secret ?? null,
        version: entry.version ?? null,
        workspace: entry.workspace ?? null,
        function: entry.function ?? null,
        invocationId: entry.invocationId ?? null,
        detail: entry.detail ?? null,
      };
      await appendAuditRow(tx ?? db, row, canonical(row));
    },

    async verify() {
      let prev = GENESIS_HASH;
      let after = 0;
      let checked = 0;
      for (;;) {
        const page = await auditPage(db, after, 500);
        for (const r of page) {
          checked++;
          if (r.prevHash !== prev || rowHash(prev, r) !== r.hash) return { intact: false, checked, firstBrokenSeq: r.seq };
          prev = r.hash;
          after = r.seq;
        }
        if (page.length < 500) break;
      }
      const head = await readAuditHead(db);
      // Rows deleted from the end leave the head pointing past the last row.
      if (head && head.lastSeq !== after) return { intact: false, checked, firstBrokenSeq: Math.min(head.lastSeq, after + 1) };
      return { intact: true, checked };
    },
  };
}

export { ensureAuditHead };
