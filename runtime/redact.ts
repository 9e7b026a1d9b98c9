// Replaces every secret value an invocation read by `[REDACTED]` in what leaves the sandbox. Runs in
// the worker process (never on the gateway's thread), over the whole text, before any cut.
//
// No regular expression is ever built from a value (V8 refuses patterns past ~16K characters, and
// its error message is the pattern). Instead each value is expanded into the forms a function is
// likely to print it in, and the text is scanned once: a rolling hash of every 8-character window is
// looked up among the forms' first 8 characters, and only on a hit is the form compared in full.
// The scan is linear in the text; the comparisons are charged to a budget linear in the text too,
// and a text that exhausts it (one built to make every window a near miss) is withheld whole rather
// than let through. The forms are searched in three views of the text, all of the same length:
//   - as is: the value, its NFC and NFD variants, each JSON-escaped once and twice, and the first
//     10 characters of each (what V8's JSON.parse error quotes of a string it cannot parse);
//   - with the base64url alphabet mapped onto base64's: base64 of the value's UTF-8 bytes at each of
//     the three alignments it can have inside a longer base64 text (`Basic base64("user:" + token)`),
//     widened by the three characters either side that carry some of its bits, and any padding;
//   - ASCII-lowercased: hex, encodeURIComponent, encodeURI and form encoding (`+` for space), so that
//     upper- and lowercase hex and %xx escapes are one form each.
//
// Values shorter than MIN_REDACTED_LENGTH are not redacted, and that is what keeps redaction from
// being an oracle: a short value is guessable, and a marker that appears exactly when an invoker's
// guess (echoed by the function) equals the value would confirm the guess. See docs/functions.md.

export const REDACTED = '[REDACTED]';
/** Shorter values are not redacted (see above). */
export const MIN_REDACTED_LENGTH = 8;
/** Replaces a whole text whose redaction ran out of budget. */
export const WITHHELD = '[REDACTED: output withheld, it could not be checked for secret values]';
/** V8's JSON.parse error quotes this many characters of a long string it cannot parse. */
const JSON_PARSE_QUOTE = 10;
const ANCHOR = 8;
/** Full comparisons may cost this many characters per character of text (plus once per form). */
const BUDGET_PER_CHAR = 64;

const AS_IS = 0;
const BASE64 = 1;
const LOWER = 2;
type View = typeof AS_IS | typeof BASE64 | typeof LOWER;

interface Form { text: string; base64: boolean }

/** Every form of one value, by view. Exported for tests. */
export function secretForms(value: string): [string[], string[], string[]] {
  const views: [Set<string>, Set<string>, Set<string>] = [new Set(), new Set(), new Set()];
  if (value.length < MIN_REDACTED_LENGTH) return [[], [], []];
  for (const v of new Set([value, value.normalize('NFC'), value.normalize('NFD')])) {
    const once = jsonEscaped(v);
    for (const f of [v, once, jsonEscaped(once)]) {
      views[AS_IS].add(f);
      if (f.length > JSON_PARSE_QUOTE) views[AS_IS].add(f.slice(0, JSON_PARSE_QUOTE));
    }
    const bytes = Buffer.from(v, 'utf8');
    for (let align = 0; align < 3; align++) views[BASE64].add(base64Core(bytes, align));
    views[LOWER].add(bytes.toString('hex'));
    for (const encode of [encodeURIComponent, encodeURI, formEncode]) {
      try {
        const e = encode(v);
        if (e !== v) views[LOWER].add(asciiLower(e));
      } catch { /* a lone surrogate has no percent-encoding */ }
    }
  }
  return views.map((s) => [...s].filter((f) => f.length >= ANCHOR)) as [string[], string[], string[]];
}

/**
 * The base64 characters that depend only on the value's bytes when they start `align` bytes into a
 * 3-byte group: the value embedded in a longer byte string encodes to a text containing these.
 */
function base64Core(bytes: Buffer, align: number): string {
  const shifted = Buffer.concat([Buffer.alloc(align), bytes]);
  const first = align === 0 ? 0 : 3;
  const last = Math.floor(shifted.length / 3) * 3;
  if (last <= first) return '';
  return shifted.subarray(first, last).toString('base64');
}

