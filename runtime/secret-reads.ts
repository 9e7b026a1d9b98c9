// The gateway side of one invocation's secret reads: the per-invocation memo and caps. The decision
// itself (grant check, decrypt, audit) is the caller's SecretReader; this file makes sure it is asked
// once per (vault, name) per invocation, at most `maxNames` times in all, that an invocation which
// keeps being denied is stopped after `maxDenied` denials (each denial is an audit row, possibly in
// another tenant's vault trail), and that the reader's error text never reaches the function.
// Redaction happens in the worker, which sees the values on their way into the isolate.

export type SecretReader = (vault: string, name: string) => Promise<string | undefined>;

/** 0 ok, 1 access denied, 2 failed, 3 a per-invocation cap was hit (the invocation must end). */
export type ReadStatus = 0 | 1 | 2 | 3;

export interface SecretReadCaps {
  /** Distinct (vault, name) pairs per invocation. */
  maxNames: number;
  /** Denied reads per invocation; the one after them ends the invocation. */
  maxDenied: number;
}

export interface SecretReads {
  /** Values for `names` in order (null when missing), or the status of the first failure (`reason` with 3). */
  read(vault: string, names: string[]): Promise<{ status: ReadStatus; values?: (string | null)[]; reason?: string }>;
}

class CapReached extends Error {}

/**
 * `prefetched`: reads the worker may answer itself (values sent with the run). They count towards
 * `maxNames` from the start, whether or not the function makes them: the cap bounds the distinct
 * values an invocation can obtain.
 */
export function createSecretReads(readSecret: SecretReader, caps: SecretReadCaps, prefetched: { vault: string; name: string }[] = []): SecretReads {
  const memo = new Map<string, Promise<string | undefined>>();
  const counted = new Set(prefetched.map((p) => `${p.vault}/${p.name}`));
  let denied = 0;

  // Concurrent identical reads share the one promise stored here before it settles.
  const readOne = (key: string, vault: string, name: string): Promise<string | undefined> => {
    let value = memo.get(key);
    if (!value) {
      value = (async () => {
        try {
          const v = await readSecret(vault, name);
          return typeof v === 'string' ? v : undefined;
        } catch (err) {
          if ((err as { code?: unknown })?.code === 'access_denied' && ++denied > caps.maxDenied) {
            throw new CapReached(`the function was denied more than ${caps.maxDenied} secret reads`);
          }
          throw err;
        }
      })();
      memo.set(key, value);
    }
    return value;
  };

  return {
    async read(vault, names) {
      const keys = names.map((n) => `${vault}/${n}`); // "/" cannot occur in a vault name
      const fresh = new Set(keys.filter((k) => !counted.has(k))).size;
      if (counted.size + fresh > caps.maxNames) {
        return { status: 3, reason: `the function read more than ${caps.maxNames} distinct secrets` };
      }
      for (const k of keys) counted.add(k);
      try {
        const found = await Promise.all(keys.map((k, i) => readOne(k, vault, names[i])));
        return { status: 0, values: found.map((v) => (v === undefined ? null : v)) };
      } catch (err) {
        if (err instanceof CapReached || denied > caps.maxDenied) {
          return { status: 3, reason: `the function was denied more than ${caps.maxDenied} secret reads` };
        }
        return { status: (err as { code?: unknown })?.code === 'access_denied' ? 1 : 2 };
      }
    },
  };
}
