// The warm isolates of one worker process, as bookkeeping only: which isolate is free for which
// workspace, when a new one may be made, and which idle one goes first when room is needed. It
// never touches isolated-vm itself (the worker passes `create` and `dispose`), so its rules can be
// tested without starting a worker.
//
// Rules:
// - an isolate belongs to one key (memoryMb + workspace) for its whole life, and runs one
//   invocation at a time: acquire() hands it out, release() takes it back;
// - at most `perKey` isolates per key and `total` per worker; when the total is reached, the least
//   recently used idle isolate of any key is disposed to make room;
// - an isolate idle for longer than `idleMs` is disposed by sweep(), so memory is given back;
// - an isolate released as unhealthy (it timed out, ran out of memory) is disposed, never reused.

export interface IsolatePoolOptions<T> {
  perKey: number;
  total: number;
  idleMs: number;
  create(key: string): T;
  dispose(item: T): void;
  now?: () => number;
}

export interface IsolatePool<T> {
  /** A warm isolate for `key` (the most recently used), or a new one; undefined when the key or the worker is at its cap. */
  acquire(key: string): T | undefined;
  /** Returns an isolate acquired for `key`; a healthy one becomes idle (most recently used), any other is disposed. */
  release(key: string, item: T, healthy: boolean): void;
  /** Disposes isolates idle for longer than idleMs; returns how many. */
  sweep(): number;
  counts(): { active: number; idle: number };
}

interface Idle<T> { key: string; item: T; since: number }

export function createIsolatePool<T>(options: IsolatePoolOptions<T>): IsolatePool<T> {
  const { perKey, total, idleMs, create, dispose } = options;
  const now = options.now ?? Date.now;
  /** Isolates per key, active and idle. */
  const perKeyCount = new Map<string, number>();
  /** Idle isolates per key; the last is the most recently used, and the first one handed out. */
  const idleByKey = new Map<string, Idle<T>[]>();
  /** Every idle isolate, least recently used first (a Set keeps insertion order). */
  const lru = new Set<Idle<T>>();
  let alive = 0;

  const count = (key: string) => perKeyCount.get(key) ?? 0;

  function forget(key: string): void {
    const n = count(key) - 1;
    if (n > 0) perKeyCount.set(key, n);
    else perKeyCount.delete(key);
    alive--;
  }

  function drop(idle: Idle<T>): void {
    lru.delete(idle);
    const list = idleByKey.get(idle.key)!;
    list.splice(list.indexOf(idle), 1);
    if (list.length === 0) idleByKey.delete(idle.key);
    forget(idle.key);
    dispose(idle.item);
  }

  return {
    acquire(key) {
      const list = idleByKey.get(key);
      if (list) {
        const idle = list.pop()!;
        if (list.length === 0) idleByKey.delete(key);
        lru.delete(idle);
        return idle.item;
      }
      if (count(key) >= perKey) return undefined;
      if (alive >= total) {
        const oldest = lru.values().next().value;
        if (!oldest) return undefined;
        drop(oldest);
      }
      const item = create(key);
      perKeyCount.set(key, count(key) + 1);
      alive++;
      return item;
    },
    release(key, item, healthy) {
      if (!healthy) {
        forget(key);
        dispose(item);
        return;
      }
      const idle: Idle<T> = { key, item, since: now() };
      let list = idleByKey.get(key);
      if (!list) idleByKey.set(key, (list = []));
      list.push(idle);
      lru.add(idle);
    },
    sweep() {
      const cutoff = now() - idleMs;
      let n = 0;
      for (const idle of lru) {
        if (idle.since > cutoff) break;
        drop(idle);
        n++;
      }
      return n;
    },
    counts: () => ({ active: alive - lru.size, idle: lru.size }),
  };
}
