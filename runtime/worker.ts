// A worker process: the only place isolates live. Started by pool.ts with child_process.fork.
//
// Each invocation has an isolate to itself, drawn from a small pool of warm isolates per
// (workspace, memoryMb) (see isolates.ts): an isolate never runs two workspaces' functions, and a
// function that loops or runs out of memory loses only its own isolate while its workspace's other
// invocations go on in theirs. Each deployed version's Script is compiled once per isolate; every
// invocation gets a fresh context, so nothing a function leaves on its global reaches the next one,
// except that a pipeline run's invocations share one (see RunShare): they are one program's parts.
// An isolate that ran out of time or memory is disposed, never reused.
//
// Nothing here waits on guest code: every isolated-vm call that can run user code is asynchronous
// (a *Sync call would block this thread, and every other tenant's invocation on it, while the
// isolate is busy), and an isolate is pooled again only if a call to its thread, made after the
// answer, comes back within ISOLATE_IDLE_CHECK_MS, proving nothing the function left behind is still
// running (a pipeline run's isolate is checked once the run has answered; until then the run holds it).
// The per-invocation setup (the bootstrap, evaluating the compiled script to its function) is
// synchronous: it runs no guest code, on an isolate the invocation holds alone and that was proven
// idle when it was pooled. The proof is the isolate's next context: after each answer, a fresh
// context is made asynchronously on the isolate's thread, and only if it comes back in time is the
// isolate pooled again, with that context (bootstrapped) as its spare. Still one fresh context per
// invocation, made before it was asked for, with one hop to the isolate's thread where a separate
// no-op check and an ahead-of-time context took four.
//
// Secret values pass through here on their way into the isolate, but secret reads are decided in
// the gateway: this process never holds the master key or any grant. Because the values pass
// through here anyway, redaction happens here too (redact.ts), off the gateway's thread and before
// anything is cut.
import ivm from 'isolated-vm';
import { BOOTSTRAP, BOOTSTRAP_FILENAME, FUNCTION_FILENAME, READ_ONE, READ_REFUSED, SCRIPT_PREFIX, checkSecretRequest } from './bridge.ts';
import { createIsolatePool } from './isolates.ts';
import { createPipelineRuns } from './pipeline-worker.ts';
import { DEFAULT_WORKER_NICE, lowerPriority } from './priority.ts';
import {
  ISOLATE_CUT_MARGIN, ISOLATE_IDLE_CHECK_MS, MAX_ERROR_MESSAGE_CHARS, MAX_ERROR_NAME_CHARS, MAX_ERROR_STACK_CHARS,
  MAX_LOG_BYTES, MAX_LOG_LINES, MAX_RESULT_BYTES, MAX_RESULT_DEPTH, MAX_SCRIPTS_PER_ISOLATE, MAX_SECRET_CALLS,
} from './limits.ts';
import { createRedactor, redactJsonResult, type Redactor } from './redact.ts';
import type { LogLine } from './errors.ts';
import type { FailureCode, FromWorker, IsolateCounts, ToWorker, WorkerTimes } from './protocol.ts';

type RunMessage = Extract<ToWorker, { t: 'run' }>;
type Done = { ok: true; r: string } | { ok: false; code: FailureCode; m: string; st?: string; line?: number; col?: number };
/** What the isolate produced, before redaction: a raw result or raw error texts. */
type Raw =
  | { ok: true; json: string }
  | { ok: false; code: FailureCode; m: string; mMax: number; st?: string; fixed?: boolean };

const envNumber = (name: string, fallback: number) => Math.max(1, Number(process.env[name]) || fallback);
const IDLE_MS = envNumber('COFFER_ISOLATE_IDLE_MS', 60_000);
// Below the gateway (see priority.ts); before any isolate's thread starts, so they all inherit it.
lowerPriority(Number(process.env.COFFER_WORKER_NICE ?? DEFAULT_WORKER_NICE));
const MAX_SOURCES = 512;
const LEVELS = new Set(['log', 'info', 'warn', 'error', 'debug']);

interface Sandbox {
  isolate: ivm.Isolate;
  boot: ivm.Script;
  scripts: Map<string, ivm.Script>;
  /** A fresh context with the bootstrap run, made when the isolate was pooled (every pooled one has it), for its next invocation. */
  spare?: Prepared;
}

