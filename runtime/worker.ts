// A worker process: the only place isolates live. Started by pool.ts with child_process.fork.
//
// One isolate per (workspace, memoryMb), so an isolate never runs two workspaces' functions; kept
// warm and bounded (least recently used first out). Each deployed version's Script is compiled once
// per isolate; every invocation gets a fresh context, so nothing a function leaves on its global
// reaches the next one. An isolate that ran out of time or memory is disposed and replaced.
//
// Secret values pass through here on their way into the isolate, but secret reads are decided in
// the gateway: this process never holds the master key or any grant.
import ivm from 'isolated-vm';
import { BOOTSTRAP, BOOTSTRAP_FILENAME, FUNCTION_FILENAME, READ_ONE, SCRIPT_PREFIX, checkSecretRequest } from './bridge.ts';
import {
  MAX_LOG_BYTES, MAX_LOG_LINES, MAX_RESULT_BYTES, MAX_SCRIPTS_PER_ISOLATE, MAX_SECRET_CALLS,
} from './limits.ts';
import type { LogLine } from './errors.ts';
import type { FailureCode, FromWorker, ToWorker } from './protocol.ts';

type RunMessage = Extract<ToWorker, { t: 'run' }>;
type Done = { ok: true; r: string } | { ok: false; code: FailureCode; m: string; st?: string; line?: number; col?: number };

const maxIsolates = Math.max(1, Number(process.env.COFFER_MAX_ISOLATES) || 16);
const MAX_SOURCES = 512;
const LEVELS = new Set(['log', 'info', 'warn', 'error', 'debug']);
const RESET_BY_NEIGHBOUR = "the workspace's sandbox was reset because another invocation exceeded its limits";

interface Sandbox {
  key: string;
  isolate: ivm.Isolate;
  boot: Promise<ivm.Script>;
  scripts: Map<string, Promise<ivm.Script>>;
  active: number;
  /** Set when this process disposed the isolate on purpose (the invocation number that caused it). */
  resetBy?: number;
}

interface Invocation {
  i: number;
  answered: boolean;
  enter?: ivm.Reference<(...a: unknown[]) => unknown>;
  closed: boolean;
  timedOut: boolean;
  logs: LogLine[];
  logBytes: number;
  logFull: boolean;
  reads: number;
}

const sandboxes = new Map<string, Sandbox>();
const sources = new Map<string, string>();
const invocations = new Map<number, Invocation>();

const send = (m: FromWorker) => process.send!(m);

function sandboxFor(workspaceId: string, memoryMb: number): Sandbox {
  const key = `${memoryMb}:${workspaceId}`;
  let sb = sandboxes.get(key);
  if (sb && !sb.isolate.isDisposed) {
    sandboxes.delete(key); // re-insert: Map order is the LRU order
    sandboxes.set(key, sb);
    return sb;
  }
  const isolate = new ivm.Isolate({
    memoryLimit: memoryMb,
    // isolated-vm says the process must not continue after this; the pool restarts us.
    onCatastrophicError: (message) => {
      process.stderr.write(`coffer worker: isolated-vm catastrophic error: ${message}\n`);
      process.exit(70);
    },
  });
  sb = { key, isolate, boot: isolate.compileScript(BOOTSTRAP, { filename: BOOTSTRAP_FILENAME }), scripts: new Map(), active: 0 };
  sandboxes.set(key, sb);
  evictIdleSandboxes();
  return sb;
}

function evictIdleSandboxes(): void {
  for (const sb of sandboxes.values()) {
    if (sandboxes.size <= maxIsolates) return;
    if (sb.active === 0) retire(sb);
  }
}

function retire(sb: Sandbox, resetBy?: number): void {
  if (sandboxes.get(sb.key) === sb) sandboxes.delete(sb.key);
  if (resetBy !== undefined && sb.resetBy === undefined) sb.resetBy = resetBy;
  if (!sb.isolate.isDisposed) {
    try { sb.isolate.dispose(); } catch { /* already going */ }
  }
}

function scriptFor(sb: Sandbox, codeKey: string, source: string): Promise<ivm.Script> {
  let script = sb.scripts.get(codeKey);
  if (!script) {
    script = sb.isolate.compileScript(source, { filename: FUNCTION_FILENAME });
    script.catch(() => sb.scripts.delete(codeKey));
    sb.scripts.set(codeKey, script);
    if (sb.scripts.size > MAX_SCRIPTS_PER_ISOLATE) {
      const [oldKey, old] = sb.scripts.entries().next().value!;
      sb.scripts.delete(oldKey);
      old.then((s) => s.release(), () => {});
    }
  }
  return script;
}

