// Replaces every secret value an invocation read by `[REDACTED]` in what leaves the sandbox.
//
// Each value is searched in the forms a function is likely to print it in: verbatim, base64,
// base64url, hex (lower and upper case) and URL-encoded. Values shorter than MIN_REDACTED_LENGTH
// are NOT redacted: replacing every "ab" or "1" in logs and results would mangle the output while
// hiding nothing (the positions of the markers would still spell out the value), and a secret that
// short is not a secret worth the name. The longest forms are matched first, in one pass, so that
// a shorter value cannot split a longer one and a replacement is never searched again.

export const REDACTED = '[REDACTED]';
export const MIN_REDACTED_LENGTH = 4;

export function secretForms(value: string): string[] {
  if (value.length < MIN_REDACTED_LENGTH) return [];
  const bytes = Buffer.from(value, 'utf8');
  const forms = new Set([
    value,
    bytes.toString('base64'),
    bytes.toString('base64').replace(/=+$/, ''),
    bytes.toString('base64url'),
    bytes.toString('hex'),
    bytes.toString('hex').toUpperCase(),
    encodeURIComponent(value),
  ]);
  return [...forms].filter((f) => f.length >= MIN_REDACTED_LENGTH);
}

export interface Redactor {
  /** Redacts plain text: log lines, error messages, stacks. */
  text(s: string): string;
  /** Redacts JSON text: each form is searched as it appears inside a JSON string literal. */
  json(s: string): string;
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function matcher(forms: Iterable<string>): RegExp | undefined {
  const sorted = [...new Set(forms)].sort((a, b) => b.length - a.length);
  return sorted.length === 0 ? undefined : new RegExp(sorted.map(escapeRegExp).join('|'), 'g');
}

const NOTHING: Redactor = { text: (s) => s, json: (s) => s };

export function createRedactor(values: Iterable<string>): Redactor {
  const forms = [...values].flatMap(secretForms);
  if (forms.length === 0) return NOTHING;
  // A value logged or returned inside JSON text appears escaped once, and JSON inside a JSON string
  // (the reference example returns JSON.stringify(secrets)) twice: search for those forms as well.
  const once = forms.map(jsonEscaped);
  const twice = once.map(jsonEscaped);
  const plain = matcher([...forms, ...once, ...twice])!;
  const inJson = matcher([...once, ...twice])!;
  return {
    text: (s) => s.replace(plain, REDACTED),
    json: (s) => s.replace(inJson, REDACTED),
  };
}

const jsonEscaped = (s: string) => JSON.stringify(s).slice(1, -1);

/**
 * Redacts a JSON result and parses it. Usually the JSON-escaped search keeps the text valid JSON;
 * when a value also matched outside a string (say a secret "1234" returned as the number 1234),
 * the text no longer parses, and the parsed original is walked instead, redacting strings, keys
 * and the text of numbers.
 */
export function redactJsonResult(json: string, redactor: Redactor): unknown {
  const redacted = redactor.json(json);
  if (redacted === json) return JSON.parse(json);
  try {
    return JSON.parse(redacted);
  } catch {
    return walk(JSON.parse(json), redactor);
  }
}

function walk(v: unknown, r: Redactor): unknown {
  if (typeof v === 'string') return r.text(v);
  if (typeof v === 'number') return r.text(String(v)) === String(v) ? v : REDACTED;
  if (Array.isArray(v)) return v.map((x) => walk(x, r));
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    // defineProperty, not assignment: a key "__proto__" must stay a plain key.
    for (const [k, x] of Object.entries(v)) {
      Object.defineProperty(out, r.text(k), { value: walk(x, r), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return v;
}

/** Redacts `values` (and their encodings) from a piece of text. */
export function redactSecrets(text: string, values: Iterable<string>): string {
  return createRedactor(values).text(text);
}
