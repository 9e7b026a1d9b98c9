// The baseline the runtime's throughput is compared with: the hello function run in a bare
// isolated-vm loop (one isolate, the script compiled once, a fresh context per call, the argument
// copied in, the promise awaited, the result copied out), with no IPC, bridge, limits or redaction.
// Warmed up like the server before its figures are taken, at each concurrency.
// It runs in a forked child, kept for the whole bench, so that the bench's own process never loads
// isolated-vm; the bench asks it for windows of load in turn with its own (invoke.bench.ts).
import { fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { compileFunction } from '../runtime/index.ts';
import { warmUntilSteady } from './sample.ts';

export interface BareLoopFigures { p50Ms: number; p99Ms: number; perSecond: number }

const HELLO = 'export default async (args) => ({ hello: args.name })';
const SELF = fileURLToPath(import.meta.url);

/** A bare loop kept running in its child, to take windows of load in turn with the server's (see invoke.bench.ts). */
export interface BareLoopServer {
  /** One window at `concurrency` (warmed up at its first window of that concurrency): each call's time in ms, and the window's length. */
  window(concurrency: number, seconds: number): Promise<{ times: number[]; elapsedS: number }>;
  stop(): void;
}

export function startBareLoop(): BareLoopServer {
  const child = fork(SELF, ['serve'], { execPath: process.execPath, execArgv: ['--no-node-snapshot'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let waiting: { resolve: (w: { times: number[]; elapsedS: number }) => void; reject: (e: Error) => void } | undefined;
  child.on('message', (m) => { waiting?.resolve(m as { times: number[]; elapsedS: number }); waiting = undefined; });
  child.on('exit', (code) => { waiting?.reject(new Error(`bare loop child exited with ${code}`)); waiting = undefined; });
  return {
    window(concurrency, seconds) {
      return new Promise((resolve, reject) => {
        waiting = { resolve, reject };
        child.send({ concurrency, seconds });
      });
    },
    stop: () => { child.kill(); },
  };
}

function createLoop() {
  const ivm = createRequire(import.meta.url)('isolated-vm') as typeof import('isolated-vm');
  const compiled = compileFunction(HELLO);
  if (!compiled.ok) throw new Error(compiled.message);
  const isolate = new ivm.Isolate({ memoryLimit: 128 });
  const script = isolate.compileScriptSync(compiled.script);
  const call = async (times: number[]) => {
    const t0 = performance.now();
    const context = await isolate.createContext();
    const factory = await script.run(context, { reference: true });
    const fn = await factory.apply(undefined, [], { result: { promise: true, reference: true } });
    const result = await fn.apply(undefined, [{ name: 'bench' }], { arguments: { copy: true }, result: { promise: true, copy: true } });
    if ((result as { hello?: string }).hello !== 'bench') throw new Error('wrong result');
    fn.release(); factory.release(); context.release();
    times.push(performance.now() - t0);
  };
  /** Calls at `concurrency` for `ms`: each call's time, and how long the window took (s). */
  const window = async (concurrency: number, ms: number) => {
    const times: number[] = [];
    const started = performance.now();
    const until = started + ms;
    await Promise.all(Array.from({ length: concurrency }, async () => { while (performance.now() < until) await call(times); }));
    return { times, elapsedS: (performance.now() - started) / 1000 };
  };
  // Warm-up as the server's (invoke.bench.ts), at the figure's concurrency, in half-second windows
  // (one isolate warms sooner than the server's 16).
  const warmUp = (concurrency: number) => warmUntilSteady(async () => (await window(concurrency, 500)).times.length, 3, 40);
  return { window, warmUp };
}

function serveWindows(): void {
  const loop = createLoop();
  const warm = new Set<number>();
  process.on('message', async (m: { concurrency: number; seconds: number }) => {
    if (!warm.has(m.concurrency)) {
      await loop.warmUp(m.concurrency);
      warm.add(m.concurrency);
    }
    process.send!(await loop.window(m.concurrency, m.seconds * 1000));
  });
  process.on('disconnect', () => process.exit(0));
}

if (process.argv[1] === SELF && process.argv[2] === 'serve') serveWindows();
