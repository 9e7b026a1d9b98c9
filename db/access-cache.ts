// Memoised access lookups (who a credential belongs to, whether a workspace may read a vault, which
// function version is active) for the hot paths, kept exact by an epoch: every committed write
// transaction moves the epoch on (see inTransaction in client.ts), and an entry is served only while
// the epoch it was loaded under is still current. So a revoked key, a removed grant or a rotated
// secret is seen by the very next request.
//
// The epoch lives in this process. Embedded PGlite has a single owner, so there the epoch sees every
// write. A shared Postgres can be written by other gateways: each write transaction also sends a
// NOTIFY that every gateway LISTENs for and turns into an epoch step (db/client.ts), and entries
// expire after `maxAgeMs` in case a notification was lost with a connection.

let epoch = 0;
/** Lookups served from an entry, and loaded, in this process (for the metrics). */
const stats = { hits: 0, misses: 0 };

export function accessCacheStats(): Readonly<typeof stats> {
  return stats;
}

/** Called after a write transaction commits. */
export function accessChanged(): void {
  epoch++;
}

/** How the caches behave on a given database (see Database.accessCache). */
export interface AccessCachePolicy {
  maxAgeMs: number;
}

export interface AccessCache<V> {
  get(key: string, load: () => Promise<V>): Promise<V>;
  /** Replaces a current entry's value (e.g. after recording a last-used time); no-op if stale. */
  update(key: string, value: V): void;
}

const passThrough: AccessCache<never> = { get: (_key, load) => load(), update: () => {} };

export function createAccessCache<V>(policy: AccessCachePolicy | undefined, maxEntries = 10_000): AccessCache<V> {
  if (!policy) return passThrough as AccessCache<V>;
  const entries = new Map<string, { epoch: number; at: number; value: V }>();
  return {
    async get(key, load) {
      const hit = entries.get(key);
      if (hit && hit.epoch === epoch && performance.now() - hit.at < policy.maxAgeMs) { stats.hits++; return hit.value; }
      stats.misses++;
      // The epoch is read before loading: a write committed while loading makes this entry stale at once.
      const loadedAt = epoch;
      const at = performance.now();
      const value = await load();
      if (value !== undefined) {
        if (entries.size >= maxEntries) entries.delete(entries.keys().next().value!);
        entries.set(key, { epoch: loadedAt, at, value });
      }
      return value;
    },
    update(key, value) {
      const hit = entries.get(key);
      if (hit && hit.epoch === epoch) hit.value = value;
    },
  };
}