function cpuNs(sb: Sandbox): bigint {
  try { return sb.isolate.cpuTime; } catch { return 0n; }
}

async function run(msg: RunMessage): Promise<void> {
  const source = msg.s ?? sources.get(msg.k);
  if (source === undefined) { send({ t: 'miss', i: msg.i }); return; }
  if (msg.s !== undefined && !msg.v) {
    sources.delete(msg.k);
    sources.set(msg.k, msg.s);
    if (sources.size > MAX_SOURCES) sources.delete(sources.keys().next().value!);
  }

  const inv: Invocation = { i: msg.i, answered: false, closed: false, timedOut: false, logs: [], logBytes: 0, logFull: false, reads: 0 };
  invocations.set(msg.i, inv);
  const deadline = Date.now() + msg.to;
  let sb: Sandbox | undefined;
  let cpu0 = 0n;
  const finish = (d: Done) => {
    if (inv.answered) return;
    inv.answered = true;
    const c = sb ? Number(cpuNs(sb) - cpu0) / 1e6 : 0;
    invocations.delete(msg.i);
    inv.closed = true;
    send({ t: 'done', i: msg.i, ...d, l: inv.logs, c: Math.max(0, c), rss: process.memoryUsage.rss() } as FromWorker);
  };
  const timer = setTimeout(() => {
    // isolated-vm's own timeout does not always fire while a promise is pending: dispose from here.
    inv.timedOut = true;
    if (sb) retire(sb, msg.i);
    finish({ ok: false, code: 'timeout', m: timeoutMessage(msg.to) });
  }, msg.to);

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
  try {
    sb = sandboxFor(msg.w, msg.mb);
    sb.active++;
    cpu0 = cpuNs(sb);
    const script = msg.v ? await sb.isolate.compileScript(source, { filename: FUNCTION_FILENAME }) : await scriptFor(sb, msg.k, source);
    context = await sb.isolate.createContext();
    const boot = await (await sb.boot).run(context, { reference: true });
    refs.push(boot);
    const enter = (await boot.apply(undefined, [readCb, logCb], { result: { reference: true } })) as ivm.Reference<any>;
    refs.push(enter);
    inv.enter = enter;
    const factory = await script.run(context, { reference: true });
    refs.push(factory);
    if (msg.v) script.release();
    const out = await enter.apply(undefined, [0, factory.derefInto(), msg.a, msg.v === true], {
      timeout: Math.max(1, deadline - Date.now()),
      result: { promise: true, copy: true },
    });
    finish(decode(String(out), msg.v === true));
  } catch (err) {
    finish(classify(err, sb, inv, msg, deadline));
  } finally {
    clearTimeout(timer);
    inv.closed = true;
    invocations.delete(msg.i);
    if (sb) sb.active--;
    // Every reference held here would keep the context alive: release them all with the context,
    // which drops every object the function created, including detached promises.
    for (const r of refs) try { r.release(); } catch { /* isolate gone */ }
    try { context?.release(); } catch { /* isolate gone */ }
  }
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

function classify(err: unknown, sb: Sandbox | undefined, inv: Invocation, msg: RunMessage, deadline: number): Done {
  const message = err instanceof Error ? err.message : String(err);
  // A neighbour's reset at (about) our own deadline is our timeout too: timers of one batch fire in turn.
  if (inv.timedOut || /timed out/i.test(message) || Date.now() >= deadline - 10) {
    if (sb) retire(sb, msg.i);
    return { ok: false, code: 'timeout', m: timeoutMessage(msg.to) };
  }
  if (/memory limit/i.test(message)) {
    if (sb) retire(sb, msg.i);
    return { ok: false, code: 'memory_limit', m: `the function exceeded its ${msg.mb} MB memory limit` };
  }
  if (sb?.isolate.isDisposed) {
    const byNeighbour = sb.resetBy !== undefined && sb.resetBy !== msg.i;
    retire(sb);
    if (byNeighbour) return { ok: false, code: 'worker_crashed', m: RESET_BY_NEIGHBOUR };
    return { ok: false, code: 'memory_limit', m: `the function exceeded its ${msg.mb} MB memory limit` };
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
  if (m.t === 'run') void run(m);
  else if (m.t === 'sec') onSecretAnswer(m);
});
// The gateway went away: nothing left to serve.
process.on('disconnect', () => process.exit(0));
send({ t: 'ready', pid: process.pid });
