// A worker process: the only place isolates live. Started by pool.ts with child_process.fork.
//
// Each invocation has an isolate to itself, drawn from a small pool of warm isolates per
// (workspace, memoryMb) (see isolates.ts): an isolate never runs two workspaces' functions, and a
// function that loops or runs out of memory loses only its own isolate while its workspace's other
// invocations go on in theirs. Each deployed version's Script is compiled once per isolate; every
// invocation gets a fresh context, so nothing a function leaves on its global reaches the next one.
// An isolate that ran out of time or memory is disposed, never reused.
//
// Secret values pass through here on their way into the isolate, but secret reads are decided in
// the gateway: this process never holds the master key or any grant.
import ivm from 'isolated-vm';
import { BOOTSTRAP, BOOTSTRAP_FILENAME, FUNCTION_FILENAME, READ_ONE, SCRIPT_PREFIX, checkSecretRequest } from './bridge.ts';
import { createIsolatePool } from './isolates.ts';
import {
  MAX_LOG_BYTES, MAX_LOG_LINES, MAX_RESULT_BYTES, MAX_SCRIPTS_PER_ISOLATE, MAX_SECRET_CALLS,
} from './limits.ts';
import type { LogLine } from './errors.ts';
import type { FailureCode, FromWorker, ToWorker } from './protocol.ts';

type RunMessage = Extract<ToWorker, { t: 'run' }>;
type Done = { ok: true; r: string } | { ok: false; code: FailureCode; m: string; st?: string; line?: number; col?: number };

const envNumber = (name: string, fallback: number) => Math.max(1, Number(process.env[name]) || fallback);
const IDLE_MS = envNumber('COFFER_ISOLATE_IDLE_MS', 60_000);
const MAX_SOURCES = 512;
const LEVELS = new Set(['log', 'info', 'warn', 'error', 'debug']);

interface Sandbox {
  isolate: ivm.Isolate;
  boot: ivm.Script;
  scripts: Map<string, ivm.Script>;
}

interface Invocation {
  msg: RunMessage;
  /** The isolate pool key: memoryMb and workspace. */
  key: string;
  source: string;
  deadline: number;
  timer?: NodeJS.Timeout;
  sb?: Sandbox;
  cpu0: bigint;
  answered: boolean;
  enter?: ivm.Reference<(...a: unknown[]) => unknown>;
  closed: boolean;
  timedOut: boolean;
  logs: LogLine[];
  logBytes: number;
  logFull: boolean;
  reads: number;
}

const sandboxes = createIsolatePool<Sandbox>({
  perKey: envNumber('COFFER_ISOLATES_PER_WORKSPACE', 8),
  total: envNumber('COFFER_MAX_ISOLATES', 32),
  idleMs: IDLE_MS,
  create: createSandbox,
  dispose: disposeSandbox,
});
setInterval(() => sandboxes.sweep(), Math.min(10_000, IDLE_MS)).unref();

const sources = new Map<string, string>();
const invocations = new Map<number, Invocation>();
/** Invocations waiting for an isolate (their workspace, or the worker, is at its cap), oldest first. */
const waiting: Invocation[] = [];

const send = (m: FromWorker) => { if (process.connected) process.send!(m); };

function createSandbox(key: string): Sandbox {
  const isolate = new ivm.Isolate({
    memoryLimit: Number(key.slice(0, key.indexOf(':'))),
    // isolated-vm says the process must not continue after this; the pool restarts us.
    onCatastrophicError: (message) => {
      process.stderr.write(`coffer worker: isolated-vm catastrophic error: ${message}\n`);
      process.exit(70);
    },
  });
  return { isolate, boot: isolate.compileScriptSync(BOOTSTRAP, { filename: BOOTSTRAP_FILENAME }), scripts: new Map() };
}

function disposeSandbox(sb: Sandbox): void {
  if (sb.isolate.isDisposed) return;
  try { sb.isolate.dispose(); } catch { /* already going */ }
}

function scriptFor(sb: Sandbox, codeKey: string, source: string): ivm.Script {
  let script = sb.scripts.get(codeKey);
  if (!script) {
    script = sb.isolate.compileScriptSync(source, { filename: FUNCTION_FILENAME });
    sb.scripts.set(codeKey, script);
    if (sb.scripts.size > MAX_SCRIPTS_PER_ISOLATE) {
      const [oldKey, old] = sb.scripts.entries().next().value!;
      sb.scripts.delete(oldKey);
      old.release();
    }
  }
  return script;
}

function cpuNs(sb: Sandbox): bigint {
  try { return sb.isolate.cpuTime; } catch { return 0n; }
}

