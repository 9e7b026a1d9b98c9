// Memoised access lookups (who a credential belongs to, whether a workspace may read a vault, which
// function version is active) for the hot paths, kept exact by an epoch: every committed write
// transaction moves the epoch on (see inTransaction in client.ts), and an entry is served only while
// the epoch it was loaded under is still current. So a revoked key, a removed grant or a rotated
// secret is seen by the very next request.
//
// The epoch lives in this process, so the caches are only exact when this process is the database's
// only writer: embedded PGlite, which has a single owner. Against a shared Postgres the caches are
// disabled (and its prepared lookups are cheap there anyway).

let epoch = 0;

export function accessEpoch(): number {
  return epoch;
}

/** Called after a write transaction commits. */
export function accessChanged(): void {
  epoch++;
}

export interface AccessCache<V> {
  get(key: string, load: () => Promise<V>): Promise<V>;
  /** Replaces a current entry's value (e.g. after recording a last-used time); no-op if stale. */
  update(key: string, value: V): void;
}

const passThrough: AccessCache<never> = { get: (_key, load) => load(), update: () => {} };

export function createAccessCache<V>(options: { enabled: boolean; maxEntries?: number }): AccessCache<V> {
  if (!options.enabled) return passThrough as AccessCache<V>;
  const maxEntries = options.maxEntries ?? 10_000;
  const entries = new Map<string, { epoch: number; value: V }>();
  return {
    async get(key, load) {
      const hit = entries.get(key);
      if (hit && hit.epoch === epoch) return hit.value;
      // The epoch is read before loading: a write committed while loading makes this entry stale at once.
      const loadedAt = epoch;
      const value = await load();
      if (value !== undefined) {
        if (entries.size >= maxEntries) entries.delete(entries.keys().next().value!);
        entries.set(key, { epoch: loadedAt, value });
      }
      return value;
    },
    update(key, value) {
      const hit = entries.get(key);
      if (hit && hit.epoch === epoch) hit.value = value;
    },
  };
}
