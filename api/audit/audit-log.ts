// Every decision about a secret leaves one row here. Rows are hash-chained: each row's hash covers
// its content and the previous row's hash, so editing or deleting a row breaks the chain from there.
import crypto from 'node:crypto';
import type { Db } from '../../db/client.ts';
import { ensureAuditHead, appendAuditRows, appendHashedAuditRows, auditPage, readAuditHead, type AuditRow, GENESIS_HASH } from '../../db/repos/audit.ts';
import { newId } from '../crypto/credentials.ts';
import { storableJson, storableText } from '../storable-text.ts';
import { isDatabaseUnavailable } from '../database-errors.ts';

export interface AuditEntry {
  action: string;
  outcome: 'allowed' | 'denied';
  actorId?: string | null;
  actorKind?: string | null;
  requestId?: string | null;
  /** The X-Request-Id the client sent, if any: recorded, never mistaken for the server's own id. */
  clientRequestId?: string | null;
  /** The vault by id (what filters and access use); `vault` is its name, for display. */
  vaultId?: string | null;
  vault?: string | null;
  secret?: string | null;
  version?: number | null;
  workspaceId?: string | null;
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

/** The hash version new rows get: 2 also covers the resource ids and the client's request id. */
const HASH_VERSION = 2;

function canonical(row: Hashed): string {
  const fields: unknown[] = [
    row.id, row.at.toISOString(), row.requestId, row.actorId, row.actorKind, row.action, row.outcome,
    row.vault, row.secret, row.version, row.workspace, row.function, row.invocationId, sortedJson(row.detail ?? null),
  ];
  // Version 1 rows (written before these columns existed) keep the text they were hashed with.
  if ((row.hashVersion ?? 1) >= 2) fields.push(2, row.vaultId ?? null, row.workspaceId ?? null, row.clientRequestId ?? null);
  return JSON.stringify(fields);
}

export function rowHash(prevHash: string, row: Hashed): string {
  return chainHash(prevHash, canonical(row));
}

/** What the database computes too: sha256 over the previous hash, a newline and the row's canonical text. */
function chainHash(prevHash: string, canonicalText: string): string {
  return crypto.createHash('sha256').update(prevHash).update('\n').update(canonicalText).digest('hex');
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
/** Longest identifier or name column, and longest string inside `detail`. */
const MAX_FIELD_CHARS = 256;
const MAX_DETAIL_STRING_CHARS = 512;

const field = (value: string | null | undefined) => (value == null ? null : storableText(value, MAX_FIELD_CHARS));

/** Every text is made storable here, so a caller's hostile string cannot fail anyone's statement. */
function toRow(entry: AuditEntry): Hashed {
  return {
    id: newId('aud'),
    at: new Date(),
    requestId: field(entry.requestId),
    clientRequestId: field(entry.clientRequestId),
    actorId: field(entry.actorId),
    actorKind: field(entry.actorKind),
    action: storableText(entry.action, MAX_FIELD_CHARS),
    outcome: entry.outcome,
    vaultId: field(entry.vaultId),
    vault: field(entry.vault),
    secret: field(entry.secret),
    version: entry.version ?? null,
    workspaceId: field(entry.workspaceId),
    workspace: field(entry.workspace),
    function: field(entry.function),
    invocationId: field(entry.invocationId),
    detail: entry.detail == null ? null : storableJson(entry.detail, { maxString: MAX_DETAIL_STRING_CHARS }) as Record<string, unknown>,
    hashVersion: HASH_VERSION,
  };
}

/** Stands in for a row the database refused on its own: says what was refused, carries none of its text. */
function refusalRow(refused: Hashed, err: unknown): Hashed {
  const code = (err as { code?: unknown })?.code ?? (err as { cause?: { code?: unknown } })?.cause?.code;
  return toRow({
    action: 'audit.row_refused', outcome: 'denied', requestId: refused.requestId, actorId: refused.actorId, actorKind: refused.actorKind,
    vaultId: refused.vaultId, workspaceId: refused.workspaceId,
    detail: { refusedId: refused.id, refusedAction: refused.action, error: typeof code === 'string' ? code : 'unknown' },
  });
}

export interface AuditLogOptions {
  onRefused?: (row: Hashed, err: unknown) => void;
  /** Rows written (inside a transaction: written with it), and how long the statement took; for metrics. */
  onWritten?: (rows: readonly Hashed[], seconds: number) => void;
  /** A commit failed and its rows were not written; for metrics. */
  onFailed?: () => void;
}

export function createAuditLog(db: Db, options: AuditLogOptions = {}): AuditLog {
  type Waiting = { row: Hashed; canonical: string; done: (err?: unknown) => void };
  let queue: Waiting[] = [];
  let writing = false;
  /**
   * The chain head as of our last append outside a transaction, while nothing else can have moved it
   * as far as we know; undefined: unknown. `headMoves` counts appends that may move it behind our
   * back (inside a caller's transaction), so a result that raced one is not trusted.
   */
  let head: string | undefined;
  let headMoves = 0;

  /**
   * One append, timed for the metrics. Outside a transaction, with the head known, the hashes are
   * computed here and the rows go in one fixed statement that checks the head it chains from; if
   * the head moved (another gateway, a transaction), the database chains them itself as before.
   */
  async function write(target: Db, rows: Waiting[] | { row: Hashed; canonical: string }[]) {
    const started = performance.now();
    const inTx = target !== db;
    try {
      if (inTx) {
        headMoves++;
        head = undefined;
        await appendAuditRows(target, rows);
      } else {
        const moves = headMoves;
        let appended = false;
        if (head !== undefined) {
          let prev = head;
          const hashed = rows.map(({ row, canonical: text }) => {
            const hash = chainHash(prev, text);
            const out = { ...row, prevHash: prev, hash };
            prev = hash;
            return out;
          });
          appended = await appendHashedAuditRows(target, head, hashed);
          head = appended && moves === headMoves ? prev : undefined;
        }
        if (!appended) {
          const last = await appendAuditRows(target, rows);
          head = moves === headMoves ? last : undefined;
        }
      }
    } catch (err) {
      head = undefined;
      options.onFailed?.();
      throw err;
    }
    options.onWritten?.(rows.map((r) => r.row), (performance.now() - started) / 1000);
  }

  function enqueue(rows: Hashed[]): Promise<void> {
    const written = rows.map((row) => new Promise<void>((resolve, reject) => {
      queue.push({ row, canonical: canonical(row), done: (err) => (err ? reject(err) : resolve()) });
    }));
    // The group starts once this turn of the event loop is over, so that every invocation answered
    // in the same turn (one worker's batch of answers, or answers from several workers read together
    // after the thread was busy) commits in it, not the first alone and the rest in a second commit.
    if (!writing) {
      writing = true;
      setImmediate(drain);
    }
    return Promise.all(written).then(() => {});
  }

  async function drain() {
    while (queue.length > 0) {
      const group = queue.slice(0, MAX_GROUP);
      queue = queue.slice(group.length);
      try {
        await write(db, group);
        for (const w of group) w.done();
      } catch (err) {
        await isolate(group, err);
      }
    }
    writing = false;
  }

  /**
   * A group commit failed. With the database gone, every row fails alike. Otherwise one row may be
   * to blame: retry each row alone, so the others commit, and put a refusal row (value-free) in the
   * chain for each row the database still refuses, so the gap is itself on the trail.
   */
  async function isolate(group: Waiting[], groupErr: unknown) {
    if (group.length === 1 || isDatabaseUnavailable(groupErr)) {
      if (group.length === 1 && !isDatabaseUnavailable(groupErr)) await recordRefusal(group[0].row, groupErr);
      for (const w of group) w.done(groupErr);
      return;
    }
    for (const w of group) {
      try {
        await write(db, [w]);
        w.done();
      } catch (err) {
        if (!isDatabaseUnavailable(err)) await recordRefusal(w.row, err);
        w.done(err);
      }
    }
  }

  async function recordRefusal(row: Hashed, err: unknown) {
    options.onRefused?.(row, err);
    const refusal = refusalRow(row, err);
    head = undefined;
    await appendAuditRows(db, [{ row: refusal, canonical: canonical(refusal) }]).catch(() => {});
  }

  return {
    async append(entry, tx) {
      const row = toRow(entry);
      // Inside a transaction the row stands or falls with the caller's change, by design.
      if (tx) return write(tx, [{ row, canonical: canonical(row) }]);
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
