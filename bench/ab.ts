// A/B of two builds on this machine, side by side: the bench server of another checkout (A) and of
// this one (B) run at once, and each figure is taken in short windows that alternate between them
// (the first of each pair taking turns), so that both meet the same minutes of a shared machine's
// noise. Prints, per figure, the median of each side's windows and how many pairs B won. What one
// `npm run bench` run says can move by 2x from one minute to the next here; a change is kept when it
// wins most pairs. Nothing is written to bench/results.
//   node --no-node-snapshot bench/ab.ts /path/to/other/checkout
//   AB_FIGURES=hello:1,secrets:16,pipeline:1 AB_PAIRS=8 AB_WINDOW_S=2 BENCH_DRIVER=postgres ...
// (hello and secrets are invocations of bench/harness.ts's functions; pipeline is the 3-step
// pipeline of bench/pipeline.ts over GraphQL.) AB_ENV_A / AB_ENV_B: JSON of environment variables
// for one side's server only, e.g. AB_ENV_B='{"COFFER_WORKERS":"1"}' with this checkout on both sides.)
// The other checkout needs its node_modules (a symlink to this one's is enough).
import http from 'node:http';
import path from 'node:path';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { client, deployBenchFunctions, type Call } from './harness.ts';
import { deployPipeline, runPipeline } from './pipeline.ts';

interface Window { p50: number; p99: number; perSecond: number }

const otherRoot = process.argv[2];
if (!otherRoot) throw new Error('usage: bench/ab.ts <path of the checkout to compare with (A)>');
const thisRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PAIRS = Number(process.env.AB_PAIRS ?? 6);
const WINDOW_S = Number(process.env.AB_WINDOW_S ?? 1.5);
const FIGURES = (process.env.AB_FIGURES ?? 'hello:1,hello:16,secrets:1,secrets:16').split(',').map((f) => {
  const [fn, c] = f.split(':');
  return { fn, concurrency: Number(c) };
});

async function start(root: string, extraEnv: string | undefined) {
  const child = fork(path.join(root, 'bench/server.ts'), [], {
    env: { ...process.env, BENCH_DRIVER: process.env.BENCH_DRIVER ?? 'pglite-disk', ...(extraEnv ? JSON.parse(extraEnv) as Record<string, string> : {}) },
    execArgv: ['--no-node-snapshot'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const info = await new Promise<{ url: string; adminKey: string }>((resolve, reject) => {
    child.once('message', (m) => resolve(m as { url: string; adminKey: string }));
    child.once('exit', (code) => reject(new Error(`bench server of ${root} exited (${code})`)));
  });
  const call: Call = client(new http.Agent({ keepAlive: true, maxSockets: 64 }), info.adminKey)(new URL(info.url));
  await deployBenchFunctions(call);
  if (FIGURES.some((f) => f.fn === 'pipeline')) await deployPipeline(call, 'bench');
  return { call, stop: () => child.kill('SIGTERM') };
}

async function window(call: Call, fn: string, concurrency: number): Promise<Window> {
  const times: number[] = [];
  const started = performance.now();
  const end = started + WINDOW_S * 1000;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      if (fn === 'pipeline') {
        if (!(await runPipeline(call, 'bench'))) throw new Error('the pipeline run failed');
      } else {
        const r = await call('POST', `/v1/workspaces/bench/functions/${fn}/invoke`, { args: { name: 'ab' } });
        if (r.status !== 200) throw new Error(`${fn}: ${r.status} ${r.text}`);
      }
      times.push(performance.now() - t0);
    }
  }));
  times.sort((a, b) => a - b);
  const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))];
  return { p50: at(0.5), p99: at(0.99), perSecond: times.length / ((performance.now() - started) / 1000) };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const fixed = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(2));

const a = await start(path.resolve(otherRoot), process.env.AB_ENV_A);
const b = await start(thisRoot, process.env.AB_ENV_B);
try {
  for (const { fn, concurrency } of FIGURES) { await window(a.call, fn, concurrency); await window(b.call, fn, concurrency); } // warm-up
  console.log(`A ${path.resolve(otherRoot)}, B ${thisRoot}: ${PAIRS} pairs of ${WINDOW_S} s windows per figure, ${process.env.BENCH_DRIVER ?? 'pglite-disk'}`);
  for (const { fn, concurrency } of FIGURES) {
    const as: Window[] = [];
    const bs: Window[] = [];
    for (let pair = 0; pair < PAIRS; pair++) {
      if (pair % 2 === 0) { as.push(await window(a.call, fn, concurrency)); bs.push(await window(b.call, fn, concurrency)); }
      else { bs.push(await window(b.call, fn, concurrency)); as.push(await window(a.call, fn, concurrency)); }
    }
    const side = (w: Window[]) => `p50 ${fixed(median(w.map((x) => x.p50)))} ms, p99 ${fixed(median(w.map((x) => x.p99)))} ms, ${fixed(median(w.map((x) => x.perSecond)))}/s`;
    const wins = (better: (x: Window, y: Window) => boolean) => as.filter((x, i) => better(x, bs[i])).length;
    console.log(`  ${`${fn} c${concurrency}`.padEnd(12)} A ${side(as)} | B ${side(bs)} | B won p50 ${wins((x, y) => y.p50 < x.p50)}/${PAIRS}, throughput ${wins((x, y) => y.perSecond > x.perSecond)}/${PAIRS}`);
  }
} finally {
  a.stop();
  b.stop();
}
