// Everything the CLI prints goes through here: JSON for scripts (--json), aligned tables and
// sentences for people, colour only on a TTY and never with NO_COLOR, warnings and progress on
// stderr. Secret values the process has handled are masked in all of it, except in reveal().
import { styleText } from 'node:util';

export const MASK = '********';
/** Values shorter than this are not masked: masking "a" would garble every line. */
const MIN_MASKED_LENGTH = 3;

type Style = Parameters<typeof styleText>[0];
export interface Column<T> { header: string; value: (row: T) => unknown }

export interface OutputOptions {
  json: boolean;
  debug: boolean;
  stdout?: NodeJS.WriteStream;
  stderr?: NodeJS.WriteStream;
}

export class Output {
  readonly json: boolean;
  readonly debug: boolean;
  private readonly out: NodeJS.WriteStream;
  private readonly err: NodeJS.WriteStream;
  private readonly secrets = new Set<string>();

  constructor(options: OutputOptions) {
    this.json = options.json;
    this.debug = options.debug;
    this.out = options.stdout ?? process.stdout;
    this.err = options.stderr ?? process.stderr;
  }

  /** Remember a value so that nothing printed later shows it. */
  mask(value: string) {
    if (value.length >= MIN_MASKED_LENGTH) this.secrets.add(value);
  }

  redact(text: string): string {
    if (this.secrets.size === 0) return text;
    // Longest first, so a value containing another is masked whole. Plain split/join: a secret
    // must never become a regular expression.
    for (const value of [...this.secrets].sort((a, b) => b.length - a.length)) text = text.split(value).join(MASK);
    return text;
  }

  /** The machine-readable result of a command: one JSON document on stdout. */
  result(value: unknown) {
    this.out.write(this.redact(JSON.stringify(value, null, 2)) + '\n');
  }

  /** Prints `value` as JSON under --json, or runs the human rendering. */
  emit(value: unknown, human: () => void) {
    if (this.json) this.result(value);
    else human();
  }

  line(text = '') {
    this.out.write(this.redact(text) + '\n');
  }

  /** A value the user asked to see (--reveal): never masked; `raw` adds no newline. */
  reveal(value: string, raw: boolean) {
    this.out.write(raw ? value : value + '\n');
  }

  warn(text: string) {
    this.err.write(this.style('yellow', 'warning:', this.err) + ' ' + this.redact(text) + '\n');
  }

  note(text: string) {
    this.err.write(this.redact(text) + '\n');
  }

  error(err: { code: string; message: string; requestId: string | null; details?: unknown }, stack?: string) {
    if (this.json) {
      this.err.write(this.redact(JSON.stringify({ error: err })) + '\n');
    } else {
      const where = err.requestId ? ` (request id ${err.requestId})` : '';
      this.err.write(`${this.style('red', 'error:', this.err)} ${this.redact(err.message)} [${err.code}]${where}\n`);
    }
    if (this.debug && stack) this.err.write(this.redact(stack) + '\n');
  }

  bold(text: string) { return this.style('bold', text, this.out); }
  dim(text: string) { return this.style('dim', text, this.out); }

  private style(format: Style, text: string, stream: NodeJS.WriteStream) {
    // styleText checks the stream is a TTY and honours NO_COLOR / FORCE_COLOR.
    return styleText(format, text, { stream });
  }

  table<T>(rows: T[], columns: Column<T>[], empty = '(none)') {
    if (rows.length === 0) { this.line(this.dim(empty)); return; }
    const cells = rows.map((row) => columns.map((c) => cell(c.value(row))));
    const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => r[i]!.length)));
    const render = (values: string[]) => values.map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i]!))).join('  ').trimEnd();
    this.line(this.bold(render(columns.map((c) => c.header.toUpperCase()))));
    for (const r of cells) this.line(render(r));
  }

  /** key: value lines for one record. */
  record(fields: [string, unknown][]) {
    const width = Math.max(...fields.map(([k]) => k.length));
    for (const [k, v] of fields) this.line(`${this.dim(k.padEnd(width))}  ${cell(v)}`);
  }

  /** A counter on stderr for long operations; shown only on a TTY and never under --json. */
  progress(label: string, total?: number) {
    const live = Boolean(this.err.isTTY) && !this.json;
    let last = 0;
    const draw = (n: number) => { this.err.write(`\r${label} ${total ? `${n}/${total}` : n}`); };
    return {
      tick: (n: number) => { last = n; if (live) draw(n); },
      done: () => { if (live) { draw(last); this.err.write('\n'); } },
    };
  }
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return '-';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v === 'object') return JSON.stringify(v);
  // Tables stay one line per row.
  return String(v).replace(/[\r\n\t]+/g, ' ');
}
