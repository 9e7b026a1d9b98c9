// The gateway side of the runtime: worker processes, fair dispatch, watchdogs, secret reads.
//
// This process never loads isolated-vm: a crash inside an isolate can take its process down, so
// isolates live only in the workers forked here, and a worker that dies is replaced while the
// others keep serving. The master key never enters a worker either: workers get an empty
// environment and ask this side for every secret value over IPC.
//
// Containment, on this side:
// - nothing a worker sends can throw here: every message handler is guarded, and a worker whose
//   message cannot be handled is killed (its invocations answer worker_crashed), never the gateway;
// - redaction is the worker's job (redact.ts), so a big secret or a big log costs this thread nothing;
// - each workspace has its own queue and its own cap on running invocations over all workers, and
//   queues are served in turn, so one workspace's flood waits behind itself, not in front of others;
// - per invocation, distinct secret names and denied reads are capped (secret-reads.ts);
// - each worker's resident memory is read from /proc while it runs: over the budget it is recycled
//   (drained and replaced), over twice the budget it is killed at once.
import { fork, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { checkSecretRequest, READ_MANY } from './bridge.ts';
import type { InvocationFailureCode, InvocationOutcome, InvocationTimings, LogLine, ValidateResult } from './errors.ts';
import {
  DEFAULT_MAX_DENIED_READS, DEFAULT_MAX_SECRET_NAMES, DEFAULT_WORKSPACE_IN_FLIGHT, DEFAULT_WORKSPACE_QUEUE,
  GATEWAY_GRACE_MS, MIN_LIMITS, normalizeLimits, type FunctionLimits,
} from './limits.ts';
import type { FailureCode, FromWorker, PrefetchedValue, ToWorker } from './protocol.ts';
import { DEFAULT_WORKER_NICE } from './priority.ts';
import { createSecretReads, type SecretReadCaps, type SecretReader, type SecretReads } from './secret-reads.ts';

const WORKER_PATH = fileURLToPath(new URL('./worker.ts', import.meta.url));
/** Invocations a worker takes before others are preferred for a workspace that is warm on it. */
const AFFINITY_IN_FLIGHT = 2;
/** Invocations a worker runs at once; more wait in the queue. */
export const MAX_IN_FLIGHT = 8;
/** Invocations a worker serves before it is replaced (see createPool). */
export const DEFAULT_RECYCLE_AFTER_INVOCATIONS = 50_000;

export interface PoolOptions {
  workers?: number;
  maxQueue?: number;
  recycleAfterInvocations?: number;
  recycleAboveRssMb?: number;
  /** Warm isolates a worker keeps, over all workspaces (least recently used idle ones go first). */
  maxIsolatesPerWorker?: number;
  /** An isolate idle this long is disposed, giving its memory back. */
  isolateIdleMs?: number;
  /** Invocations of one workspace running at once over all workers (default 8); more wait in its queue. */
  workspaceMaxInFlight?: number;
  /** Invocations of one workspace waiting (default 64); more answer overloaded. */
  workspaceMaxQueue?: number;
  /** Distinct secret names one invocation may read (default 100). */
  maxSecretNamesPerInvocation?: number;
  /** Denied secret reads one invocation may make before it fails with secret_read_limit (default 5). */
  maxDeniedReadsPerInvocation?: number;
  /** The nice value of worker processes, below the gateway's (default 10; 0 keeps the gateway's; see priority.ts). */
  workerNice?: number;
  /** How often each worker's resident memory is read (default 250 ms). */
  rssPollMs?: number;
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
  /** Reads already decided by the caller, answered in the worker (see api/services/read-prefetch.ts). */
  prefetch?: PrefetchedValue[];
  /** Set for a pipeline run (runPipeline): the fields above then only serve the queue and the watchdog. */
  pipe?: PipeState;
}

/** A pipeline run, as the gateway hands it to one worker (see pipeline-worker.ts). */
export interface PipelineJob {
  workspaceId: string;
  deadlineMs: number;
  /** `{args, caller}` as JSON. */
  contextJson: string;
  steps: {
    name: string; codeKey: string; script: string; limits: FunctionLimits; exposeSecrets: boolean;
    planned: boolean; forEach: boolean; skipOnError: boolean;
    /** The step's function does not exist: the message its step fails with when it is reached. */
    missing?: string;
  }[];
  expressions?: { codeKey: string; script: string; limits: FunctionLimits };
  result: boolean;
  exposeSecrets: boolean;
  /** The reader for invocation `invocation` (numbered within the run) of step `step`; asked once per invocation. */
  readerFor(step: number, invocation: number): SecretReader;
}

interface PipeState {
  job: PipelineJob;
  /** Per invocation of the run: the same caps as a direct invocation's. */
  reads: Map<number, SecretReads>;
}

type DoneMessage = Extract<FromWorker, { t: 'done' }>;
export type PipeDoneMessage = Extract<FromWorker, { t: 'pdone' }>;
type Answer = DoneMessage | PipeDoneMessage | Failure;

interface Pending extends Job {
  i: number;
  /** True while it holds one of its workspace's running slots. */
  running: boolean;
  startedAt: number;
  /** performance.now() when it was sent to a worker (0 while queued). */
  dispatchedAt: number;
  deadlineAt: number;
  reads?: SecretReads;
  worker?: Worker;
  watchdog?: NodeJS.Timeout;
  closed: boolean;
  answer(done: Answer): void;
}

export interface Failure { t: 'fail'; code: FailureCode; m: string }

interface Worker {
  child: ChildProcess;
  pid: number;
  ready: boolean;
  draining: boolean;
  inFlight: Map<number, Pending>;
  knownScripts: Set<string>;
  served: number;
  peakRss: number;
  killedForMemory: boolean;
  /** Its isolates [active, idle], as it last reported them (protocol.ts IsolateCounts). */
  isolates: [number, number];
  /** Messages for this worker not sent yet: sent together once this turn of the event loop is over. */
  outbox: ToWorker[];
}

export interface Pool {
  invoke(job: Job): Promise<InvocationOutcome>;
  /** Runs a whole pipeline in one worker; answers the worker's pdone, or a Failure (overload, crash, watchdog). */
  runPipeline(job: PipelineJob): Promise<PipeDoneMessage | Failure>;
  validate(job: Job): Promise<ValidateResult>;
  stats(): PoolStats;
  workerPids(): number[];
  /** The highest RSS seen of each live worker since it started. */
  peakRss(): { pid: number; peakRssBytes: number }[];
  close(): Promise<void>;
}

/** isolates: summed over the live workers (draining ones included) as each last reported them. */
export interface PoolStats {
  workers: number; busy: number; queued: number; restarts: number; recycles: number;
  isolates: { active: number; idle: number };
}

export function createPool(options: PoolOptions = {}): Pool {
  const size = Math.max(1, Math.floor(options.workers ?? availableParallelism()));
  const maxQueue = Math.max(0, options.maxQueue ?? 256);
  // Planned replacement, against slow leaks. Not sooner: a worker's RSS levels off at about 300 MB
  // without it (its isolates' garbage, collected as their heaps fill), and each replacement costs a
  // process start and cold isolates; at 5,000 it cost hello at c16 a third of its throughput.
  const recycleAfter = options.recycleAfterInvocations ?? DEFAULT_RECYCLE_AFTER_INVOCATIONS;
  const recycleAboveRss = (options.recycleAboveRssMb ?? 1024) * 1024 * 1024;
  const maxIsolates = Math.max(1, options.maxIsolatesPerWorker ?? 32);
  const isolateIdleMs = Math.max(1, options.isolateIdleMs ?? 60_000);
  const workerNice = Math.min(19, Math.max(0, Math.floor(options.workerNice ?? DEFAULT_WORKER_NICE)));
  const wsMaxInFlight = Math.max(1, Math.floor(options.workspaceMaxInFlight ?? DEFAULT_WORKSPACE_IN_FLIGHT));
  const wsMaxQueue = Math.max(0, Math.floor(options.workspaceMaxQueue ?? DEFAULT_WORKSPACE_QUEUE));
  const caps: SecretReadCaps = {
    maxNames: Math.max(1, Math.floor(options.maxSecretNamesPerInvocation ?? DEFAULT_MAX_SECRET_NAMES)),
    maxDenied: Math.max(0, Math.floor(options.maxDeniedReadsPerInvocation ?? DEFAULT_MAX_DENIED_READS)),
  };
  const logger = options.logger;

  const slots: (Worker | undefined)[] = new Array(size).fill(undefined);
  const retiring = new Set<Worker>();
  /** One queue per workspace; a Map keeps insertion order, and a served workspace moves to the end. */
  const queues = new Map<string, Pending[]>();
  let queued = 0;
  const runningByWorkspace = new Map<string, number>();
  const pendings = new Map<number, Pending>();
  let nextId = 1;
  let restarts = 0;
  let recycles = 0;
  let failedStarts = 0;
  let closing: Promise<void> | undefined;

  for (let n = 0; n < size; n++) spawn(n);
  const rssTimer = setInterval(() => void pollRss(), Math.max(10, options.rssPollMs ?? 250));
  rssTimer.unref();

  /** Reads each worker's RSS from /proc (works even while its main thread is busy); falls back to what workers report. */
  async function pollRss(): Promise<void> {
    for (const w of [...slots, ...retiring]) {
      if (!w?.pid || w.child.exitCode !== null || w.child.signalCode !== null) continue;
      let bytes: number;
      try {
        bytes = Number((await readFile(`/proc/${w.pid}/statm`, 'latin1')).split(' ')[1]) * 4096;
      } catch {
        continue; // not Linux, or the worker just exited
      }
      if (Number.isFinite(bytes)) checkRss(w, bytes);
    }
  }

  function checkRss(w: Worker, bytes: number): void {
    w.peakRss = Math.max(w.peakRss, bytes);
    if (bytes > 2 * recycleAboveRss) {
      if (w.killedForMemory) return;
      w.killedForMemory = true;
      logger?.error({ pid: w.pid, rssMb: Math.round(bytes / 1048576) }, 'runtime worker far over its memory budget; killing it');
      for (const p of w.inFlight.values()) p.answer({ t: 'fail', code: 'worker_crashed', m: 'the worker running the function went over its memory budget and was stopped' });
      retiring.add(w);
      const n = slots.indexOf(w);
      if (n >= 0) { slots[n] = undefined; spawn(n); }
      w.child.kill('SIGKILL');
    } else if (bytes > recycleAboveRss && !w.draining) {
      logger?.warn({ pid: w.pid, rssMb: Math.round(bytes / 1048576) }, 'runtime worker over its memory budget; recycling it');
      recycle(w);
    }
  }

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
        COFFER_WORKER_NICE: String(workerNice),
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const w: Worker = {
      child, pid: child.pid ?? 0, ready: false, draining: false, inFlight: new Map(), knownScripts: new Set(), served: 0,
      peakRss: 0, killedForMemory: false, isolates: [0, 0], outbox: [],
    };
    slots[n] = w;
    child.on('message', (batch: FromWorker | FromWorker[]) => {
      // A worker sends what it has in one turn of its event loop as one array (see send()).
      for (const m of Array.isArray(batch) ? batch : [batch]) {
        try {
          onMessage(w, m);
        } catch (err) {
          // Never the error's text: it may quote a value. The worker is not trusted to try again.
          logger?.error({ pid: w.pid, code: 'worker_message_failed', errName: (err as Error)?.name }, 'a runtime worker message could not be handled; killing the worker');
          for (const p of w.inFlight.values()) p.answer({ t: 'fail', code: 'worker_crashed', m: 'the worker running the function misbehaved and was stopped' });
          w.child.kill('SIGKILL');
          return;
        }
      }
    });
    child.on('error', (err) => logger?.error({ pid: w.pid, code: (err as { code?: unknown })?.code }, 'runtime worker channel error'));
    child.on('exit', (code, signal) => onExit(w, slots.indexOf(w) >= 0 ? slots.indexOf(w) : n, code, signal));
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

  /**
   * Keeps a worker's isolate counts if they are plausible: two non-negative integers that add up to
   * no more than a worker may hold. Anything else is ignored (the last figures stay); it never throws.
   */
  function noteIsolates(w: Worker, iso: unknown): void {
    if (!Array.isArray(iso) || iso.length !== 2) return;
    const [active, idle] = iso as unknown[];
    if (!Number.isSafeInteger(active) || !Number.isSafeInteger(idle)) return;
    const a = active as number;
    const d = idle as number;
    if (a < 0 || d < 0 || a + d > maxIsolates) return;
    w.isolates = [a, d];
  }

  function onMessage(w: Worker, m: FromWorker): void {
    switch (m.t) {
      case 'iso':
        noteIsolates(w, m.iso);
        return;
      case 'ready':
        noteIsolates(w, m.iso);
        w.ready = true;
        failedStarts = 0;
        pump();
        return;
      case 'done':
      case 'pdone': {
        // Kept even for an invocation already answered here (a cap, the watchdog): the counts are the worker's.
        noteIsolates(w, m.iso);
        const p = w.inFlight.get(m.i);
        // A pipeline's answer only ever settles a pipeline run.
        if (!p || (m.t === 'pdone' && !p.pipe)) return;
        p.answer(m);
        w.served++;
        if (!w.draining && w.served >= recycleAfter) recycle(w);
        else if (typeof m.rss === 'number') checkRss(w, m.rss);
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
      case 'psec':
        onPipelineSecretRequest(w, m);
        return;
    }
  }

  /** As onSecretRequest, per invocation of the run: its own memo and caps, its own reader (its step's audit detail). */
  function onPipelineSecretRequest(w: Worker, m: Extract<FromWorker, { t: 'psec' }>): void {
    const p = w.inFlight.get(m.i);
    if (!p?.pipe || p.closed || performance.now() > p.deadlineAt) return;
    if (!Number.isSafeInteger(m.j) || !Number.isSafeInteger(m.p) || m.p < 0 || m.p >= p.pipe.job.steps.length) return;
    if (checkSecretRequest(READ_MANY, m.v, m.n) !== undefined) return;
    let reads = p.pipe.reads.get(m.j);
    if (!reads) {
      reads = createSecretReads(p.pipe.job.readerFor(m.p, m.j), caps);
      p.pipe.reads.set(m.j, reads);
    }
    reads.read(m.v, m.n).then(({ status, values, reason }) => {
      if (p.closed) return;
      send(w, { t: 'psec', i: p.i, j: m.j, r: m.r, s: status, ...(values ? { x: values } : {}), ...(status === 3 ? { m: reason } : {}) });
    }).catch(() => {
      logger?.error({ pid: w.pid, code: 'secret_read_failed' }, 'a secret read for a pipeline step could not be answered');
    });
  }

  /** The run with every script the worker may not hold (all of them when it asked again). */
  function sendPipe(w: Worker, p: Pending, withScripts: boolean): void {
    const job = p.pipe!.job;
    const script = (codeKey: string, source: string) => {
      if (!withScripts && w.knownScripts.has(codeKey)) return {};
      if (w.knownScripts.size >= 512) w.knownScripts.clear();
      w.knownScripts.add(codeKey);
      return { s: source };
    };
    const x = job.expressions;
    send(w, {
      t: 'pipe', i: p.i, w: job.workspaceId, to: p.limits.timeoutMs, c: job.contextJson,
      st: job.steps.map((s) => ({
        n: s.name, k: s.codeKey, ...(s.missing !== undefined ? { nf: s.missing } : script(s.codeKey, s.script)),
        ...normalizedLimits(s.limits), ...(s.exposeSecrets ? { e: true as const } : {}), ...(s.planned ? { p: true as const } : {}),
        ...(s.forEach ? { f: true as const } : {}), ...(s.skipOnError ? { sk: true as const } : {}),
      })),
      ...(x ? { x: { k: x.codeKey, ...script(x.codeKey, x.script), ...normalizedLimits(x.limits) } } : {}),
      ...(job.result ? { r: true as const } : {}), ...(job.exposeSecrets ? { e: true as const } : {}),
    });
  }

  function onSecretRequest(w: Worker, m: Extract<FromWorker, { t: 'sec' }>): void {
    const p = w.inFlight.get(m.i);
    // After the answer or the deadline, a read is dropped: the reader is not asked, so no audit row.
    if (!p || p.closed || !p.reads || performance.now() > p.deadlineAt) return;
    if (checkSecretRequest(READ_MANY, m.v, m.n) !== undefined) return;
    p.reads.read(m.v, m.n).then(({ status, values, reason }) => {
      if (p.closed) return;
      if (status === 3) {
        p.answer({ t: 'fail', code: 'secret_read_limit', m: reason ?? 'a per-invocation secret read limit was reached' });
        send(w, { t: 'abort', i: p.i });
        return;
      }
      send(w, { t: 'sec', i: p.i, r: m.r, s: status, ...(values ? { x: values } : {}) });
    }).catch(() => {
      logger?.error({ pid: w.pid, code: 'secret_read_failed' }, 'a secret read for a function could not be answered');
    });
  }

  /**
   * Queues a message; what is queued for a worker in one turn of the event loop goes as one IPC
   * write. Each write to a sleeping process costs a wake-up, and on a busy (or virtualised) machine
   * that was the gateway's largest single cost per invocation; under load, many runs and secret
   * answers leave in one turn, so they share it. Order is kept. A worker with at most one thing to
   * do gets its message at once: nothing else would share the write, and waiting for the turn to
   * end cost 0.1-0.2 ms per message at concurrency 1.
   */
  function send(w: Worker, m: ToWorker): void {
    w.outbox.push(m);
    if (w.inFlight.size <= 1) flush(w);
    else if (w.outbox.length === 1) setImmediate(flush, w);
  }

  function flush(w: Worker): void {
    if (w.outbox.length === 0) return;
    const batch = w.outbox;
    w.outbox = [];
    try {
      if (w.child.connected) w.child.send(batch.length === 1 ? batch[0] : batch);
    } catch {
      // The channel closed under us; the exit handler answers what the worker held.
    }
  }

  function sendRun(w: Worker, p: Pending, withScript: boolean): void {
    if (p.pipe) return sendPipe(w, p, withScript);
    const needScript = withScript || p.validateOnly || !w.knownScripts.has(p.codeKey);
    if (needScript && !p.validateOnly) {
      if (w.knownScripts.size >= 512) w.knownScripts.clear();
      w.knownScripts.add(p.codeKey);
    }
    send(w, {
      t: 'run', i: p.i, w: p.workspaceId, k: p.codeKey, to: p.limits.timeoutMs, mb: p.limits.memoryMb, a: p.argsJson,
      ...(needScript ? { s: p.script } : {}), ...(p.validateOnly ? { v: true as const } : {}), ...(p.exposeSecrets ? { e: true as const } : {}),
      ...(p.prefetch?.length && !p.validateOnly ? { pf: p.prefetch } : {}),
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
    p.running = true;
    runningByWorkspace.set(p.workspaceId, (runningByWorkspace.get(p.workspaceId) ?? 0) + 1);
    w.inFlight.set(p.i, p);
    p.dispatchedAt = performance.now();
  p.deadlineAt = p.dispatchedAt + p.limits.timeoutMs;
    p.watchdog = setTimeout(() => {
      // The worker did not answer even after its own watchdog should have: it is stuck. Kill it.
      logger?.warn({ pid: w.pid, timeoutMs: p.limits.timeoutMs }, 'runtime worker missed a deadline; killing it');
      p.answer({ t: 'fail', code: 'timeout', m: `the function did not finish within its ${p.limits.timeoutMs} ms timeout` });
      w.child.kill('SIGKILL');
    }, p.limits.timeoutMs + GATEWAY_GRACE_MS);
    sendRun(w, p, false);
  }

  const hasRoom = (workspaceId: string) => (runningByWorkspace.get(workspaceId) ?? 0) < wsMaxInFlight;

  /**
   * Starts queued invocations while some worker has room: one from each workspace in turn (a served
   * workspace goes to the back), skipping workspaces at their cap of running invocations.
   */
  function pump(): void {
    for (;;) {
      let started = false;
      for (const [workspaceId, q] of queues) {
        if (!hasRoom(workspaceId)) continue;
        const w = pick(workspaceId);
        if (!w) return;
        const p = q.shift()!;
        queued--;
        queues.delete(workspaceId);
        if (q.length > 0) queues.set(workspaceId, q);
        dispatch(w, p);
        started = true;
        break;
      }
      if (!started) return;
    }
  }

  function unqueue(p: Pending): void {
    const q = queues.get(p.workspaceId);
    const at = q?.indexOf(p) ?? -1;
    if (!q || at < 0) return;
    q.splice(at, 1);
    queued--;
    if (q.length === 0) queues.delete(p.workspaceId);
  }

  function recycle(w: Worker): void {
    const n = slots.indexOf(w);
    if (n < 0) return;
    w.draining = true;
    recycles++;
    retiring.add(w);
    spawn(n); // the successor takes the slot now; the old worker finishes what it holds
    const stopWhenIdle = () => {
      if (w.inFlight.size > 0) return void setTimeout(stopWhenIdle, 50).unref();
      w.child.kill('SIGTERM');
    };
    stopWhenIdle();
  }

  // M: the message kind a job of this kind is answered with (done for runs, pdone for pipeline runs; see onMessage).
  function submit<M extends Answer = DoneMessage>(job: Job, toOutcome: (m: M | Failure, p: Pending) => void): void {
    const started = performance.now();
    const p: Pending = {
      ...job,
      limits: normalizeLimits(job.limits),
      i: nextId++,
      startedAt: started,
      dispatchedAt: 0,
      deadlineAt: Infinity,
      closed: false,
      running: false,
      reads: job.readSecret ? createSecretReads(job.readSecret, caps, job.prefetch?.map(([vault, name]) => ({ vault, name }))) : undefined,
      answer(m) {
        if (p.closed) return;
        p.closed = true;
        clearTimeout(p.watchdog);
        p.worker?.inFlight.delete(p.i);
        pendings.delete(p.i);
        if (p.running) {
          p.running = false;
          const n = (runningByWorkspace.get(p.workspaceId) ?? 1) - 1;
          if (n > 0) runningByWorkspace.set(p.workspaceId, n);
          else runningByWorkspace.delete(p.workspaceId);
          // A slot of this workspace is free: something of it (or of another) may start. Deferred,
          // so that an answer given from inside pump() does not re-enter it.
          queueMicrotask(pump);
        } else unqueue(p);
        toOutcome(m as M | Failure, p);
      },
    };
    if (closing) return p.answer({ t: 'fail', code: 'worker_crashed', m: 'the runtime is closed' });
    pendings.set(p.i, p);
    const own = queues.get(p.workspaceId);
    const w = !own && hasRoom(p.workspaceId) ? pick(p.workspaceId) : undefined;
    if (w) return dispatch(w, p);
    if (queued >= maxQueue || (own?.length ?? 0) >= wsMaxQueue) {
      return p.answer({ t: 'fail', code: 'overloaded', m: 'the runtime is overloaded; try again later' });
    }
    if (own) own.push(p);
    else queues.set(p.workspaceId, [p]);
    queued++;
  }

  return {
    invoke(job) {
      return new Promise((resolve) => submit(job, (m, p) => resolve(toInvocationOutcome(m, p))));
    },
    validate(job) {
      return new Promise((resolve) => submit(job, (m) => resolve(toValidateResult(m))));
    },
    runPipeline(job) {
      return new Promise((resolve) => submit<PipeDoneMessage>({
        workspaceId: job.workspaceId, codeKey: '', script: '', limits: { timeoutMs: job.deadlineMs, memoryMb: MIN_LIMITS.memoryMb },
        argsJson: undefined, validateOnly: false, exposeSecrets: false, pipe: { job, reads: new Map() },
      }, (m) => resolve(m.t === 'pdone' || m.t === 'fail' ? m : { t: 'fail', code: 'worker_crashed', m: 'the worker answered a pipeline run as an invocation' })));
    },
    stats() {
      let busy = 0;
      let workers = 0;
      let active = 0;
      let idle = 0;
      for (const w of slots) if (w) { workers++; busy += w.inFlight.size; active += w.isolates[0]; idle += w.isolates[1]; }
      // A draining worker still holds its isolates until it exits; one that exited is in neither set.
      for (const w of retiring) { active += w.isolates[0]; idle += w.isolates[1]; }
      return { workers, busy, queued, restarts, recycles, isolates: { active, idle } };
    },
    workerPids() {
      return slots.filter((w): w is Worker => w?.ready === true).map((w) => w.pid);
    },
    peakRss() {
      return slots.filter((w): w is Worker => w?.ready === true).map((w) => ({ pid: w.pid, peakRssBytes: w.peakRss }));
    },
    close() {
      if (closing) return closing;
      clearInterval(rssTimer);
      const all = [...slots, ...retiring].filter((w): w is Worker => w !== undefined);
      closing = Promise.all(all.map((w) => new Promise<void>((resolve) => {
        if (w.child.exitCode !== null || w.child.signalCode !== null) return resolve();
        w.child.once('exit', () => resolve());
        w.child.kill('SIGKILL');
      }))).then(() => undefined);
      for (const p of [...pendings.values()]) p.answer({ t: 'fail', code: 'worker_crashed', m: 'the runtime was closed' });
      queues.clear();
      queued = 0;
      return closing;
    },
  };
}

function toInvocationOutcome(m: DoneMessage | Failure, p: Pending): InvocationOutcome {
  const now = performance.now();
  const durationMs = now - p.startedAt;
  // Never sent to a worker (overloaded, closed): none of the prefetched reads can have been made.
  if (m.t === 'fail') return { ok: false, code: asInvocationCode(m.code), message: m.m, logs: [], durationMs, cpuMs: 0, ...(p.prefetch && p.dispatchedAt === 0 ? { prefetchUsed: [] } : {}) };
  const timings = timingsOf(m.tm, p, now);
  // Redacted by the worker already (and the result, unless exposeSecrets).
  const logs: LogLine[] = Array.isArray(m.l) ? m.l.map((l) => ({ level: l.level, message: String(l.message), at: l.at })) : [];
  const cpuMs = typeof m.c === 'number' ? m.c : 0;
  // Indexes a worker reports are data: only those naming a prefetched read are kept.
  const used = p.prefetch ? { prefetchUsed: Array.isArray(m.pu) ? [...new Set(m.pu)].filter((i) => Number.isSafeInteger(i) && i >= 0 && i < p.prefetch!.length) : [] } : {};
  if (m.ok) {
    try {
      return { ok: true, result: JSON.parse(m.r), logs, durationMs, cpuMs, timings, ...used };
    } catch {
      return { ok: false, code: 'invalid_result', message: 'the result is not valid JSON', logs, durationMs, cpuMs, timings, ...used };
    }
  }
  return {
    ok: false, code: asInvocationCode(m.code), message: String(m.m), logs, durationMs, cpuMs, timings, ...used,
    ...(m.st ? { stack: String(m.st) } : {}),
  };
}

/**
 * Splits an answered invocation's time into stages: the gateway's queue and the worker's wait for an
 * isolate; the worker's own account of its time; what is left of the time since dispatch is IPC.
 * The worker's figures are only numbers it reports, clamped so a wrong one cannot go negative.
 */
function timingsOf(tm: unknown, p: Pending, now: number): InvocationTimings | undefined {
  if (!Array.isArray(tm) || tm.length !== 4 || !tm.every((x) => typeof x === 'number' && x >= 0) || p.dispatchedAt === 0) return undefined;
  const [workerQueue, secretWait, redaction, workerTotal] = tm as number[];
  const sinceDispatch = now - p.dispatchedAt;
  const inWorker = Math.min(workerTotal, sinceDispatch);
  return {
    queueMs: p.dispatchedAt - p.startedAt + Math.min(workerQueue, inWorker),
    ipcMs: sinceDispatch - inWorker,
    sandboxMs: Math.max(0, inWorker - workerQueue - secretWait - redaction),
    secretReadsMs: Math.min(secretWait, inWorker),
    redactionMs: Math.min(redaction, inWorker),
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

const normalizedLimits = (limits: FunctionLimits) => {
  const l = normalizeLimits(limits);
  return { to: l.timeoutMs, mb: l.memoryMb };
};

/** FNV-1a: a stable, cheap spread of workspaces over workers. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
