// One sandbox worker alone (runtime/worker.ts), driven over IPC the way the gateway drives it, with
// no HTTP, database or gateway work: what an invocation costs the worker process, in wall time per
// invocation and in CPU per invocation of its main thread and of its other threads (isolated-vm's
// isolate threads, V8's helpers), read from /proc. The driver answers secret reads at once. Given
// another checkout, runs its worker and this one's in alternation, so both meet the same noise.
//   node --no-node-snapshot bench/worker-ipc.ts [/path/to/other/checkout]
//   WORKER_IPC_ROUNDS=3 WORKER_IPC_SECONDS=3
import fs from 'node:fs';
import path from 'node:path';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { compileFunction } from '../runtime/index.ts';
import type { FromWorker } from '../runtime/protocol.ts';
import { HELLO, TWO_SECRETS } from './harness.ts';

const ROUNDS = Number(process.env.WORKER_IPC_ROUNDS ?? 3);
const SECONDS = Number(process.env.WORKER_IPC_SECONDS ?? 3);
const thisRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const roots = [thisRoot, ...(process.argv[2] ? [path.resolve(process.argv[2])] : [])];

function script(code: string): string {
  const c = compileFunction(code);
  if (!c.ok) throw new Error(c.message);
  return c.script;
}
const SCRIPTS = { hello: script(HELLO), secrets: script(TWO_SECRETS) };
type Fn = keyof typeof SCRIPTS;

/** CPU time (ms) of each thread of a process so far: the main thread, and all others together. */
function threadCpu(pid: number): { main: number; other: number } {
  const out = { main: 0, other: 0 };
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try { stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'); } catch { continue; } // the thread just ended
    const f = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
    const ms = (Number(f[11]) + Number(f[12])) * 10; // utime + stime, in 10 ms clock ticks
    if (tid === String(pid)) out.main += ms; else out.other += ms;
  }
  return out;
}

async function startWorker(root: string) {
  const child = fork(path.join(root, 'runtime/worker.ts'), [], {
    execArgv: ['--no-node-snapshot'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { COFFER_MAX_ISOLATES: '32', COFFER_ISOLATES_PER_WORKSPACE: '8', COFFER_ISOLATE_IDLE_MS: '60000' },
  });
  await new Promise((resolve) => child.once('message', resolve));
  const waiting = new Map<number, () => void>();
  child.on('message', (batch: FromWorker | FromWorker[]) => {
    for (const m of Array.isArray(batch) ? batch : [batch]) {
      if (m.t === 'done') { waiting.get(m.i)?.(); waiting.delete(m.i); }
      else if (m.t === 'sec') child.send({ t: 'sec', i: m.i, r: m.r, s: 0, x: m.n.map((n) => `value of ${n}`) });
    }
  });
  let next = 1;
  const sent = new Set<Fn>();
  const invoke = (fn: Fn) => new Promise<void>((resolve) => {
    const i = next++;
    waiting.set(i, resolve);
    const s = sent.has(fn) ? undefined : SCRIPTS[fn];
    sent.add(fn);
    child.send({ t: 'run', i, w: 'bench', k: fn, to: 5000, mb: 128, a: '{"name":"bench"}', ...(s ? { s } : {}) });
  });
  const load = async (fn: Fn, concurrency: number, seconds: number) => {
    let n = 0;
    const end = performance.now() + seconds * 1000;
    await Promise.all(Array.from({ length: concurrency }, async () => { while (performance.now() < end) { await invoke(fn); n++; } }));
    return n;
  };
  return { pid: child.pid!, load, stop: () => child.kill() };
}

const workers = await Promise.all(roots.map(startWorker));
try {
  for (const w of workers) { await w.load('hello', 8, 1); await w.load('secrets', 8, 1); } // warm-up
  for (let round = 1; round <= ROUNDS; round++) {
    console.log(`round ${round}`);
    for (const [fn, concurrency] of [['hello', 1], ['hello', 8], ['secrets', 1], ['secrets', 8]] as const) {
      for (const [k, w] of workers.entries()) {
        const before = threadCpu(w.pid);
        const started = performance.now();
        const n = await w.load(fn, concurrency, SECONDS);
        const elapsed = performance.now() - started;
        const after = threadCpu(w.pid);
        const label = roots.length > 1 ? (k === 0 ? 'this ' : 'other') : '';
        console.log(`  ${label} ${`${fn} c${concurrency}`.padEnd(11)} ${(n / elapsed * 1000).toFixed(0).padStart(5)}/s, ${(elapsed / n * concurrency).toFixed(3)} ms each; ` +
          `CPU ms per invocation: main thread ${((after.main - before.main) / n).toFixed(3)}, other threads ${((after.other - before.other) / n).toFixed(3)}`);
      }
    }
  }
} finally {
  for (const w of workers) w.stop();
}