/** application/x-www-form-urlencoded, as URLSearchParams writes it. */
const formEncode = (s: string) =>
  encodeURIComponent(s).replace(/[!'()~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`).replace(/%20/g, '+');

const jsonEscaped = (s: string) => JSON.stringify(s).slice(1, -1);
/**
 * Lowercases ASCII letters, keeping every position. toLowerCase() is much faster than a replace and
 * differs only on non-ASCII letters, which no lowercase-view form contains; it changes the length
 * only for a few letters (U+0130), where the slow way is taken.
 */
function asciiLower(s: string): string {
  const fast = s.toLowerCase();
  return fast.length === s.length ? fast : s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}
const base64Alphabet = (s: string) => s.replace(/[-_]/g, (c) => (c === '-' ? '+' : '/'));

export interface Redactor {
  /**
   * Redacts `s`. With `keep` below s.length (the text was cut on its way here, so its end may hold
   * part of a value), only the text before `keep` is returned; a match that starts before `keep` is
   * replaced whole.
   */
  text(s: string, keep?: number): string;
  /** True when there is nothing to redact. */
  readonly empty: boolean;
  /** The longest form in characters: a text cut this far from its end still shows every value whole before that. */
  readonly longestForm: number;
}

const B = 0x01000193;
const B_TO_ANCHOR = (() => { let x = 1; for (let i = 0; i < ANCHOR; i++) x = Math.imul(x, B); return x; })();

function anchorHash(s: string, at: number): number {
  let h = 0;
  for (let i = 0; i < ANCHOR; i++) h = (Math.imul(h, B) + s.charCodeAt(at + i)) | 0;
  return h;
}

/**
 * `bits` is a one-hash Bloom filter over `hashes`, sized to them (at most 2^21 bits): most windows
 * are rejected by one array read. `wordShift` takes a hash's top bits as the word to read.
 */
interface Index { hashes: Set<number>; bits: Uint32Array; wordShift: number; byAnchor: Map<string, Form[]>; size: number }
/** Filter bits per anchor: about one window in this many passes the filter for nothing. */
const BLOOM_BITS_PER_ANCHOR = 1024;
const MAX_BLOOM_WORDS_LOG2 = 16;

const NOTHING: Redactor = { text: (s) => s, empty: true, longestForm: 0 };

/** A hash's bit in the filter: the word its top bits pick, and the bit the next five pick. */
const filterBit = (index: Index, h: number) => 1 << ((h >>> (index.wordShift - 5)) & 31);
const inFilter = (index: Index, h: number) => (index.bits[h >>> index.wordShift] & filterBit(index, h)) !== 0;

function buildIndex(forms: Map<string, Form[]>): Index {
  // Few values (the usual case) get a filter of a few hundred bytes, not 256 KiB to zero per invocation.
  const wantBits = Math.max(32, forms.size * BLOOM_BITS_PER_ANCHOR);
  const wordsLog2 = Math.min(MAX_BLOOM_WORDS_LOG2, Math.max(1, Math.ceil(Math.log2(wantBits / 32))));
  const index: Index = { hashes: new Set(), bits: new Uint32Array(1 << wordsLog2), wordShift: 32 - wordsLog2, byAnchor: forms, size: 0 };
  for (const [anchor, list] of forms) {
    const h = anchorHash(anchor, 0);
    index.hashes.add(h);
    index.bits[h >>> index.wordShift] |= filterBit(index, h);
    list.sort((a, b) => b.text.length - a.text.length);
    index.size += list.length;
  }
  return index;
}

export function createRedactor(values: Iterable<string>): Redactor {
  // Most invocations read nothing: no index is built for them.
  if (values[Symbol.iterator]().next().done) return NOTHING;
  const byView: Map<string, Form[]>[] = [new Map(), new Map(), new Map()];
  let longestForm = 0;
  let formChars = 0;
  const seen = new Set<string>();
  for (const value of values) {
    if (seen.has(value)) continue;
    seen.add(value);
    secretForms(value).forEach((forms, view) => {
      for (const text of forms) {
        const anchor = text.slice(0, ANCHOR);
        let list = byView[view].get(anchor);
        if (!list) byView[view].set(anchor, (list = []));
        if (list.some((f) => f.text === text)) continue;
        list.push({ text, base64: view === BASE64 });
        longestForm = Math.max(longestForm, text.length + (view === BASE64 ? 8 : 0));
        formChars += text.length;
      }
    });
  }
  const indexes = byView.map(buildIndex);
  if (indexes.every((i) => i.size === 0)) return NOTHING;

  return {
    empty: false,
    longestForm,
    text(s, keep = s.length) {
      if (s.length < ANCHOR) return s;
      const ranges = findRanges(s, indexes, BUDGET_PER_CHAR * s.length + formChars);
      if (ranges === undefined) return WITHHELD;
      if (ranges.length === 0) return keep >= s.length ? s : s.slice(0, keep);
      let out = '';
      let at = 0;
      for (let i = 0; i < ranges.length; i += 2) {
        const start = ranges[i];
        if (start >= keep) break;
        out += s.slice(at, start) + REDACTED;
        at = ranges[i + 1];
      }
      return at < keep ? out + s.slice(at, keep) : out;
    },
  };
}

const isBase64Char = (c: number) =>
  (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 43 || c === 47 || c === 45 || c === 95;

/** Merged [start, end) pairs of every match, in order; undefined when the budget ran out. */
function findRanges(s: string, indexes: Index[], budget: number): number[] | undefined {
  const views: (string | undefined)[] = [
    indexes[AS_IS].size > 0 ? s : undefined,
    indexes[BASE64].size > 0 ? base64Alphabet(s) : undefined,
    indexes[LOWER].size > 0 ? asciiLower(s) : undefined,
  ];
  const hashes = views.map((v) => (v === undefined ? 0 : anchorHash(v, 0)));
  const ranges: number[] = [];
  const last = s.length - ANCHOR;
  for (let p = 0; p <= last; p++) {
    if (p > 0) {
      for (let v = 0; v < 3; v++) {
        const t = views[v];
        if (t === undefined) continue;
        hashes[v] = (Math.imul(hashes[v], B) + t.charCodeAt(p + ANCHOR - 1) - Math.imul(t.charCodeAt(p - 1), B_TO_ANCHOR)) | 0;
      }
    }
    let end = -1;
    let start = p;
    for (let v = 0 as View; v < 3; v++) {
      const t = views[v];
      if (t === undefined) continue;
      const h = hashes[v];
      if (!inFilter(indexes[v], h) || !indexes[v].hashes.has(h)) continue;
      const list = indexes[v].byAnchor.get(t.slice(p, p + ANCHOR));
      if (!list) continue;
      for (const form of list) {
        budget -= form.text.length;
        if (budget < 0) return undefined;
        if (!t.startsWith(form.text, p)) continue;
        let a = p;
        let b = p + form.text.length;
        if (form.base64) {
          // The characters around the core carry some of the value's bits; padding ends it.
          for (let k = 0; k < 3 && a > 0 && isBase64Char(s.charCodeAt(a - 1)); k++) a--;
          for (let k = 0; k < 3 && b < s.length && isBase64Char(s.charCodeAt(b)); k++) b++;
          while (b < s.length && s.charCodeAt(b) === 61) b++;
        }
        if (b > end) end = b;
        if (a < start) start = a;
        break;
      }
    }
    if (end < 0) continue;
    const n = ranges.length;
    if (n > 0 && start <= ranges[n - 1]) {
      if (end > ranges[n - 1]) ranges[n - 1] = end;
      if (start < ranges[n - 2]) ranges[n - 2] = start;
    } else ranges.push(start, end);
  }
  return ranges;
}

/**
 * Redacts a JSON result and parses it. Usually the text stays valid JSON (each form is searched as
 * it appears inside a JSON string too); when a value also matched outside a string (say a secret
 * "12345678" returned as the number 12345678), the text no longer parses, and the parsed original
 * is walked instead, redacting strings, keys and the text of numbers. The caller has bounded the
 * result's depth, so the walk's recursion is bounded too.
 */
export function redactJsonResult(json: string, redactor: Redactor): unknown {
  if (redactor.empty) return JSON.parse(json);
  const redacted = redactor.text(json);
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
