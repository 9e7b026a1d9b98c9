// Where each key of a TOML document is written. smol-toml reports positions for syntax errors but
// not for values, so this small scanner walks the (already parsed, so valid) text once and records
// the line and column of every key path, table header and array element. A path it cannot place is
// reported at its nearest placed ancestor.
export type Path = (string | number)[];
export interface Position { line: number; column: number }

export function keyPositions(text: string): Map<string, Position> {
  const found = new Map<string, Position>();
  const arrayCounts = new Map<string, number>();
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const here = (): Position => ({ line, column: i - lineStart + 1 });
  const mark = (path: Path, at: Position) => { const k = pathKey(path); if (!found.has(k)) found.set(k, at); };
  const advance = () => { if (text[i] === '\n') { line++; lineStart = i + 1; } i++; };
  const skipSpace = (newlines: boolean) => {
    for (;;) {
      const c = text[i];
      if (c === ' ' || c === '\t' || c === '\r' || (newlines && c === '\n')) advance();
      else if (c === '#') { while (i < text.length && text[i] !== '\n') i++; }
      else return;
    }
  };
  const readString = (): string => {
    const q = text[i]!;
    const triple = text.startsWith(q.repeat(3), i);
    const close = triple ? q.repeat(3) : q;
    i += close.length;
    let out = '';
    while (i < text.length && !text.startsWith(close, i)) {
      if (q === '"' && text[i] === '\\') { out += text[i + 1] ?? ''; advance(); advance(); continue; }
      out += text[i];
      advance();
    }
    i += close.length;
    // `""""` ends a multi-line string with a quote in it.
    while (triple && text[i] === q) i++;
    return out;
  };
  const readKey = (): { parts: string[]; at: Position[] } => {
    const parts: string[] = [];
    const at: Position[] = [];
    for (;;) {
      skipSpace(false);
      at.push(here());
      if (text[i] === '"' || text[i] === "'") parts.push(readString());
      else { const s = i; while (i < text.length && /[A-Za-z0-9_-]/.test(text[i]!)) i++; parts.push(text.slice(s, i)); }
      skipSpace(false);
      if (text[i] !== '.') return { parts, at };
      i++;
    }
  };
  const readValue = (path: Path) => {
    skipSpace(false);
    const c = text[i];
    if (c === '{') {
      i++;
      for (;;) {
        skipSpace(true);
        if (text[i] === '}') { i++; return; }
        if (text[i] === ',') { i++; continue; }
        const key = readKey();
        key.parts.forEach((_, n) => mark([...path, ...key.parts.slice(0, n + 1)], key.at[n]!));
        skipSpace(false);
        i++; // '='
        readValue([...path, ...key.parts]);
      }
    } else if (c === '[') {
      i++;
      let index = 0;
      for (;;) {
        skipSpace(true);
        if (text[i] === ']') { i++; return; }
        if (text[i] === ',') { i++; continue; }
        mark([...path, index], here());
        readValue([...path, index]);
        index++;
      }
    } else if (c === '"' || c === "'") {
      readString();
    } else {
      while (i < text.length && !/[,\]}\n#]/.test(text[i]!)) i++;
    }
  };

  let table: Path = [];
  while (i < text.length) {
    skipSpace(true);
    if (i >= text.length) break;
    if (text[i] === '[') {
      const arrayTable = text[i + 1] === '[';
      const at = here();
      i += arrayTable ? 2 : 1;
      const key = readKey();
      i += arrayTable ? 2 : 1;
      key.parts.forEach((_, n) => mark(key.parts.slice(0, n + 1), key.at[n]!));
      table = key.parts;
      if (arrayTable) {
        const k = pathKey(table);
        const index = (arrayCounts.get(k) ?? -1) + 1;
        arrayCounts.set(k, index);
        table = [...table, index];
        mark(table, at);
      }
    } else {
      const key = readKey();
      key.parts.forEach((_, n) => mark([...table, ...key.parts.slice(0, n + 1)], key.at[n]!));
      skipSpace(false);
      i++; // '='
      readValue([...table, ...key.parts]);
    }
  }
  return found;
}

export const pathKey = (path: Path) => JSON.stringify(path.map(String));

/** The position of `path`, or of its nearest ancestor the scanner placed, or 1:1. */
export function positionOf(positions: Map<string, Position>, path: Path): Position {
  for (let n = path.length; n > 0; n--) {
    const p = positions.get(pathKey(path.slice(0, n)));
    if (p) return p;
  }
  return { line: 1, column: 1 };
}

/** `vaults.payments.secrets."db.password"`, `grants[0].vault`. */
export function formatPath(path: Path): string {
  return path.map((p, n) => typeof p === 'number' ? `[${p}]` : `${n === 0 ? '' : '.'}${/^[A-Za-z0-9_-]+$/.test(p) ? p : JSON.stringify(p)}`).join('');
}
