// Invocation latency and throughput through the real server, compared with a bare isolated-vm loop.
// Starts Coffer on a loopback port (in-memory PGlite, or a fresh database on DATABASE_URL's server),
// deploys a hello function and a function reading two secrets, and prints p50/p99 latency and
// invocations/s at concurrency 1 and 16, the cold first invocation after a deploy, and ratios to
// the bare loop, plus the pipeline and executor figures (bench/pipeline.ts, bench/executors.ts).
// Targets are printed beside the figures; nothing fails on a timing.
//   npm run bench                 BENCH_SECONDS=5 npm run bench        BENCH_ONLY=pipeline npm run bench
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import http from 'node:http';
import { fork } from 'node:child_process';
import { bareLoop, type BareLoopFigures } from './bare-loop.ts';
import { pipelineBench, pipelineLine } from './pipeline.ts';
import { containmentBench, printContainment } from './containment.ts';
import { executorBench, executorLines } from './executors.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
/** Hello at concurrency 16 for this long, sampling the memory of the gateway and its workers. */
const SOAK_SECONDS = Number(process.env.BENCH_SOAK_SECONDS ?? 10);
const COLD_DEPLOYS = Number(process.env.BENCH_COLD_DEPLOYS ?? 7);
const HELLO = 'export default async (args) => ({ hello: args.name })';
const TWO_SECRETS = `export default async (args) => {
  const a = await tailor.secretmanager.getSecret("default", "test-secret-1");
  const b = await tailor.secretmanager.getSecret("default", "test-secret-2");
  return { hello: args.name, lengths: [a.length, b.length] };
}`;

interface Figures { p50Ms: number; p99Ms: number; perSecond: number; count: number; errors: number }

const quantile = (sorted: number[], q: number) => sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;

/** Resident memory of a process and of its children (the sandbox workers), in MB, from /proc (Linux). */
function memoryOf(pid: number): { gatewayMb: number; workersMb: number; workers: number } | undefined {
  const rss = (p: number) => {
    const line = fs.readFileSync(`/proc/${p}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
    return line ? Number(line.split(/\s+/)[1]) / 1024 : 0;
  };
  try {
    const children = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    return { gatewayMb: round(rss(pid), 0), workersMb: round(children.reduce((sum, c) => sum + rss(c), 0), 0), workers: children.length };
  } catch {
    return undefined;
  }
}

/** Starts bench/server.ts in a child process and waits for its address. */
async function startServer(env: Record<string, string> = {}) {
  const child = fork(fileURLToPath(new URL('./server.ts', import.meta.url)), [], {
    env: { ...process.env, ...env },
    // BENCH_CPU_PROFILE=dir writes a V8 CPU profile of the server process there.
    execArgv: ['--no-node-snapshot', ...(process.env.BENCH_CPU_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROFILE}`] : [])], stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  type Info = { url: string; adminKey: string; driver: string; databaseUrl?: string; masterKey: string };
  const info = await new Promise<Info>((resolve, reject) => {
    child.once('message', (m) => resolve(m as Info));
    child.once('exit', (code) => reject(new Error(`bench server exited (${code})`)));
  });
  const stopped = new Promise((resolve) => child.once('exit', resolve));
  return { ...info, pid: child.pid!, async stop() { child.kill('SIGTERM'); await stopped; } };
}

