// Schedule triggers. Every gateway looks at every enabled schedule once a second (or when asked, in
// tests, with an injected time). A tick becomes a job whose dedupe key is `tick:<executor>:<time>`,
// unique in the jobs table, so however many gateways see the same tick, it runs once. Each
// executor keeps a bookmark (lastTickAt): ticks at or before it are done; after downtime only the
// most recent missed tick is considered, and with catchUp "none" it is skipped when it is older
// than MISSED_AFTER_MS.
import type { Db } from '../../db/client.ts';
import * as executorsRepo from '../../db/repos/executors.ts';
import type { Logger } from '../logger.ts';
import { scheduleOf, type ScheduleTrigger } from './schemas.ts';

/** A tick noticed later than this after its time counts as missed (matters for catchUp "none"). */
export const MISSED_AFTER_MS = 60_000;

export interface SchedulerDeps {
  db: Db;
  logger: Logger;
  /** Turns a tick into a job; answers whether a new job was created (false: another gateway did). */
  fire(row: executorsRepo.ExecutorRow, scheduledTime: Date): Promise<boolean>;
  /** 0 disables the background loop (tests call tick() themselves). */
  intervalMs: number;
}

export function createScheduler(deps: SchedulerDeps) {
  const { db, logger } = deps;
  let timer: NodeJS.Timeout | undefined;
  let ticking = false;

  /** The tick to act on at `now` for one executor, if any, and whether to run it or only skip it. */
  function due(row: executorsRepo.ExecutorRow, now: Date): { at: Date; run: boolean } | undefined {
    const trigger = row.trigger as ScheduleTrigger;
    // previousRuns is exclusive of its reference; a tick exactly at `now` is due now.
    const [latest] = scheduleOf(trigger).previousRuns(1, new Date(now.getTime() + 1));
    if (!latest) return undefined;
    const bookmark = row.lastTickAt ?? row.createdAt;
    if (latest.getTime() <= bookmark.getTime()) return undefined;
    const late = now.getTime() - latest.getTime() > MISSED_AFTER_MS;
    return { at: latest, run: !(late && trigger.catchUp === 'none') };
  }

  async function tick(now: Date = new Date()): Promise<{ fired: number }> {
    let fired = 0;
    for (const { executor } of await executorsRepo.listActiveSchedules(db)) {
      try {
        const d = due(executor, now);
        if (!d) continue;
        if (d.run && (await deps.fire(executor, d.at))) fired++;
        await executorsRepo.advanceLastTick(db, executor.id, d.at);
      } catch (err) {
        // One broken schedule never holds up the others.
        logger.warn({ executorId: executor.id, err: { message: (err as Error).message } }, 'a schedule tick failed; it is tried again');
      }
    }
    return { fired };
  }

  return {
    tick,
    start() {
      if (deps.intervalMs <= 0) return;
      timer = setInterval(() => {
        if (ticking) return;
        ticking = true;
        tick().catch((err) => logger.warn({ err: { message: (err as Error).message } }, 'schedule tick failed'))
          .finally(() => { ticking = false; });
      }, deps.intervalMs);
      timer.unref();
    },
    close() { if (timer) clearInterval(timer); },
  };
}

export type Scheduler = ReturnType<typeof createScheduler>;
