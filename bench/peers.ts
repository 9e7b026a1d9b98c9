// `npm run bench:peers`: the two bench functions (hello, and one reading two secrets) on Coffer and
// on workerd (Cloudflare's open-source Workers runtime, installed on demand: workerd.ts), loaded by
// the same load generator (autocannon) in the same run at concurrency 1 and 16, each Coffer figure
// right beside its workerd figure so that the machine's load falls on both alike. Prints p50, p99
// and throughput with the Coffer / workerd ratios, and Coffer's stage breakdown per figure.
// workerd reuses one context across requests and checks nothing; Coffer gives every invocation a
// fresh context, authenticates, checks a grant per read, audits and redacts.
//   npm run bench:peers        BENCH_SECONDS=5 npm run bench:peers -- --driver postgres
import autocannon from 'autocannon';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { client, deployBenchFunctions, startServer } from './harness.ts';
import { stageFigures, stageLine, stageMeter, type StageFigure } from './stages.ts';
import { ensureWorkerd, startWorkerd, WORKERD_VERSION } from './workerd.ts';
import { memoryOf } from './proc-memory.ts';
import { writeResults } from './results.ts';

const { values: flags } = parseArgs({ options: { driver: { type: 'string' } } });
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const DRIVER = flags.driver ?? process.env.BENCH_DRIVER ?? 'pglite-disk';
const BODY = JSON.stringify({ args: { name: 'bench' } });

interface Load { p50Ms: number; p99Ms: number; meanMs: number; perSecond: number; count: number; errors: number; stages?: StageFigure[] }

const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;
const quantile = (sorted: number[], q: number) => sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

/**
 * One autocannon run. Its own latency histogram counts whole milliseconds, too coarse for workerd's
 * sub-millisecond answers, so latencies are taken from its per-response event (hrtime, in ms).
 */
async function load(url: string, connections: number, seconds: number, headers: Record<string, string> = {}): Promise<Load> {
  const times: number[] = [];
  let errors = 0;
  const started = performance.now();
  const instance = autocannon({ url, method: 'POST', body: BODY, headers: { 'content-type': 'application/json', ...headers }, connections, duration: seconds, pipelining: 1 });
  instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => { if (status === 200) times.push(ms); else errors++; });
  const result = await instance;
  const elapsed = (performance.now() - started) / 1000;
  times.sort((a, b) => a - b);
  const meanMs = round(times.reduce((a, b) => a + b, 0) / Math.max(1, times.length), 3);
  return { p50Ms: round(quantile(times, 0.5), 3), p99Ms: round(quantile(times, 0.99), 3), meanMs, perSecond: round(times.length / elapsed, 0), count: times.length, errors: errors + result.errors };
}

async function main() {
  const binary = ensureWorkerd((l) => process.stdout.write(l + '\n'));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-peers-'));
  const workerd = await startWorkerd(binary, dir);
  const server = await startServer({ BENCH_DRIVER: DRIVER });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  try {
    const call = client(agent, server.adminKey)(new URL(server.url));
    await deployBenchFunctions(call);
    const meter = stageMeter(async () => (await call('GET', '/v1/metrics')).text);
    const auth = { authorization: `Bearer ${server.adminKey}` };
    const cofferUrl = (fn: string) => `${server.url}/v1/workspaces/bench/functions/${fn}/invoke`;
    const coffer = async (fn: string, c: number, seconds = SECONDS) => {
      const stop = await meter.start();
      const f = await load(cofferUrl(fn), c, seconds, auth);
      return { ...f, stages: stageFigures(await stop(), f.count) };
    };
    process.stdout.write(`coffer vs workerd ${WORKERD_VERSION}: coffer on ${DRIVER}, autocannon, ${SECONDS}s per figure, ${os.availableParallelism()} cores, load ${os.loadavg()[0].toFixed(1)}\n`);
    // Warm-up: fill Coffer's isolate pools and let workerd compile its workers.
    for (const fn of ['hello', 'secrets'] as const) { await coffer(fn, 16, 1); await load(workerd.urls[fn], 16, 1); }

    const figures: Record<string, { coffer: Load; workerd: Load; p50Ratio: number; throughputRatio: number }> = {};
    const line = (label: string, f: Load) => `    ${label.padEnd(8)} p50 ${String(f.p50Ms).padStart(7)} ms   p99 ${String(f.p99Ms).padStart(7)} ms   ${String(f.perSecond).padStart(6)}/s${f.errors ? `   ${f.errors} errors` : ''}`;
    for (const fn of ['hello', 'secrets'] as const) {
      for (const c of [1, 16]) {
        const mine = await coffer(fn, c);
        const theirs = await load(workerd.urls[fn], c, SECONDS);
        const key = `${fn === 'hello' ? 'hello' : 'twoSecrets'}C${c}`;
        figures[key] = { coffer: mine, workerd: theirs, p50Ratio: round(mine.p50Ms / theirs.p50Ms, 1), throughputRatio: round(mine.perSecond / theirs.perSecond, 3) };
        process.stdout.write([
          `  ${fn === 'hello' ? 'hello' : '2 secrets'}, c${c}: coffer / workerd p50 ${figures[key].p50Ratio}x, throughput ${round(figures[key].throughputRatio * 100, 0)}%`,
          line('coffer', mine), line('workerd', theirs), `  ${stageLine(mine.stages ?? [], mine.count, mine.meanMs)}`, '',
        ].join('\n'));
      }
    }
    const memory = { coffer: memoryOf(server.pid) ?? null, workerd: memoryOf(workerd.pid) ?? null };
    if (memory.coffer && memory.workerd) {
      process.stdout.write(`  memory: coffer gateway ${memory.coffer.gatewayMb} MB + ${memory.coffer.workers} workers ${memory.coffer.workersMb} MB; workerd ${memory.workerd.gatewayMb} MB\n`);
    }
    const file = writeResults(`peers-${DRIVER}`, {
      driver: DRIVER, seconds: SECONDS, loadGenerator: `autocannon ${autocannonVersion()}`, workerd: WORKERD_VERSION, figures, memory,
    });
    process.stdout.write(`  written to ${file}\n`);
  } finally {
    agent.destroy();
    await server.stop();
    await workerd.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function autocannonVersion(): string {
  return (JSON.parse(fs.readFileSync(new URL('../node_modules/autocannon/package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

main().then(() => process.exit(0), (err) => {
  process.stderr.write(`bench:peers failed: ${err?.stack ?? err}\n`);
  process.exit(1);
});
