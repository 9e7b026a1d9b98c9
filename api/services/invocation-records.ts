// Recent invocations, kept for a retention period: written in batches after the answer has gone
// (never holding up an invocation), never silently lost (a failed write is logged with every id it
// held), and pruned on a timer and every so many records.
import type { Db } from '../../db/client.ts';
import * as fnRepo from '../../db/repos/functions.ts';
import type { Logger } from '../logger.ts';

/** At most this many rows per insert, at most this long after the first one waits. */
const BATCH_ROWS = 100;
const BATCH_DELAY_MS = 20;
/** Besides the timer, prune after this many stored records. */
const PRUNE_EVERY = 1000;
const PRUNE_INTERVAL_MS = 10 * 60_000;

export function createInvocationRecords(deps: { db: Db; logger: Logger; retentionMs: number }) {
  const { db, logger, retentionMs } = deps;
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
      .catch((err) => logger.error({ invocationIds: rows.map((r) => r.id), err: { message: err?.message, code: err?.code } }, 'could not store invocation records'))
      .finally(() => { pendingWrites.delete(write); });
    pendingWrites.add(write);
    storedSincePrune += rows.length;
    if (storedSincePrune >= PRUNE_EVERY) {
      storedSincePrune = 0;
      void write.then(prune);
    }
  }

  /** Writes what is waiting and resolves when every write under way has finished. */
  async function flush(): Promise<void> {
    writeBatch();
    await Promise.allSettled([...pendingWrites]);
  }

  return {
    add(row: fnRepo.NewInvocation): void {
      batch.push(row);
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