/**
 * A fresh context and its bootstrap, not yet anyone's. Made ahead of time (see settle), it takes
 * the context's creation off the invocation's path; it serves one invocation, or one pipeline run's
 * invocations in turn, and `slot` names the one it serves (the host callbacks answer nobody before
 * the first takes it; an invocation that has ended is refused, its reads closed).
 */
interface Prepared {
  context: ivm.Context;
  refs: { release(): void }[];
  enter: ivm.Reference<(...a: unknown[]) => unknown>;
  slot: { inv?: Invocation };
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
  /** Log lines as captured, unredacted; `cut` when the isolate cut the line short. */
  logs: (LogLine & { cut: boolean })[];
  logChars: number;
  logFull: boolean;
  reads: number;
  /** Every secret value passed into the isolate: what redaction looks for. */
  values: Set<string>;
  /** Indexes of the prefetched reads (msg.pf) the function made. */
  used: Set<number>;
  /** Where this invocation's messages go: the gateway, or the pipeline run (pipeline-worker.ts) that started it. */
  out: (m: FromWorker) => void;
  /** performance.now() at receipt, and when an isolate was free for it (for the stage metrics). */
  receivedAt: number;
  admittedAt: number;
  /** Secret requests sent and not answered yet, since when some have been, and the time spent so. */
  readsOut: number;
  readsOutSince: number;
  readWaitMs: number;
  /** Set when it answered holding an isolate: whether that isolate was expected back in the pool (see settling). */
  settle?: boolean;
  /** A pipeline run's invocation: the run's contexts (see RunShare), and the one it took from them. */
  share?: RunShare;
  held?: Held;
  /** A read was answered into the isolate: its code may have gone on in a task after the one that started it. */
  enteredAgain: boolean;
}

const sandboxes = createIsolatePool<Sandbox>({
  perKey: envNumber('COFFER_ISOLATES_PER_WORKSPACE', 8),
  total: envNumber('COFFER_MAX_ISOLATES', 32),
  idleMs: IDLE_MS,
  create: createSandbox,
  dispose: disposeSandbox,
});
setInterval(() => { if (sandboxes.sweep() > 0) reportIsolates(); }, Math.min(10_000, IDLE_MS)).unref();

/**
 * Isolates whose invocation has answered but that are not back in the pool yet (the idle check runs
 * after the answer), by how they are expected to end: pooled again (good) or disposed (bad). Counted
 * so, an answer does not report its own isolate as still running.
 */
const settling = { good: 0, bad: 0 };
/** How stale the gateway's isolate counts may get while invocations run (see the interval below). */
const ISOLATE_REPORT_MS = 1000;

/** What the gateway is told (protocol.ts IsolateCounts): cheap, a few additions. */
function isolateCounts(): IsolateCounts {
  const { active, idle } = sandboxes.counts();
  return [Math.max(0, active - settling.good - settling.bad), idle + settling.good];
}

/** For a change no answer carries: rare (a sweep that disposed something, an isolate that did not end as its answer said). */
function reportIsolates(): void {
  send({ t: 'iso', iso: isolateCounts() });
}

/** Whether an isolate is fit to be pooled again after its invocation, short of the idle check. */
function reusable(inv: Invocation, sb: Sandbox, raw: Raw): boolean {
  return !inv.timedOut && !sb.isolate.isDisposed && (raw.ok || (raw.code !== 'timeout' && raw.code !== 'memory_limit'));
}

/**
 * A pipeline run's contexts (see pipeline-worker.ts). A run's invocations come one after another,
 * and each hands its context, with the isolate it lives in, to the run's next invocation of the same
 * isolate key instead of giving it back: a run's steps share one global object (per memory size),
 * as the modules of one program do, while each invocation still evaluates its function afresh (its
 * own module scope) and has its own reads, logs, caps and timeout. Only once the run has answered is
 * the context dropped and the isolate checked and pooled (see settle), so no other run, and no other
 * invocation, ever meets it. A context costs its isolate's thread about 0.15 ms to make (V8
 * deserializing a native context), more than the call into it: made once per step, it was most of
 * what a step cost.
 */
interface RunShare {
  /** The run has answered: nothing more is held for it. */
  closed: boolean;
  held: Map<string, Held>;
}

/**
 * A context a run holds, and its isolate; `busy` while one of the run's invocations runs in it.
 * `idle`: the isolate's thread was known idle when the last invocation answered (see run).
 */
interface Held { sb: Sandbox; prepared: Prepared; busy: boolean; idle: boolean }