async function main() {
  const server = await startServer();
  const { adminKey } = server;
  const running = { url: server.url };
  const database = { driver: server.driver };
  const headers = { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' };
  // Keep-alive connections and node:http (lighter than fetch), as a load tool would use.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const target = new URL(running.url);
  const callOn = (target: URL) => (method: string, p: string, body?: unknown, extra?: Record<string, string>) => new Promise<{ status: number; text: string }>((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    // An empty value in `extra` drops that header (webhooks are called without the API key).
    const base = Object.fromEntries(Object.entries({ ...headers, ...extra }).filter(([, v]) => v !== ''));
    const req = http.request({
      agent, host: target.hostname, port: target.port, method, path: p,
      headers: payload === undefined ? base : { ...base, 'content-length': Buffer.byteLength(payload) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(payload);
  });
  const call = callOn(target);
  const must = async (method: string, p: string, body: unknown, ...ok: number[]) => {
    const r = await call(method, p, body);
    if (!ok.includes(r.status)) throw new Error(`${method} ${p}: ${r.status} ${r.text}`);
    return r;
  };

  try {
    await must('POST', '/v1/workspaces', { name: 'bench' }, 201);
    await must('POST', '/v1/vaults', { name: 'default' }, 201);
    await must('PUT', '/v1/vaults/default/secrets/test-secret-1', { value: 'secret-value-1' }, 201);
    await must('PUT', '/v1/vaults/default/secrets/test-secret-2', { value: 'secret-value-2' }, 201);
    await must('POST', '/v1/vaults/default/grants', { workspace: 'bench', role: 'reader' }, 201);
    await must('PUT', '/v1/workspaces/bench/functions/hello', { code: HELLO }, 201);
    await must('PUT', '/v1/workspaces/bench/functions/secrets', { code: TWO_SECRETS }, 201);

    const invoke = (fn: string) => call('POST', `/v1/workspaces/bench/functions/${fn}/invoke`, { args: { name: 'bench' } });
    const measure = async (fn: string, concurrency: number, seconds = SECONDS): Promise<Figures> => {
      const times: number[] = [];
      let errors = 0;
      const end = performance.now() + seconds * 1000;
      const started = performance.now();
      await Promise.all(Array.from({ length: concurrency }, async () => {
        while (performance.now() < end) {
          const t0 = performance.now();
          const r = await invoke(fn);
          times.push(performance.now() - t0);
          if (r.status !== 200) errors++;
        }
      }));
      const elapsed = (performance.now() - started) / 1000;
      times.sort((a, b) => a - b);
      return { p50Ms: round(quantile(times, 0.5)), p99Ms: round(quantile(times, 0.99)), perSecond: round(times.length / elapsed, 0), count: times.length, errors };
    };

    process.stdout.write(`coffer invoke bench: ${database.driver}, ${SECONDS}s per figure, ${os.availableParallelism()} cores\n`);
    // Warm-up at the highest concurrency measured, so every worker's isolate pool is filled and
    // compiled (what a steady-state service has) before any figure is taken.
    await measure('hello', 16, 1);
    await measure('secrets', 16, 1);

    // BENCH_ONLY=pipeline: only the pipeline figure (quicker, and kinder to a shared machine).
    if (process.env.BENCH_ONLY === 'pipeline') {
      process.stdout.write(`${pipelineLine(await pipelineBench(call, 'bench', SECONDS))}\n`);
      return;
    }
    const hello1 = await measure('hello', 1);
    const hello16 = await measure('hello', 16);
    const secrets1 = await measure('secrets', 1);
    const secrets16 = await measure('secrets', 16);

    const pipeline = await pipelineBench(call, 'bench', SECONDS);
    // With PostgreSQL, a second gateway on the same database for the two-gateway jobs/s figure.
    // Started only for that figure, so it does not load the machine during the others.
    const startSecond = database.driver === 'postgres' && server.databaseUrl
      ? async () => {
        const second = await startServer({ BENCH_JOIN: JSON.stringify({ databaseUrl: server.databaseUrl, masterKey: server.masterKey, adminKey }) });
        return { call: callOn(new URL(second.url)), stop: () => second.stop() };
      }
      : undefined;
    const executors = await executorBench(call, 'bench', SECONDS, startSecond);

    const cold: number[] = [];
    for (let n = 0; n < COLD_DEPLOYS; n++) {
      await must('PUT', '/v1/workspaces/bench/functions/cold', { code: `${HELLO}\n// deploy ${n} ${crypto.randomUUID()}` }, 200, 201);
      const t0 = performance.now();
      const r = await invoke('cold');
      if (r.status !== 200) throw new Error(`cold invoke: ${r.status} ${r.text}`);
      cold.push(performance.now() - t0);
    }
    cold.sort((a, b) => a - b);
    const coldMedian = round(quantile(cold, 0.5));

    // A soak: memory must level off rather than grow with the number of invocations.
    const memory: Array<{ atS: number; gatewayMb: number; workersMb: number; workers: number }> = [];
    const soakStart = performance.now();
    const sampler = setInterval(() => {
      const m = memoryOf(server.pid);
      if (m) memory.push({ atS: round((performance.now() - soakStart) / 1000, 1), ...m });
    }, 1000);
    const soak = await measure('hello', 16, SOAK_SECONDS);
    clearInterval(sampler);

    const bare1: BareLoopFigures = await bareLoop({ seconds: SECONDS, concurrency: 1 });
    const bare16: BareLoopFigures = await bareLoop({ seconds: SECONDS, concurrency: 16 });
    const containment = await containmentBench();

    const results = {
      at: new Date().toISOString(), driver: database.driver, seconds: SECONDS, cores: os.availableParallelism(), node: process.version,
      hello: { c1: hello1, c16: hello16 },
      twoSecrets: { c1: secrets1, c16: secrets16 },
      pipeline,
      executors,
      coldFirstInvocation: { medianMs: coldMedian, samplesMs: cold.map((t) => round(t)) },
      bareLoop: { c1: bare1, c16: bare16 },
      containment,
      soak: { seconds: SOAK_SECONDS, invocations: soak.count, perSecond: soak.perSecond, errors: soak.errors, memory },
      ratios: {
        helloP50ToBare: round(hello1.p50Ms / bare1.p50Ms),
        helloC1ThroughputOfBare: round(hello1.perSecond / bare1.perSecond, 3),
        helloC16ThroughputOfBare: round(hello16.perSecond / bare16.perSecond, 3),
        twoSecretsC16ThroughputOfBare: round(secrets16.perSecond / bare16.perSecond, 3),
      },
    };

    const line = (label: string, f: { p50Ms: number; p99Ms: number; perSecond: number; errors?: number }, target = '') =>
      `  ${label.padEnd(26)} p50 ${String(round(f.p50Ms)).padStart(7)} ms   p99 ${String(round(f.p99Ms)).padStart(7)} ms   ${String(round(f.perSecond, 0)).padStart(6)}/s${f.errors ? `   ${f.errors} errors` : ''}${target ? `   target: ${target}` : ''}`;
    const mark = (ok: boolean) => (ok ? 'met' : 'MISSED');
    process.stdout.write([
      line('hello, c1', hello1, `p50 <= 3 ms, p99 <= 15 ms (${mark(hello1.p50Ms <= 3 && hello1.p99Ms <= 15)})`),
      line('hello, c16', hello16),
      line('2 secrets, c1', secrets1, `p50 <= 4 ms (${mark(secrets1.p50Ms <= 4)})`),
      line('2 secrets, c16', secrets16),
      pipelineLine(pipeline),
      executorLines(executors),
      `  ${'cold (first after deploy)'.padEnd(26)} median ${coldMedian} ms of ${cold.length} deploys   target: <= 50 ms (${mark(coldMedian <= 50)})`,
      memory.length > 1
        ? `  ${'soak, hello c16'.padEnd(26)} ${soak.count} invocations in ${SOAK_SECONDS}s: gateway RSS ${memory[0].gatewayMb} -> ${memory[memory.length - 1].gatewayMb} MB, ` +
          `${memory[memory.length - 1].workers} workers ${memory[0].workersMb} -> ${memory[memory.length - 1].workersMb} MB (max ${Math.max(...memory.map((m) => m.workersMb))} MB)`
        : `  ${'soak, hello c16'.padEnd(26)} ${soak.count} invocations (no /proc: memory not sampled)`,
      line('bare isolated-vm, c1', bare1),
      line('bare isolated-vm, c16', bare16),
      `  ratios: hello p50 ${results.ratios.helloP50ToBare}x bare; throughput c1 ${round(results.ratios.helloC1ThroughputOfBare * 100, 0)}% of bare, ` +
        `c16 ${round(results.ratios.helloC16ThroughputOfBare * 100, 0)}% of bare (target >= 40%: ${mark(results.ratios.helloC16ThroughputOfBare >= 0.4)}), ` +
        `2 secrets c16 ${round(results.ratios.twoSecretsC16ThroughputOfBare * 100, 0)}% of bare`,
      '',
    ].join('\n'));
    printContainment(containment);

    const out = fileURLToPath(new URL('./results/latest.json', import.meta.url));
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, JSON.stringify(results, null, 2) + '\n');
    process.stdout.write(`  written to ${path.relative(process.cwd(), out)}\n`);
  } finally {
    agent.destroy();
    await server.stop();
  }
}

main().then(() => process.exit(0), (err) => {
  process.stderr.write(`bench failed: ${err?.stack ?? err}\n`);
  process.exit(1);
});
