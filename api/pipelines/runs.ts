// Recent pipeline runs, kept like invocations: written after the answer has gone (never holding up a
// GraphQL response), in batches (a run's record costs the gateway more than its steps did: one
// statement for many runs instead of a transaction each), a batch that fails retried one run at a
// time so one bad row cannot take others with it, every failed write logged with the run id,
// pruned on a timer after the retention period.
import type { Db } from '../../db/client.ts';
import * as repo from '../../db/repos/pipelines.ts';
import type { LogLine } from '../../runtime/index.ts';
import type { Logger } from '../logger.ts';
import { storableText } from '../storable-text.ts';

const PRUNE_INTERVAL_MS = 10 * 60_000;
const MAX_MESSAGE_CHARS = 4096;
const MAX_LOG_LINES_PER_STEP = 200;

/** Text from functions made safe for text/jsonb columns, through the one storable-text rule. */
export const safeText = (s: string, max = MAX_MESSAGE_CHARS): string => storableText(s, max);

export const safeLogs = (logs: LogLine[]): LogLine[] =>
  logs.slice(0, MAX_LOG_LINES_PER_STEP).map((l) => ({ level: l.level, message: safeText(l.message), at: l.at }));

/** At most this many runs per write, at most this long after the first one waits. */
const BATCH_RUNS = 50;
const BATCH_DELAY_MS = 20;

export function createRunRecords(deps: { db: Db; logger: Logger; retentionMs: number }) {
  const { db, logger, retentionMs } = deps;
  type Record = { run: repo.NewPipelineRun; steps: repo.NewPipelineRunStep[] };
  let queue: Record[] = [];
  let timer: NodeJS.Timeout | undefined;
  let writing: Promise<void> | undefined;
  let pruning: Promise<void> | undefined;
  const pruneTimer = setInterval(() => void prune(), Math.min(PRUNE_INTERVAL_MS, Math.max(1000, retentionMs)));
  pruneTimer.unref();

  function prune(): Promise<void> {
    pruning ??= repo.deleteRunsBefore(db, new Date(Date.now() - retentionMs))
      .then((n) => { if (n > 0) logger.debug({ pruned: n }, 'pruned old pipeline runs'); })
      .catch((err) => logger.error({ err: { message: err?.message, code: err?.code } }, 'could not prune old pipeline runs'))
      .finally(() => { pruning = undefined; });
    return pruning;
  }

  async function writeBatch(batch: Record[]): Promise<void> {
    try {
      await repo.insertRuns(db, batch);
      return;
    } catch (err) {
      if (batch.length === 1) {
        logger.error({ runId: batch[0].run.id, err: { message: (err as Error)?.message, code: (err as { code?: unknown })?.code } }, 'could not store a pipeline run');
        return;
      }
    }
    for (const r of batch) await writeBatch([r]);
  }

  /** Writes what is queued, one batch after another; one writer at a time. */
  function drain(): Promise<void> {
    clearTimeout(timer);
    timer = undefined;
    writing ??= (async () => {
      while (queue.length > 0) {
        const batch = queue.slice(0, BATCH_RUNS);
        queue = queue.slice(batch.length);
        await writeBatch(batch);
      }
    })().finally(() => { writing = undefined; });
    return writing;
  }

  /** Lets a caller read its own runs right after running. */
  async function flush(): Promise<void> {
    await writing;
    await drain();
  }

  return {
    add(run: repo.NewPipelineRun, steps: repo.NewPipelineRunStep[]): void {
      queue.push({ run, steps });
      if (queue.length >= BATCH_RUNS) void drain();
      else timer ??= setTimeout(() => void drain(), BATCH_DELAY_MS);
    },
    flush,
    prune,
    async close() {
      clearInterval(pruneTimer);
      await flush();
      await pruning;
    },
  };
}

export type RunRecords = ReturnType<typeof createRunRecords>;