function receive(msg: RunMessage): void {
  const source = msg.s ?? sources.get(msg.k);
  if (source === undefined) { send({ t: 'miss', i: msg.i }); return; }
  if (msg.s !== undefined && !msg.v) {
    sources.delete(msg.k);
    sources.set(msg.k, msg.s);
    if (sources.size > MAX_SOURCES) sources.delete(sources.keys().next().value!);
  }
  const inv: Invocation = {
    msg, key: `${msg.mb}:${msg.w}`, source, deadline: Date.now() + msg.to, cpu0: 0n,
    answered: false, closed: false, timedOut: false, logs: [], logBytes: 0, logFull: false, reads: 0,
  };
  inv.timer = setTimeout(() => {
    // isolated-vm's own timeout does not always fire while a promise is pending: dispose from here.
    inv.timedOut = true;
    if (inv.sb) disposeSandbox(inv.sb);
    else waiting.splice(waiting.indexOf(inv), 1);
    finish(inv, { ok: false, code: 'timeout', m: timeoutMessage(msg.to) });
  }, msg.to);
  invocations.set(msg.i, inv);
  waiting.push(inv);
  admit();
}

/** Starts each waiting invocation that an isolate is free for, oldest first. */
function admit(): void {
  for (let n = 0; n < waiting.length; n++) {
    const inv = waiting[n];
    let sb: Sandbox | undefined;
    try {
      sb = sandboxes.acquire(inv.key);
    } catch {
      waiting.splice(n--, 1);
      finish(inv, { ok: false, code: 'worker_crashed', m: 'the worker could not create a sandbox' });
      continue;
    }
    if (!sb) continue;
    waiting.splice(n--, 1);
    void run(inv, sb);
  }
}

function finish(inv: Invocation, d: Done): void {
  if (inv.answered) return;
  inv.answered = true;
  inv.closed = true;
  clearTimeout(inv.timer);
  invocations.delete(inv.msg.i);
  const c = inv.sb ? Number(cpuNs(inv.sb) - inv.cpu0) / 1e6 : 0;
  send({ t: 'done', i: inv.msg.i, ...d, l: inv.logs, c: Math.max(0, c), rss: residentSetSize() } as FromWorker);
}

/** The gateway recycles a worker by RSS; reading it costs about 12 us, so it is read at most every 100 ms. */
let rss = { bytes: 0, at: -Infinity };
function residentSetSize(): number {
  const now = performance.now();
  if (now - rss.at >= 100) rss = { bytes: process.memoryUsage.rss(), at: now };
  return rss.bytes;
}

async function run(inv: Invocation, sb: Sandbox): Promise<void> {
  const { msg } = inv;
  inv.sb = sb;
  inv.cpu0 = cpuNs(sb);
  const readCb = new ivm.Callback((id: number, kind: number, vault: unknown, names: unknown) => {
    if (inv.closed) return 'Esecret reads are closed: the invocation has ended';
    const refusal = checkSecretRequest(kind, vault, names);
    if (refusal !== undefined) return refusal;
    if (msg.v) return 'Esecrets cannot be read while a function is being validated';
    if (++inv.reads > MAX_SECRET_CALLS) return `Eat most ${MAX_SECRET_CALLS} secret reads per invocation`;
    send({ t: 'sec', i: msg.i, r: id, v: vault as string, n: kind === READ_ONE ? [names as string] : (names as string[]) });
    return undefined;
  });
  const logCb = new ivm.Callback((level: unknown, message: unknown) => captureLog(inv, level, message));

  let context: ivm.Context | undefined;
  const refs: { release(): void }[] = [];
  let done: Done;
  try {
    // The isolate is this invocation's alone and no user code runs before enter(): the synchronous
    // calls are safe here, and save a round trip to the isolate's thread each.
    const script = msg.v
      ? sb.isolate.compileScriptSync(inv.source, { filename: FUNCTION_FILENAME })
      : scriptFor(sb, msg.k, inv.source);
    context = sb.isolate.createContextSync();
    const boot = sb.boot.runSync(context, { reference: true });
    refs.push(boot);
    const enter = boot.applySync(undefined, [readCb, logCb], { result: { reference: true } }) as ivm.Reference<any>;
    refs.push(enter);
    inv.enter = enter;
    // Only a script not made by compileFunction could run code here; the timeout still bounds it.
    const factory = script.runSync(context, { reference: true, timeout: Math.max(1, inv.deadline - Date.now()) });
    refs.push(factory);
    if (msg.v) script.release();
    const out = await enter.apply(undefined, [0, factory.derefInto(), msg.a, msg.v === true], {
      timeout: Math.max(1, inv.deadline - Date.now()),
      result: { promise: true, copy: true },
    });
    done = decode(String(out), msg.v === true);
  } catch (err) {
    done = classify(err, inv);
  }
  inv.closed = true;
  // Every reference held here would keep the context alive: release them all with the context,
  // which drops every object the function created, including detached promises.
  for (const r of refs) try { r.release(); } catch { /* isolate gone */ }
  try { context?.release(); } catch { /* isolate gone */ }
  finish(inv, done);
  const healthy = !inv.timedOut && !sb.isolate.isDisposed && (done.ok || (done.code !== 'timeout' && done.code !== 'memory_limit'));
  sandboxes.release(inv.key, sb, healthy);
  admit();
}

function timeoutMessage(ms: number): string {
  return `the function did not finish within its ${ms} ms timeout`;
}

