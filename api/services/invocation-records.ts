// Recent invocations, kept for a retention period: written in batches after the answer has gone
// (never holding up an invocation), and pruned on a timer and every so many records. A batch holds
// several tenants' records, so each record is made storable before it joins one (log lines and
// error messages are function output: NUL, lone surrogates), and if a batch still fails, its rows
// are retried one by one, so one record can never take the others with it. A record the database
// refuses even alone is stored without its logs, and the refusal is audited.
import type { Db } from '../../db/client.ts';
import * as fnRepo from '../../db/repos/functions.ts';
import type { Logger } from '../logger.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { storableText } from '../storable-text.ts';
import { isDatabaseUnavailable } from '../database-errors.ts';

/** At most this many rows per insert, at most this long after the first one waits. */
const BATCH_ROWS = 100;
const BATCH_DELAY_MS = 20;
/** Besides the timer, prune after this many stored records. */
const PRUNE_EVERY = 1000;
const PRUNE_INTERVAL_MS = 10 * 60_000;
/** The runtime bounds a whole log (1,000 lines, 256 KiB); these bound what one field can hold. */
const MAX_LOG_LINE_CHARS = 256 * 1024;
const MAX_ERROR_MESSAGE_CHARS = 4096;

interface StoredLogLine { level: string; message: string; at: string }

/** The record as the database can hold it, whatever the function wrote. */
export function storableRecord(row: fnRepo.NewInvocation): fnRepo.NewInvocation {
  const logs = Array.isArray(row.logs) ? (row.logs as Partial<StoredLogLine>[]) : [];
  return {
    ...row,
    errorCode: row.errorCode == null ? null : storableText(String(row.errorCode), 64),
    errorMessage: row.errorMessage == null ? null : storableText(String(row.errorMessage), MAX_ERROR_MESSAGE_CHARS),
    logs: logs.map((line) => ({
      level: storableText(String(line?.level ?? 'log'), 16),
      message: storableText(String(line?.message ?? ''), MAX_LOG_LINE_CHARS),
      at: storableText(String(line?.at ?? ''), 40),
    })),
  };
}

export function createInvocationRecords(deps: { db: Db; logger: Logger; retentionMs: number; audit?: AuditLog }) {
  const { db, logger, retentionMs, audit } = deps;
  const pendingWrites = new Set<Promise<void>>();
  let batch: fnRepo.NewInvocation[] = [];
  let batchTimer: NodeJS.Timeout | undefined;
  let storedSincePrune = 0;
  let pruning: Promise<void> | undefined;
  const pruneTimer = setInterval(() => void prune(), Math.min(PRUNE_INTERVAL_MS, Math.max(1000, retentionMs)));
  pruneTimer.unref();

  function prune(): Promise<void> {
    pruning ??= fnRepo.deleteInvocationsBefore(db, new Date(Date.now() - retentionMs))
      .then((n) => { if (n > 0) logger.debug({ pruned: n }, 'pruned old invocations'); })
      .catch((err) => logger.error({ err: { message: err?.message, code: err?.code } }, 'could not prune old invocations'))
      .finally(() => { pruning = undefined; });
    return pruning;
  }

  function writeBatch(): void {
    clearTimeout(batchTimer);
    batchTimer = undefined;
    const rows = batch;
    batch = [];
    if (rows.length === 0) return;
    const write = fnRepo.insertInvocations(db, rows)
      .catch((err) => (isDatabaseUnavailable(err) ? lost(rows, err) : oneByOne(rows)))
      .finally(() => { pendingWrites.delete(write); });
    pendingWrites.add(write);
    storedSincePrune += rows.length;
    if (storedSincePrune >= PRUNE_EVERY) {
      storedSincePrune = 0;
      void write.then(prune);
    }
  }

  function lost(rows: fnRepo.NewInvocation[], err: unknown) {
    const e = err as { message?: string; code?: string; cause?: { code?: string } };
    logger.error({ invocationIds: rows.map((r) => r.id), err: { code: e?.code ?? e?.cause?.code } }, 'could not store invocation records');
  }

  /** The batch failed for a reason of its own: every row alone, and what still fails, without its logs. */
  async function oneByOne(rows: fnRepo.NewInvocation[]) {
    for (const row of rows) {
      try {
        await fnRepo.insertInvocations(db, [row]);
      } catch (err) {
        if (isDatabaseUnavailable(err)) { lost([row], err); continue; }
        const stripped = { ...row, logs: [], errorMessage: row.errorMessage == null ? null : 'the error message could not be stored' };
        const stored = await fnRepo.insertInvocations(db, [stripped]).then(() => true, (e) => { lost([row], e); return false; });
        const code = (err as { code?: string; cause?: { code?: string } })?.cause?.code ?? (err as { code?: string })?.code;
        logger.warn({ invocationId: row.id, err: { code } }, 'the database refused an invocation record; stored it without its logs');
        await audit?.append({
          action: 'invocation.record_refused', outcome: 'denied', workspaceId: row.workspaceId, invocationId: row.id,
          detail: { error: typeof code === 'string' ? code : 'unknown', storedWithoutLogs: stored },
        }).catch(() => {});
      }
    }
  }

  /** Writes what is waiting and resolves when every write under way has finished. */
  async function flush(): Promise<void> {
    writeBatch();
    await Promise.allSettled([...pendingWrites]);
  }

  return {
    add(row: fnRepo.NewInvocation): void {
      batch.push(storableRecord(row));
      if (batch.length >= BATCH_ROWS) writeBatch();
      else batchTimer ??= setTimeout(writeBatch, BATCH_DELAY_MS);
    },
    /** Lets a caller read its own invocations right after invoking. */
    flush,
    prune,
    async close() {
      clearInterval(pruneTimer);
      await flush();
      await pruning;
    },
  };
}