const openRuns = new Set<RunShare>();

function openRun(answered: Promise<void>): RunShare {
  const share: RunShare = { closed: false, held: new Map() };
  openRuns.add(share);
  void answered.then(() => {
    share.closed = true;
    openRuns.delete(share);
    dropIdle(share);
  });
  return share;
}

/** The run's contexts that none of its invocations is using go (a busy one goes when its invocation ends: see run). */
function dropIdle(share: RunShare): void {
  for (const [key, held] of share.held) if (!held.busy) dropHeld(share, key, held);
}

/** A held context goes, and its isolate is checked and pooled. Counted as expected back (its last answer said so). */
function dropHeld(share: RunShare, key: string, held: Held): void {
  share.held.delete(key);
  releaseContext(held.prepared);
  void giveBack(key, held.sb, !held.sb.isolate.isDisposed, true);
}

/**
 * When an invocation finds no isolate free, every context runs hold and are not using goes: no run
 * waits on isolates held by itself or by runs that wait in turn.
 */
function dropIdleHeld(): void {
  for (const share of openRuns) dropIdle(share);
}

const sources = new Map<string, string>();
const invocations = new Map<number, Invocation>();
/** Invocations waiting for an isolate (their workspace, or the worker, is at its cap), oldest first. */
const waiting: Invocation[] = [];

/**
 * Messages sent in one turn of the event loop go as one IPC write (one wake-up of the gateway); order
 * is kept. With at most one invocation or run here, nothing else would join the write: it goes at
 * once, without waiting for the turn to end (at concurrency 1 that wait was 0.1-0.2 ms per message).
 */
let outbox: FromWorker[] = [];
const send = (m: FromWorker) => {
  outbox.push(m);
  if (invocations.size <= 1 && pipelines.active <= 1) flushOutbox();
  else if (outbox.length === 1) setImmediate(flushOutbox);
};
function flushOutbox(): void {
  if (outbox.length === 0) return;
  const batch = outbox;
  outbox = [];
  if (process.connected) process.send!(batch.length === 1 ? batch[0] : batch);
}

function createSandbox(key: string): Sandbox {
  const isolate = new ivm.Isolate({
    memoryLimit: Number(key.slice(0, key.indexOf(':'))),
    // isolated-vm says the process must not continue after this; the pool restarts us. The message
    // is not printed: it may quote guest data.
    onCatastrophicError: () => {
      process.stderr.write('coffer worker: isolated-vm reported a catastrophic error; exiting\n');
      process.exit(70);
    },
  });
  // A synchronous compile is safe here: no user code has run in this isolate yet.
  return { isolate, boot: isolate.compileScriptSync(BOOTSTRAP, { filename: BOOTSTRAP_FILENAME }), scripts: new Map() };
}

function disposeSandbox(sb: Sandbox): void {
  if (sb.isolate.isDisposed) return;
  try { sb.isolate.dispose(); } catch { /* already going */ }
}