function captureLog(inv: Invocation, level: unknown, message: unknown): boolean {
  if (inv.closed || inv.logFull) return false;
  let text = typeof message === 'string' ? message : String(message);
  // A logged error's stack names the bootstrap's frames; they are not the user's code.
  if (text.includes(BOOTSTRAP_FILENAME)) text = text.split('\n').filter((l) => !l.includes(BOOTSTRAP_FILENAME)).join('\n');
  const bytes = Buffer.byteLength(text);
  if (inv.logs.length >= MAX_LOG_LINES || inv.logBytes + bytes > MAX_LOG_BYTES) {
    inv.logFull = true;
    inv.logs.push({
      level: 'warn',
      message: `[log output truncated: a function may log ${MAX_LOG_LINES} lines or ${MAX_LOG_BYTES / 1024} KiB]`,
      at: new Date().toISOString(),
    });
    return false;
  }
  inv.logBytes += bytes;
  inv.logs.push({ level: (LEVELS.has(level as string) ? level : 'log') as LogLine['level'], message: text, at: new Date().toISOString() });
  return true;
}

/** Decodes the string the bootstrap's run() resolved to (format documented in bridge.ts). */
function decode(out: string, validateOnly: boolean): Done {
  const body = out.slice(1);
  switch (out[0]) {
    case 'r':
      if (Buffer.byteLength(body) > MAX_RESULT_BYTES) return tooLarge(Buffer.byteLength(body));
      return { ok: true, r: body };
    case 'L': return tooLarge(Number(body));
    case 'x': return { ok: false, code: 'invalid_result', m: body };
    case 'v': return { ok: true, r: 'null' };
    case 'n':
      return validateOnly
        ? { ok: false, code: 'not_callable', m: `the default export must be a function, got ${body}` }
        : { ok: false, code: 'function_error', m: `the default export is not a function (got ${body})` };
    case 'e': {
      const [nameLen, messageLen] = body.split(':', 2).map(Number);
      const start = String(nameLen).length + String(messageLen).length + 2;
      const name = body.slice(start, start + nameLen);
      const message = body.slice(start + nameLen, start + nameLen + messageLen);
      const stack = sandboxStack(body.slice(start + nameLen + messageLen));
      const at = /function\.js:(\d+):(\d+)/.exec(stack);
      return {
        ok: false, code: 'function_error', m: message || name, st: stack || undefined,
        ...(at ? { line: Number(at[1]), col: Number(at[2]) } : {}),
      };
    }
    default: return { ok: false, code: 'function_error', m: 'the function returned no result' };
  }
}

const tooLarge = (bytes: number): Done => ({
  ok: false, code: 'result_too_large', m: `the result is ${bytes} bytes as JSON; the limit is ${MAX_RESULT_BYTES} bytes`,
});

/**
 * Keeps only frames of the user's code and of built-ins: the bootstrap's frames go, and columns on
 * line 1 are shifted back by the wrapper prefix so that they point into the user's source.
 */
function sandboxStack(stack: string): string {
  if (!stack) return '';
  const lines = stack.split('\n');
  const kept: string[] = [];
  for (const line of lines) {
    if (!/^\s+at /.test(line)) { kept.push(line); continue; }
    if (line.includes(BOOTSTRAP_FILENAME)) continue;
    if (line.includes(`${FUNCTION_FILENAME}:`)) {
      kept.push(line.replace(/function\.js:1:(\d+)/g, (_, c) => `function.js:1:${Math.max(1, Number(c) - SCRIPT_PREFIX.length)}`));
    } else if (/\((<anonymous>|native|index \d+)\)$/.test(line) || /^\s+at [\w$.<>\[\] ]+$/.test(line)) {
      kept.push(line);
    }
  }
  return kept.join('\n');
}

function classify(err: unknown, inv: Invocation): Done {
  const message = err instanceof Error ? err.message : String(err);
  if (inv.timedOut || /timed out/i.test(message)) return { ok: false, code: 'timeout', m: timeoutMessage(inv.msg.to) };
  // isolated-vm disposes an isolate that runs out of memory; nothing else here disposes a busy one.
  if (/memory limit/i.test(message) || inv.sb?.isolate.isDisposed) {
    return { ok: false, code: 'memory_limit', m: `the function exceeded its ${inv.msg.mb} MB memory limit` };
  }
  // Anything else escaped the bootstrap's own error handling (a compile error in a hand-made script,
  // a stack overflow inside the error handler): report the message only, never a host stack.
  return { ok: false, code: 'function_error', m: message.slice(0, 4096) };
}

function onSecretAnswer(m: Extract<ToWorker, { t: 'sec' }>): void {
  const inv = invocations.get(m.i);
  if (!inv || inv.closed || !inv.enter) return;
  inv.enter.apply(undefined, [1, m.r, m.s, m.x ?? []], { arguments: { copy: true } }).catch(() => {});
}

process.on('message', (m: ToWorker) => {
  if (m.t === 'run') receive(m);
  else if (m.t === 'sec') onSecretAnswer(m);
});
// The gateway went away: nothing left to serve. ('error' on process only comes from the IPC channel,
// e.g. EPIPE for a message sent as the gateway closed.)
process.on('disconnect', () => process.exit(0));
process.on('error', () => process.exit(0));
send({ t: 'ready', pid: process.pid });
