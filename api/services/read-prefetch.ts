// Which secrets a function version will read, guessed from what its last invocation read, so that
// the gateway can decide those reads before the run and send the values with it: the worker then
// answers them itself. A read otherwise costs a round trip from the worker to the gateway and back
// (an IPC write each way, a wake-up of each process), on both processes' threads.
//
// Nothing is given up for it. Only reads the workspace's grants allow are prefetched, and only
// where access lookups are memoised (an unchanged epoch then proves nothing changed). Each
// prefetched read the function makes is decided again after the run and recorded like any other
// read, before the output is released (functions.ts); a grant revoked in between withholds the
// output. A prefetched value the function does not ask for never enters its isolate and leaves no
// audit row; it stays in the worker's memory for the invocation, as a value the function could
// have read.

/** A (vault, name) pair a function read. */
export interface ExpectedRead { vault: string; name: string }

/** Reads prefetched per invocation, at most. */
export const MAX_PREFETCHED_READS = 8;
/** Function versions remembered, at most (the least recently invoked go first). */
const MAX_REMEMBERED = 2048;

export interface ReadPrefetch {
  /** What the version read last time it ran, if anything. */
  expected(codeKey: string): readonly ExpectedRead[] | undefined;
  /** What one invocation read (allowed reads, in order, repeats allowed): next time, these are prefetched. */
  learn(codeKey: string, reads: readonly ExpectedRead[]): void;
}

export function createReadPrefetch(): ReadPrefetch {
  const learned = new Map<string, ExpectedRead[]>();
  return {
    expected: (codeKey) => learned.get(codeKey),
    learn(codeKey, reads) {
      const distinct: ExpectedRead[] = [];
      for (const r of reads) {
        if (distinct.length >= MAX_PREFETCHED_READS) break;
        if (!distinct.some((d) => d.vault === r.vault && d.name === r.name)) distinct.push({ vault: r.vault, name: r.name });
      }
      learned.delete(codeKey);
      if (distinct.length === 0) return;
      if (learned.size >= MAX_REMEMBERED) learned.delete(learned.keys().next().value!);
      learned.set(codeKey, distinct);
    },
  };
}