async function scriptFor(sb: Sandbox, codeKey: string, source: string): Promise<ivm.Script> {
  let script = sb.scripts.get(codeKey);
  if (!script) {
    script = await sb.isolate.compileScript(source, { filename: FUNCTION_FILENAME });
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

function receive(msg: RunMessage, out: (m: FromWorker) => void = send, share?: RunShare): void {
  const source = msg.s ?? sources.get(msg.k);
  if (source === undefined) { out({ t: 'miss', i: msg.i }); return; }
  if (msg.s !== undefined && !msg.v) {
    sources.delete(msg.k);
    sources.set(msg.k, msg.s);
    if (sources.size > MAX_SOURCES) sources.delete(sources.keys().next().value!);
  }
  const inv: Invocation = {
    msg, key: `${msg.mb}:${msg.w}`, source, deadline: Date.now() + msg.to, cpu0: 0n,
    answered: false, closed: false, timedOut: false, logs: [], logChars: 0, logFull: false, reads: 0, values: new Set(), used: new Set(), out,
    receivedAt: performance.now(), admittedAt: 0, readsOut: 0, readsOutSince: 0, readWaitMs: 0, share, enteredAgain: false,
  };
  inv.timer = setTimeout(() => {
    // isolated-vm's own timeout does not always fire while a promise is pending: dispose from here.
    inv.timedOut = true;
    if (inv.sb) disposeSandbox(inv.sb);
    else waiting.splice(waiting.indexOf(inv), 1);
    finish(inv, { ok: false, code: 'timeout', m: timeoutMessage(msg.to), mMax: MAX_ERROR_MESSAGE_CHARS, fixed: true });
  }, msg.to);
  invocations.set(msg.i, inv);
  waiting.push(inv);
  admit();
}

/** Starts each waiting invocation that an isolate is free for, oldest first. */
function admit(): void {
  for (let n = 0; n < waiting.length; n++) {
    const inv = waiting[n];
    let sb = takeHeld(inv)?.sb;
    if (!sb) {
      try {
        sb = sandboxes.acquire(inv.key);
      } catch {
        waiting.splice(n--, 1);
        finish(inv, { ok: false, code: 'worker_crashed', m: 'the worker could not create a sandbox', mMax: MAX_ERROR_MESSAGE_CHARS, fixed: true });
        continue;
      }
      if (!sb) {
        dropIdleHeld();
        continue;
      }
    }
    waiting.splice(n--, 1);
    void run(inv, sb);
  }
}

/** The context the invocation's run holds for its key, if free and alive: taken for it. */
function takeHeld(inv: Invocation): Held | undefined {
  const held = inv.share?.held.get(inv.key);
  if (!held || held.busy) return undefined;
  if (held.sb.isolate.isDisposed) {
    dropHeld(inv.share!, inv.key, held);
    return undefined;
  }
  held.busy = true;
  settling.good--; // counted as idle when its last invocation answered; running again now
  inv.held = held;
  return held;
}

function finish(inv: Invocation, raw: Raw): void {
  if (inv.answered) return;
  inv.answered = true;
  inv.closed = true;
  clearTimeout(inv.timer);
  invocations.delete(inv.msg.i);
  const c = inv.sb ? Number(cpuNs(inv.sb) - inv.cpu0) / 1e6 : 0;
  const redactStart = performance.now();
  const redactor = createRedactor(inv.values);
  const done = redactDone(raw, redactor, inv.msg);
  const l = redactLogs(inv, redactor);
  const end = performance.now();
  if (inv.readsOut > 0) inv.readWaitMs += redactStart - inv.readsOutSince;
  const tm: WorkerTimes = [(inv.admittedAt || redactStart) - inv.receivedAt, inv.readWaitMs, end - redactStart, end - inv.receivedAt];
  if (inv.sb) {
    inv.settle = reusable(inv, inv.sb, raw);
    settling[inv.settle ? 'good' : 'bad']++;
  }
  inv.out({
    t: 'done', i: inv.msg.i, ...done, l, c: Math.max(0, c), rss: residentSetSize(), tm, iso: isolateCounts(),
    ...(inv.msg.pf ? { pu: [...inv.used] } : {}),
  } as FromWorker);
}

/**
 * Redacts a text the isolate may have cut ISOLATE_CUT_MARGIN past `max` (so a value may straddle
 * its end): the part that may hold a value's beginning is dropped with it, then the text is cut to `max`.
 */
function clean(redactor: Redactor, text: string, max: number): string {
  const cutShort = text.length >= max + ISOLATE_CUT_MARGIN;
  const redacted = redactor.text(text, cutShort ? Math.max(0, text.length - redactor.longestForm) : text.length);
  return redacted.length > max ? redacted.slice(0, max) : redacted;
}

function redactDone(raw: Raw, redactor: Redactor, msg: RunMessage): Done {
  if (!raw.ok) {
    const m = raw.fixed ? raw.m : clean(redactor, raw.m, raw.mMax);
    const st = raw.st ? sandboxStack(clean(redactor, raw.st, MAX_ERROR_STACK_CHARS)) : '';
    const at = /function\.js:(\d+):(\d+)/.exec(st);
    return {
      ok: false, code: raw.code, m, ...(st ? { st } : {}),
      ...(raw.code === 'function_error' && at ? { line: Number(at[1]), col: Number(at[2]) } : {}),
    };
  }
  if (tooDeep(raw.json)) {
    return { ok: false, code: 'invalid_result', m: `the result is nested more than ${MAX_RESULT_DEPTH} levels deep` };
  }
  let json = raw.json;
  if (!msg.e && !redactor.empty) {
    try {
      json = JSON.stringify(redactJsonResult(json, redactor));
    } catch {
      return { ok: false, code: 'invalid_result', m: 'the result is not valid JSON' };
    }
  }
  const bytes = Buffer.byteLength(json);
  return bytes > MAX_RESULT_BYTES ? tooLarge(bytes) : { ok: true, r: json };
}

/** True when JSON text nests arrays and objects deeper than MAX_RESULT_DEPTH (the gateway's JSON.stringify would overflow). */
function tooDeep(json: string): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 || c === 123) { if (++depth > MAX_RESULT_DEPTH) return true; }
    else if (c === 93 || c === 125) depth--;
  }
  return false;
}

