// Recent pipeline runs, kept like invocations: written after the answer has gone (never holding up a
// GraphQL response), one run per write so one bad row cannot take others with it, every failed write
// logged with the run id, pruned on a timer after the retention period.
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

export function createRunRecords(deps: { db: Db; logger: Logger; retentionMs: number }) {
  const { db, logger, retentionMs } = deps;
  const pending = new Set<Promise<void>>();
  let pruning: Promise<void> | undefined;
  const timer = setInterval(() => void prune(), Math.min(PRUNE_INTERVAL_MS, Math.max(1000, retentionMs)));
  timer.unref();

  function prune(): Promise<void> {
    pruning ??= repo.deleteRunsBefore(db, new Date(Date.now() - retentionMs))
      .then((n) => { if (n > 0) logger.debug({ pruned: n }, 'pruned old pipeline runs'); })
      .catch((err) => logger.error({ err: { message: err?.message, code: err?.code } }, 'could not prune old pipeline runs'))
      .finally(() => { pruning = undefined; });
    return pruning;
  }

  return {
    add(run: repo.NewPipelineRun, steps: repo.NewPipelineRunStep[]): void {
      const write = repo.insertRun(db, run, steps)
        .catch((err) => logger.error({ runId: run.id, err: { message: err?.message, code: err?.code } }, 'could not store a pipeline run'))
        .finally(() => { pending.delete(write); });
      pending.add(write);
    },
    /** Lets a caller read its own runs right after running. */
    async flush() { await Promise.allSettled([...pending]); },
    prune,
    async close() {
      clearInterval(timer);
      await Promise.allSettled([...pending]);
      await pruning;
    },
  };
}

export type RunRecords = ReturnType<typeof createRunRecords>;
