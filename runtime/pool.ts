// The gateway side of the runtime: worker processes, dispatch, watchdogs, secret reads, redaction.
//
// This process never loads isolated-vm: a crash inside an isolate can take its process down, so
// isolates live only in the workers forked here, and a worker that dies is replaced while the
// others keep serving. The master key never enters a worker either: workers get an empty
// environment and ask this side for every secret value over IPC.
import { fork, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { checkSecretRequest, READ_MANY } from './bridge.ts';
import type { InvocationFailureCode, InvocationOutcome, LogLine, ValidateResult } from './errors.ts';
import { GATEWAY_GRACE_MS, normalizeLimits, type FunctionLimits } from './limits.ts';
import type { FailureCode, FromWorker, ToWorker } from './protocol.ts';
import { createRedactor, redactJsonResult } from './redact.ts';
import { createSecretReads, type SecretReader, type SecretReads } from './secret-reads.ts';

const WORKER_PATH = fileURLToPath(new URL('./worker.ts', import.meta.url));
/** Invocations a worker takes before others are preferred for a workspace that is warm on it. */
const AFFINITY_IN_FLIGHT = 2;
/** Invocations a worker runs at once; more wait in the queue. */
export const MAX_IN_FLIGHT = 8;

export interface PoolOptions {
  workers?: number;
  maxQueue?: number;
  recycleAfterInvocations?: number;
  recycleAboveRssMb?: number;
  /** Warm isolates a worker keeps, over all workspaces (least recently used idle ones go first). */
  maxIsolatesPerWorker?: number;
  /** An isolate idle this long is disposed, giving its memory back. */
  isolateIdleMs?: number;
  logger?: { warn(o: object, msg: string): void; error(o: object, msg: string): void };
}

export interface Job {
  workspaceId: string;
  codeKey: string;
  script: string;
  limits: FunctionLimits;
  /** undefined: the function is called without args. */
  argsJson: string | undefined;
  validateOnly: boolean;
  exposeSecrets: boolean;
  readSecret?: SecretReader;
}

type DoneMessage = Extract<FromWorker, { t: 'done' }>;

interface Pending extends Job {
  i: number;
  startedAt: number;
  deadlineAt: number;
  reads?: SecretReads;
  worker?: Worker;
  watchdog?: NodeJS.Timeout;
  closed: boolean;
  answer(done: DoneMessage | Failure): void;
}

interface Failure { t: 'fail'; code: FailureCode; m: string }

interface Worker {
  child: ChildProcess;
  pid: number;
  ready: boolean;
  draining: boolean;
  inFlight: Map<number, Pending>;
  knownScripts: Set<string>;
  served: number;
}

export interface Pool {
  invoke(job: Job): Promise<InvocationOutcome>;
  validate(job: Job): Promise<ValidateResult>;
  stats(): { workers: number; busy: number; queued: number; restarts: number };
  workerPids(): number[];
  close(): Promise<void>;
}

export function createPool(options: PoolOptions = {}): Pool {
  const size = Math.max(1, Math.floor(options.workers ?? availableParallelism()));
  const maxQueue = Math.max(0, options.maxQueue ?? 256);
  const recycleAfter = options.recycleAfterInvocations ?? 5000;
  const recycleAboveRss = (options.recycleAboveRssMb ?? 1024) * 1024 * 1024;
  const maxIsolates = Math.max(1, options.maxIsolatesPerWorker ?? 32);
  const isolateIdleMs = Math.max(1, options.isolateIdleMs ?? 60_000);
  const logger = options.logger;

  const slots: (Worker | undefined)[] = new Array(size).fill(undefined);
  const retiring = new Set<Worker>();
  const queue: Pending[] = [];
  const pendings = new Map<number, Pending>();
  let nextId = 1;
  let restarts = 0;
  let failedStarts = 0;
  let closing: Promise<void> | undefined;

  for (let n = 0; n < size; n++) spawn(n);

  function spawn(n: number): void {
    const child = fork(WORKER_PATH, [], {
      execPath: process.execPath,
      execArgv: ['--no-node-snapshot'],
      // Deliberately not process.env: the gateway's environment holds the master key.
      env: {
        COFFER_MAX_ISOLATES: String(maxIsolates),
        // A worker never runs more than MAX_IN_FLIGHT invocations, so no workspace waits for an isolate there.
        COFFER_ISOLATES_PER_WORKSPACE: String(MAX_IN_FLIGHT),
        COFFER_ISOLATE_IDLE_MS: String(isolateIdleMs),
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const w: Worker = { child, pid: child.pid ?? 0, ready: false, draining: false, inFlight: new Map(), knownScripts: new Set(), served: 0 };
    slots[n] = w;
    child.on('message', (m: FromWorker) => onMessage(w, m));
    child.on('error', (err) => logger?.error({ err, pid: w.pid }, 'runtime worker error'));
    child.on('exit', (code, signal) => onExit(w, n, code, signal));
  }

  function onExit(w: Worker, n: number, code: number | null, signal: NodeJS.Signals | null): void {
    const expected = retiring.delete(w) || closing !== undefined;
    for (const p of w.inFlight.values()) {
      p.answer({ t: 'fail', code: 'worker_crashed', m: 'the worker running the function stopped unexpectedly' });
    }
    w.inFlight.clear();
    if (slots[n] !== w) return; // a retired worker; its slot already holds a successor
    slots[n] = undefined;
    if (closing) return;
    if (!expected) {
      restarts++;
      logger?.warn({ pid: w.pid, code, signal }, 'runtime worker died; restarting it');
    }
    if (!w.ready && ++failedStarts >= 3) {
      logger?.error({ failedStarts }, 'runtime workers fail to start; retrying in 1 s');
      setTimeout(() => { if (!closing && !slots[n]) spawn(n); }, 1000).unref();
    } else spawn(n);
  }

  function onMessage(w: Worker, m: FromWorker): void {
    switch (m.t) {
      case 'ready':
        w.ready = true;
        failedStarts = 0;
        pump();
        return;
      case 'done': {
        const p = w.inFlight.get(m.i);
        if (!p) return;
        p.answer(m);
        w.served++;
        if (!w.draining && (w.served >= recycleAfter || m.rss > recycleAboveRss)) recycle(w);
        pump();
        return;
      }
      case 'miss': {
        const p = w.inFlight.get(m.i);
        if (p) sendRun(w, p, true);
        return;
      }
      case 'sec':
        onSecretRequest(w, m);
        return;
    }
  }

  function onSecretRequest(w: Worker, m: Extract<FromWorker, { t: 'sec' }>): void {
    const p = w.inFlight.get(m.i);
    // After the answer or the deadline, a read is dropped: the reader is not asked, so no audit row.
    if (!p || p.closed || !p.reads || performance.now() > p.deadlineAt) return;
    if (checkSecretRequest(READ_MANY, m.v, m.n) !== undefined) return;
    void p.reads.read(m.v, m.n).then(({ status, values }) => {
      if (p.closed) return;
      send(w, { t: 'sec', i: p.i, r: m.r, s: status, ...(values ? { x: values } : {}) });
    });
  }

  function send(w: Worker, m: ToWorker): void {
    if (w.child.connected) w.child.send(m);
  }

  function sendRun(w: Worker, p: Pending, withScript: boolean): void {
    const needScript = withScript || p.validateOnly || !w.knownScripts.has(p.codeKey);
    if (needScript && !p.validateOnly) {
      if (w.knownScripts.size >= 512) w.knownScripts.clear();
      w.knownScripts.add(p.codeKey);
    }
    send(w, {
      t: 'run', i: p.i, w: p.workspaceId, k: p.codeKey, to: p.limits.timeoutMs, mb: p.limits.memoryMb, a: p.argsJson,
      ...(needScript ? { s: p.script } : {}), ...(p.validateOnly ? { v: true as const } : {}),
    });
  }

  /** Prefers the worker a workspace is warm on, unless it is busy; never waits for it. */
  function pick(workspaceId: string): Worker | undefined {
    const home = slots[hash(workspaceId) % size];
    if (home?.ready && !home.draining && home.inFlight.size < AFFINITY_IN_FLIGHT) return home;
    let best: Worker | undefined;
    for (const w of slots) {
      if (!w?.ready || w.draining || w.inFlight.size >= MAX_IN_FLIGHT) continue;
      if (!best || w.inFlight.size < best.inFlight.size || (w === home && w.inFlight.size === best.inFlight.size)) best = w;
    }
    return best;
  }

  function dispatch(w: Worker, p: Pending): void {
    p.worker = w;
    w.inFlight.set(p.i, p);
    p.deadlineAt = performance.now() + p.limits.timeoutMs;
    p.watchdog = setTimeout(() => {
      // The worker did not answer even after its own watchdog should have: it is stuck. Kill it.
      logger?.warn({ pid: w.pid, timeoutMs: p.limits.timeoutMs }, 'runtime worker missed a deadline; killing it');
      p.answer({ t: 'fail', code: 'timeout', m: `the function did not finish within its ${p.limits.timeoutMs} ms timeout` });
      w.child.kill('SIGKILL');
    }, p.limits.timeoutMs + GATEWAY_GRACE_MS);
    sendRun(w, p, false);
  }

  /** Starts queued invocations in order, as long as some worker has room. */
  function pump(): void {
    while (queue.length > 0) {
      const w = pick(queue[0].workspaceId);
      if (!w) return;
      dispatch(w, queue.shift()!);
    }
  }

  function recycle(w: Worker): void {
    const n = slots.indexOf(w);
    if (n < 0) return;
    w.draining = true;
    retiring.add(w);
    spawn(n); // the successor takes the slot now; the old worker finishes what it holds
    const stopWhenIdle = () => {
      if (w.inFlight.size > 0) return void setTimeout(stopWhenIdle, 50).unref();
      w.child.kill('SIGTERM');
    };
    stopWhenIdle();
  }

  function submit(job: Job, toOutcome: (m: DoneMessage | Failure, p: Pending) => void): void {
    const started = performance.now();
    const p: Pending = {
      ...job,
      limits: normalizeLimits(job.limits),
      i: nextId++,
      startedAt: started,
      deadlineAt: Infinity,
      closed: false,
      reads: job.readSecret ? createSecretReads(job.readSecret) : undefined,
      answer(m) {
        if (p.closed) return;
        p.closed = true;
        clearTimeout(p.watchdog);
        p.worker?.inFlight.delete(p.i);
        pendings.delete(p.i);
        toOutcome(m, p);
      },
    };
    if (closing) return p.answer({ t: 'fail', code: 'worker_crashed', m: 'the runtime is closed' });
    pendings.set(p.i, p);
    const w = queue.length === 0 ? pick(p.workspaceId) : undefined;
    if (w) return dispatch(w, p);
    if (queue.length >= maxQueue) return p.answer({ t: 'fail', code: 'overloaded', m: 'the runtime is overloaded; try again later' });
    queue.push(p);
  }

  return {
    invoke(job) {
      return new Promise((resolve) => submit(job, (m, p) => resolve(toInvocationOutcome(m, p))));
    },
    validate(job) {
      return new Promise((resolve) => submit(job, (m) => resolve(toValidateResult(m))));
    },
    stats() {
      let busy = 0;
      let workers = 0;
      for (const w of slots) if (w) { workers++; busy += w.inFlight.size; }
      return { workers, busy, queued: queue.length, restarts };
    },
    workerPids() {
      return slots.filter((w): w is Worker => w?.ready === true).map((w) => w.pid);
    },
    close() {
      if (closing) return closing;
      const all = [...slots, ...retiring].filter((w): w is Worker => w !== undefined);
      closing = Promise.all(all.map((w) => new Promise<void>((resolve) => {
        if (w.child.exitCode !== null || w.child.signalCode !== null) return resolve();
        w.child.once('exit', () => resolve());
        w.child.kill('SIGKILL');
      }))).then(() => undefined);
      for (const p of [...pendings.values()]) p.answer({ t: 'fail', code: 'worker_crashed', m: 'the runtime was closed' });
      queue.length = 0;
      return closing;
    },
  };
}

function toInvocationOutcome(m: DoneMessage | Failure, p: Pending): InvocationOutcome {
  const durationMs = performance.now() - p.startedAt;
  const redactor = createRedactor(p.reads?.values ?? []);
  if (m.t === 'fail') return { ok: false, code: asInvocationCode(m.code), message: m.m, logs: [], durationMs, cpuMs: 0 };
  const logs: LogLine[] = m.l.map((l) => ({ level: l.level, message: redactor.text(l.message), at: l.at }));
  const cpuMs = m.c;
  if (m.ok) {
    try {
      const result = p.exposeSecrets ? JSON.parse(m.r) : redactJsonResult(m.r, redactor);
      return { ok: true, result, logs, durationMs, cpuMs };
    } catch {
      return { ok: false, code: 'invalid_result', message: 'the result is not valid JSON', logs, durationMs, cpuMs };
    }
  }
  return {
    ok: false, code: asInvocationCode(m.code), message: redactor.text(m.m), logs, durationMs, cpuMs,
    ...(m.st ? { stack: redactor.text(m.st) } : {}),
  };
}

/** not_callable only exists for validate(); an invocation reports it as a function error. */
const asInvocationCode = (code: FailureCode): InvocationFailureCode => (code === 'not_callable' ? 'function_error' : code);

function toValidateResult(m: DoneMessage | Failure): ValidateResult {
  if (m.t === 'fail') return { ok: false, code: m.code, message: m.m };
  if (m.ok) return { ok: true };
  return {
    ok: false, code: m.code, message: m.m,
    ...(m.line !== undefined ? { line: m.line, column: m.col } : {}),
  };
}

/** FNV-1a: a stable, cheap spread of workspaces over workers. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