/** Redacts each captured line, then applies the line and byte budgets to what redaction left. */
function redactLogs(inv: Invocation, redactor: Redactor): LogLine[] {
  const out: LogLine[] = [];
  let bytes = 0;
  let full = inv.logFull;
  for (const l of inv.logs) {
    const message = clean(redactor, l.message, l.cut ? MAX_LOG_BYTES : Infinity);
    const b = Buffer.byteLength(message);
    if (out.length >= MAX_LOG_LINES || bytes + b > MAX_LOG_BYTES) { full = true; break; }
    bytes += b;
    out.push({ level: l.level, message, at: l.at });
  }
  if (full) {
    out.push({
      level: 'warn',
      message: `[log output truncated: a function may log ${MAX_LOG_LINES} lines or ${MAX_LOG_BYTES / 1024} KiB]`,
      at: new Date().toISOString(),
    });
  }
  return out;
}

/** The gateway recycles a worker by RSS; reading it costs about 12 us, so it is read at most every 100 ms. */
let rss = { bytes: 0, at: -Infinity };
function residentSetSize(): number {
  const now = performance.now();
  if (now - rss.at >= 100) rss = { bytes: process.memoryUsage.rss(), at: now };
  return rss.bytes;
}

/** The host callbacks of one context: they answer nobody until an invocation takes the context. */
function callbacks(slot: { inv?: Invocation }) {
  return [
    // Ignored: the isolate goes on at once instead of waiting for this thread; a refusal is an answer like any other.
    new ivm.Callback((id: number, kind: number, vault: unknown, names: unknown) => {
      const inv = slot.inv;
      if (!inv) return;
      const refusal = requestRead(inv, id, kind, vault, names);
      if (refusal !== undefined) answerRead(inv, id, READ_REFUSED, [refusal]);
    }, { ignored: true }),
    new ivm.Callback((level: unknown, message: unknown) => (slot.inv ? captureLog(slot.inv, level, message) : false)),
  ];
}

/**
 * Runs the bootstrap in a fresh context. Synchronous on purpose: the isolate is idle (just created,
 * or its context came back in time, see settle) and held by this worker alone, and only the
 * bootstrap runs, never guest code, so this cannot block the thread for long.
 */
function bootstrap(sb: Sandbox, context: ivm.Context): Prepared {
  const slot: { inv?: Invocation } = {};
  const refs: { release(): void }[] = [];
  try {
    const boot = sb.boot.runSync(context, { reference: true });
    refs.push(boot);
    const enter = boot.applySync(undefined, callbacks(slot), { result: { reference: true } }) as ivm.Reference<any>;
    refs.push(enter);
    return { context, refs, enter, slot };
  } catch (err) {
    releaseContext({ context, refs });
    throw err;
  }
}

/** For an isolate that has no spare (a new one): its first context, made here. */
const prepare = (sb: Sandbox): Prepared => bootstrap(sb, sb.isolate.createContextSync());

/** Drops a context and every reference into it: with them goes every object the function created, detached promises too. */
function releaseContext(prepared: { context: ivm.Context; refs: { release(): void }[] }): void {
  for (const r of prepared.refs) try { r.release(); } catch { /* isolate gone */ }
  try { prepared.context.release(); } catch { /* isolate gone */ }
}

/**
 * After an answer: the isolate's next context, asked of the isolate's own thread. It comes back only
 * once no guest code is running there, so coming back within ISOLATE_IDLE_CHECK_MS proves the isolate
 * idle (a function cannot keep running past its answer into someone else's invocation); it is then
 * bootstrapped and kept as the spare. Answers whether the isolate may be pooled again.
 */
function settle(sb: Sandbox): Promise<boolean> {
  return new Promise((resolve) => {
    let late = false;
    const timer = setTimeout(() => { late = true; resolve(false); }, ISOLATE_IDLE_CHECK_MS);
    sb.isolate.createContext().then((context) => {
      if (late) return releaseContext({ context, refs: [] });
      clearTimeout(timer);
      try {
        sb.spare = bootstrap(sb, context);
        resolve(true);
      } catch {
        resolve(false);
      }
    }, () => { clearTimeout(timer); resolve(false); });
  });
}

