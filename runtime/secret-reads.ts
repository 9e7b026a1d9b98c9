// The gateway side of one invocation's secret reads: the per-invocation memo and the set of values
// read (which redact.ts needs). The decision itself (grant check, decrypt, audit) is the caller's
// SecretReader; this file only makes sure it is asked once per (vault, name) per invocation and that
// its error text never reaches the function.

export type SecretReader = (vault: string, name: string) => Promise<string | undefined>;

/** 0 ok, 1 access denied, 2 failed: the status the bridge turns into a value or an isolate-realm Error. */
export type ReadStatus = 0 | 1 | 2;

export interface SecretReads {
  /** Values for `names` in order (null when missing), or the status of the first failure. */
  read(vault: string, names: string[]): Promise<{ status: ReadStatus; values?: (string | null)[] }>;
  /** Every value read so far, for redaction. */
  readonly values: ReadonlySet<string>;
}

export function createSecretReads(readSecret: SecretReader): SecretReads {
  const memo = new Map<string, Promise<string | undefined>>();
  const values = new Set<string>();

  // Concurrent identical reads share the one promise stored here before it settles.
  const readOne = (vault: string, name: string): Promise<string | undefined> => {
    const key = `${vault}/${name}`; // "/" cannot occur in a vault name
    let value = memo.get(key);
    if (!value) {
      value = (async () => {
        const v = await readSecret(vault, name);
        if (typeof v !== 'string') return undefined;
        values.add(v);
        return v;
      })();
      memo.set(key, value);
    }
    return value;
  };

  return {
    values,
    async read(vault, names) {
      try {
        const found = await Promise.all(names.map((n) => readOne(vault, n)));
        return { status: 0, values: found.map((v) => (v === undefined ? null : v)) };
      } catch (err) {
        return { status: (err as { code?: unknown })?.code === 'access_denied' ? 1 : 2 };
      }
    },
  };
}
