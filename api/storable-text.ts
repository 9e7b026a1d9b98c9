// Text that came from outside (paths, log lines, names, error messages) made safe to store: Postgres
// `text` and `jsonb` refuse U+0000, `jsonb` and UTF-8 conversion refuse lone surrogates (on
// PostgreSQL; PGlite refuses NUL everywhere), and nothing a caller sends should grow a row without
// bound. Every free text bound for the database passes through here first, so one hostile string
// can never fail a statement that carries other callers' rows.

/** Stands in for a character the database cannot hold. */
const REPLACEMENT = '\uFFFD';
const TRUNCATED = '…';
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * Well-formed, NUL-free text of at most `maxChars` UTF-16 units (cut on a character boundary, with
 * an ellipsis when cut). NUL becomes U+FFFD, as does each lone surrogate.
 */
export function storableText(value: string, maxChars: number): string {
  let text = value.replace(LONE_SURROGATE, REPLACEMENT);
  if (text.includes('\0')) text = text.replaceAll('\0', REPLACEMENT);
  if (text.length <= maxChars) return text;
  let cut = Math.max(0, maxChars - TRUNCATED.length);
  // Never split a surrogate pair: that would make a new lone surrogate.
  if (cut > 0 && /[\uD800-\uDBFF]/.test(text[cut - 1])) cut--;
  return text.slice(0, cut) + TRUNCATED;
}

export interface StorableJsonLimits {
  /** Longest string (keys included), in UTF-16 units. */
  maxString: number;
  /** Deepest nesting kept; deeper values become the string "[too deep]". */
  maxDepth?: number;
  /** Most entries kept per object or array. */
  maxEntries?: number;
}

/** A JSON-compatible copy of `value` whose every string (keys too) is storable. */
export function storableJson(value: unknown, limits: StorableJsonLimits, depth = 0): unknown {
  const { maxString, maxDepth = 8, maxEntries = 64 } = limits;
  if (typeof value === 'string') return storableText(value, maxString);
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return Number.isFinite(value) || typeof value !== 'number' ? value : null;
  if (typeof value !== 'object') return value === undefined ? undefined : null;
  if (depth >= maxDepth) return '[too deep]';
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.slice(0, maxEntries).map((v) => storableJson(v, limits, depth + 1) ?? null);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value).slice(0, maxEntries)) {
    const copied = storableJson(v, limits, depth + 1);
    if (copied !== undefined) out[storableText(k, maxString)] = copied;
  }
  return out;
}