/** A secret read the bootstrap asked for: checked here, then sent on to the gateway (undefined), or refused (a message). */
function requestRead(inv: Invocation, id: number, kind: number, vault: unknown, names: unknown): string | undefined {
  if (inv.closed) return 'Esecret reads are closed: the invocation has ended';
  const refusal = checkSecretRequest(kind, vault, names);
  if (refusal !== undefined) return refusal;
  if (inv.msg.v) return 'Esecrets cannot be read while a function is being validated';
  if (++inv.reads > MAX_SECRET_CALLS) return `Eat most ${MAX_SECRET_CALLS} secret reads per invocation`;
  const list = kind === READ_ONE ? [names as string] : (names as string[]);
  const prefetched = inv.msg.pf && fromPrefetch(inv, vault as string, list);
  if (prefetched) {
    answerRead(inv, id, 0, prefetched);
    return undefined;
  }
  if (inv.readsOut++ === 0) inv.readsOutSince = performance.now();
  inv.out({ t: 'sec', i: inv.msg.i, r: id, v: vault as string, n: list });
  return undefined;
}

/**
 * A read whose every name the gateway sent with the run: answered here, no round trip to it. The
 * gateway is told which ones were used (done's `pu`) and records them before releasing the output.
 */
function fromPrefetch(inv: Invocation, vault: string, names: string[]): (string | null)[] | undefined {
  const pf = inv.msg.pf!;
  const at: number[] = [];
  for (const name of names) {
    const i = pf.findIndex((p) => p[0] === vault && p[1] === name);
    if (i < 0) return undefined;
    at.push(i);
  }
  return at.map((i) => {
    inv.used.add(i);
    const value = pf[i][2];
    if (typeof value === 'string') inv.values.add(value);
    return value;
  });
}

async function run(inv: Invocation, sb: Sandbox): Promise<void> {
  const { msg } = inv;
  inv.sb = sb;
  inv.admittedAt = performance.now();
  inv.cpu0 = cpuNs(sb);
  let prepared: Prepared | undefined;
  let factory: ivm.Reference | undefined;
  let raw: Raw;
  try {
    if (inv.held) prepared = inv.held.prepared;
    else {
      prepared = sb.spare ?? prepare(sb);
      sb.spare = undefined;
    }
    prepared.slot.inv = inv;
    const { context, enter } = prepared;
    inv.enter = enter;
    const script = msg.v
      ? await sb.isolate.compileScript(inv.source, { filename: FUNCTION_FILENAME })
      : await scriptFor(sb, msg.k, inv.source);
    // Synchronous, like the bootstrap: a script made by compileFunction evaluates to its function
    // and runs nothing of the user's (the user's code only runs inside enter, below, asynchronously);
    // the timeout still bounds anything else. An async call would cost a hop to the isolate's thread.
    // In a context a run holds, only if the isolate's thread was idle when the last invocation
    // answered. isolated-vm hands over a result that settled in the task that started the function
    // once that task's promise jobs have all run; one that settled in a later task (a read's answer
    // entering the isolate) leaves at once, maybe with promise jobs still running there, and a
    // synchronous call would wait for them on this thread. Asynchronous, the call waits on the
    // isolate's thread instead, and the invocation's timeout ends it.
    const options = { reference: true, timeout: Math.max(1, inv.deadline - Date.now()) } as const;
    factory = inv.held && !inv.held.idle ? await script.run(context, options) : script.runSync(context, options);
    if (msg.v) script.release();
    const out = await enter.apply(undefined, [0, factory.derefInto(), msg.a, msg.v === true], {
      timeout: Math.max(1, inv.deadline - Date.now()),
      result: { promise: true, copy: true },
    });
    raw = decode(String(out), msg.v === true);
  } catch (err) {
    raw = classify(err, inv);
  }
  inv.closed = true;
  finish(inv, raw);
  try { factory?.release(); } catch { /* isolate gone */ }
  // As the answer said (finish, or the timeout before it); an invocation aborted unanswered is judged now.
  const healthy = (inv.settle ?? reusable(inv, sb, raw)) && prepared !== undefined;
  const share = inv.share;
  if (healthy && share && !share.closed && (inv.held || !share.held.has(inv.key))) {
    // Kept for the run's next invocation of this key (see RunShare); still counted as expected back.
    const idle = !inv.enteredAgain;
    if (inv.held) Object.assign(inv.held, { busy: false, idle });
    else share.held.set(inv.key, { sb, prepared: prepared!, busy: false, idle });
    return;
  }
  if (inv.held) share!.held.delete(inv.key);
  if (prepared) releaseContext(prepared);
  await giveBack(inv.key, sb, healthy, inv.settle);
}

