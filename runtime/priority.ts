// A sandbox worker runs below the gateway's CPU priority (a higher nice value), so that when the two
// compete for a core the gateway wins: it authenticates, audits and answers everyone, while a worker
// only runs guest code and its own upkeep (an isolate's next context, made right after an answer,
// used to preempt the gateway that was sending that answer on). A tenant burning CPU in its
// functions slows the sandboxes, not the API.
import fs from 'node:fs';
import os from 'node:os';

/** The nice value sandbox workers take by default (0-19; 0 keeps the gateway's). */
export const DEFAULT_WORKER_NICE = 10;

/**
 * Lowers this process's priority to `nice`, every thread of it. On Linux a nice value is a thread's:
 * each thread there now is changed, and threads started later (isolated-vm's) inherit it from theirs.
 * Elsewhere the process's. Raising a nice value needs no privilege; a failure leaves it as it was.
 */
export function lowerPriority(nice: number): void {
  if (!(nice > 0)) return;
  let threads: string[] = [];
  try {
    threads = fs.readdirSync('/proc/self/task');
  } catch {
    // not Linux
  }
  for (const id of threads.length > 0 ? threads.map(Number) : [0]) {
    try {
      if (os.getPriority(id) < nice) os.setPriority(id, nice);
    } catch {
      // a thread that ended meanwhile
    }
  }
}
