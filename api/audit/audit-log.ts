// Every decision about a secret leaves one row here. Rows are hash-chained: each row's hash covers
// its content and the previous row's hash, so editing or deleting a row breaks the chain from there.
import crypto from 'node:crypto';
import type { Db } from '../../db/client.ts';
import { ensureAuditHead, appendAuditRows, auditPage, readAuditHead, type AuditRow, GENESIS_HASH } from '../../db/repos/audit.ts';
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
  /**
   * Appends one row. Inside a transaction (`tx`), it commits with the caller's write. Outside one,
   * rows from concurrent callers are group-committed: while one append is being written, the next
   * ones queue and go in together, in one statement. Resolves once the row is committed.
   */
  append(entry: AuditEntry, tx?: Db): Promise<void>;
  /** Appends several rows, in order, committed together (one statement when the queue is idle). */
  appendAll(entries: AuditEntry[]): Promise<void>;
  verify(): Promise<{ intact: boolean; checked: number; firstBrokenSeq?: number }>;
}

/** The most rows one group commit writes. */
const MAX_GROUP = 32;

function toRow(entry: AuditEntry): Hashed {
  return {
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
}

export function createAuditLog(db: Db): AuditLog {
  type Waiting = { row: Hashed; canonical: string; done: (err?: unknown) => void };
  let queue: Waiting[] = [];
  let writing = false;

  function enqueue(rows: Hashed[]): Promise<void> {
    const written = rows.map((row) => new Promise<void>((resolve, reject) => {
      queue.push({ row, canonical: canonical(row), done: (err) => (err ? reject(err) : resolve()) });
    }));
    if (!writing) void drain();
    return Promise.all(written).then(() => {});
  }

  async function drain() {
    writing = true;
    while (queue.length > 0) {
      const group = queue.slice(0, MAX_GROUP);
      queue = queue.slice(group.length);
      try {
        await appendAuditRows(db, group);
        for (const w of group) w.done();
      } catch (err) {
        for (const w of group) w.done(err);
      }
    }
    writing = false;
  }

  return {
    async append(entry, tx) {
      const row = toRow(entry);
      if (tx) return appendAuditRows(tx, [{ row, canonical: canonical(row) }]);
      return enqueue([row]);
    },

    appendAll(entries) {
      return entries.length === 0 ? Promise.resolve() : enqueue(entries.map(toRow));
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