/**
 * An isolate whose invocation has answered: pooled again if healthy and, the answer being out,
 * idle (see settle), disposed otherwise. `expected` is what the answer said of it (see settling).
 */
async function giveBack(key: string, sb: Sandbox, healthy: boolean, expected: boolean | undefined): Promise<void> {
  const idle = healthy && await settle(sb);
  sandboxes.release(key, sb, idle);
  if (expected !== undefined) settling[expected ? 'good' : 'bad']--;
  // If it ended otherwise (it failed the idle check, or the invocation was aborted and sent no answer), the gateway is told.
  if (expected !== idle) reportIsolates();
  admit();
}

function timeoutMessage(ms: number): string {
  return `the function did not finish within its ${ms} ms timeout`;
}

/** Keeps log lines as they come (redaction needs every value read, so it runs at the end). */
function captureLog(inv: Invocation, level: unknown, message: unknown): boolean {
  if (inv.closed || inv.logFull) return false;
  let text = typeof message === 'string' ? message : String(message);
  // A logged error's stack names the bootstrap's frames; they are not the user's code.
  if (text.includes(BOOTSTRAP_FILENAME)) text = text.split('\n').filter((l) => !l.includes(BOOTSTRAP_FILENAME)).join('\n');
  // Raw lines are kept up to the budget plus the margin redaction needs; redactLogs applies the budget.
  if (inv.logs.length >= MAX_LOG_LINES || inv.logChars > MAX_LOG_BYTES + ISOLATE_CUT_MARGIN) {
    inv.logFull = true;
    return false;
  }
  inv.logChars += text.length;
  inv.logs.push({
    level: (LEVELS.has(level as string) ? level : 'log') as LogLine['level'], message: text, at: new Date().toISOString(),
    cut: text.length >= MAX_LOG_BYTES + ISOLATE_CUT_MARGIN,
  });
  return true;
}

const NOT_JSON = 'the result cannot be serialised to JSON: ';

/** Decodes the string the bootstrap's run() resolved to (format documented in bridge.ts). */
function decode(out: string, validateOnly: boolean): Raw {
  const body = out.slice(1);
  const fail = (code: FailureCode, m: string, fixed = true): Raw => ({ ok: false, code, m, mMax: MAX_ERROR_MESSAGE_CHARS, fixed });
  switch (out[0]) {
    case 'r': return { ok: true, json: body };
    case 'L': return { ...tooLarge(Number(body)), mMax: MAX_ERROR_MESSAGE_CHARS, fixed: true } as Raw;
    case 'x': return { ok: false, code: 'invalid_result', m: body, mMax: NOT_JSON.length + 300 };
    case 'v': return { ok: true, json: 'null' };
    case 'n':
      return validateOnly
        ? fail('not_callable', `the default export must be a function, got ${body}`)
        : fail('function_error', `the default export is not a function (got ${body})`);
    case 'e': {
      const [nameLen, messageLen] = body.split(':', 2).map(Number);
      const start = String(nameLen).length + String(messageLen).length + 2;
      const name = body.slice(start, start + nameLen);
      const message = body.slice(start + nameLen, start + nameLen + messageLen);
      const stack = body.slice(start + nameLen + messageLen);
      return message
        ? { ok: false, code: 'function_error', m: message, mMax: MAX_ERROR_MESSAGE_CHARS, st: stack || undefined }
        : { ok: false, code: 'function_error', m: name, mMax: MAX_ERROR_NAME_CHARS, st: stack || undefined };
    }
    default: return fail('function_error', 'the function returned no result');
  }
}

const tooLarge = (bytes: number): Extract<Done, { ok: false }> => ({
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

function classify(err: unknown, inv: Invocation): Raw {
  const message = err instanceof Error ? err.message : String(err);
  const fixed = (code: FailureCode, m: string): Raw => ({ ok: false, code, m, mMax: MAX_ERROR_MESSAGE_CHARS, fixed: true });
  if (inv.timedOut || /timed out/i.test(message)) return fixed('timeout', timeoutMessage(inv.msg.to));
  // isolated-vm disposes an isolate that runs out of memory; nothing else here disposes a busy one.
  if (/memory limit/i.test(message) || inv.sb?.isolate.isDisposed) {
    return fixed('memory_limit', `the function exceeded its ${inv.msg.mb} MB memory limit`);
  }
  // Anything else escaped the bootstrap's own error handling (a compile error in a hand-made script,
  // a stack overflow inside the error handler): report the message only (redacted), never a host stack.
  return { ok: false, code: 'function_error', m: message.slice(0, MAX_ERROR_MESSAGE_CHARS + ISOLATE_CUT_MARGIN), mMax: MAX_ERROR_MESSAGE_CHARS };
}

/** The gateway answered the invocation already (a per-invocation cap): stop it without a word. */
function abort(i: number): void {
  const inv = invocations.get(i);
  if (!inv) return;
  inv.answered = true;
  inv.closed = true;
  clearTimeout(inv.timer);
  invocations.delete(i);
  if (inv.sb) disposeSandbox(inv.sb);
  else waiting.splice(waiting.indexOf(inv), 1);
}

function onSecretAnswer(m: Extract<ToWorker, { t: 'sec' }>): void {
  const inv = invocations.get(m.i);
  if (!inv || inv.closed || !inv.enter) return;
  if (inv.readsOut > 0 && --inv.readsOut === 0) inv.readWaitMs += performance.now() - inv.readsOutSince;
  for (const v of m.x ?? []) if (typeof v === 'string') inv.values.add(v);
  answerRead(inv, m.r, m.s, m.x ?? []);
}

/** Settles read `id` inside the isolate. Nothing to wait for: ignored, the call costs no hop back here. */
function answerRead(inv: Invocation, id: number, status: number, values: unknown[]): void {
  if (inv.closed || !inv.enter) return;
  inv.enteredAgain = true;
  try { inv.enter.applyIgnored(undefined, [1, id, status, values], { arguments: { copy: true } }); } catch { /* isolate gone */ }
}

// A pipeline run's invocations go through receive() like any other, under numbers of their own
// below zero, so they never meet the gateway's, and with their run's contexts (see RunShare).
const pipelines = createPipelineRuns<RunShare>({
  openRun,
  start: receive,
  answer: (i, r, s, x) => onSecretAnswer({ t: 'sec', i, r, s, x }),
  abort,
  source: (k) => sources.get(k),
  send,
  rss: residentSetSize,
  isolates: isolateCounts,
});

process.on('message', (batch: ToWorker | ToWorker[]) => {
  // The gateway sends what it has in one turn of its event loop as one array.
  for (const m of Array.isArray(batch) ? batch : [batch]) {
    if (m.t === 'run') receive(m);
    else if (m.t === 'sec') onSecretAnswer(m);
    else if (m.t === 'abort') abort(m.i);
    else if (m.t === 'pipe') pipelines.receive(m);
    else if (m.t === 'psec') pipelines.onSecretAnswer(m);
  }
});
// Never Node's default report: an error's text may hold a value. The pool restarts the worker.
const die = (what: string) => (err: unknown) => {
  const code = (err as { code?: unknown })?.code;
  process.stderr.write(`coffer worker: ${what} (${typeof code === 'string' && /^[A-Z_]{1,40}$/.test(code) ? code : 'no code'}); exiting\n`);
  process.exit(70);
};
process.on('uncaughtException', die('uncaught exception'));
process.on('unhandledRejection', die('unhandled rejection'));
// The gateway went away: nothing left to serve. ('error' on process only comes from the IPC channel,
// e.g. EPIPE for a message sent as the gateway closed.)
process.on('disconnect', () => process.exit(0));
process.on('error', () => process.exit(0));
// Answers carry the counts, so one long invocation running alone would leave the gateway's gauge
// where it was before it started: while anything runs, changed counts also go out once a second.
let lastPeriodicCounts = '';
setInterval(() => {
  if (invocations.size === 0 && pipelines.active === 0) return;
  const iso = isolateCounts();
  const key = iso.join(',');
  if (key === lastPeriodicCounts) return;
  lastPeriodicCounts = key;
  send({ t: 'iso', iso });
}, ISOLATE_REPORT_MS).unref();
send({ t: 'ready', pid: process.pid, iso: isolateCounts() });
