// The three containment measurements of the runtime-containment work, on the real runtime (real
// workers, real isolates), without the HTTP server:
// - redaction cost: 100 values of 16 KiB against 256 KiB of logs, in the redactor alone and in a
//   whole invocation, beside the same invocation with no secrets read;
// - a worker's peak RSS under each allocation trick that escaped isolated-vm's memory limit before
//   the features were taken out, beside a hello's;
// - the latency another workspace's hello sees while one workspace saturates its quota with
//   invocations that hold their slot (never-settling promises) and that burn CPU.
// Figures only; nothing fails on a timing.   node --no-node-snapshot bench/containment.ts
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { compileFunction, createRedactor, createRuntime, workerPeakRss, type InvocationRequest, type Runtime, type SecretReader } from '../runtime/index.ts';

const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;
const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
const median = (xs: number[]) => quantile([...xs].sort((a, b) => a - b), 0.5);

let seq = 0;
function request(code: string, over: Partial<InvocationRequest> = {}): InvocationRequest {
  const compiled = compileFunction(code);
  if (!compiled.ok) throw new Error(`bench function does not compile: ${compiled.message}`);
  return {
    invocationId: `bench-${++seq}`, workspaceId: 'ws-a', codeKey: `bench:${crypto.createHash('sha256').update(code).digest('hex')}`,
    script: compiled.script, limits: { timeoutMs: 10_000, memoryMb: 128 }, args: null, exposeSecrets: false, ...over,
  };
}

const VALUES = Array.from({ length: 100 }, () => crypto.randomBytes(12_288).toString('base64')); // 16 KiB each
const reader: SecretReader = async (_vault, name) => VALUES[Number(name.slice(2))];

export interface RedactionFigures { buildMs: number; scanMs: number; withSecretsMs: number; withoutSecretsMs: number }

export async function redactionCost(): Promise<RedactionFigures> {
  // 256 KiB of log text with ten of the values embedded in it.
  let logs = '';
  for (let i = 0; logs.length < 256 * 1024; i++) logs += i % 32 === 0 ? `token=${VALUES[i % 100]}\n` : `line ${i}: nothing secret here, just text\n`;
  const builds: number[] = [], scans: number[] = [];
  for (let i = 0; i < 5; i++) {
    let t = performance.now();
    const redactor = createRedactor(VALUES);
    builds.push(performance.now() - t);
    t = performance.now();
    const out = redactor.text(logs);
    scans.push(performance.now() - t);
    if (out.includes(VALUES[0])) throw new Error('redaction missed a value');
  }
  const rt = createRuntime({ workers: 1 });
  try {
    const code = (read: boolean) => `export default async () => {
      ${read ? 'const names = Array.from({ length: 100 }, (_, i) => "s-" + i); const got = await tailor.secretmanager.getSecrets("v", names);' : 'const got = {};'}
      const line = "x".repeat(1000);
      for (let i = 0; i < 256; i++) console.log(i % 64 === 0 && got["s-" + i] ? "value " + got["s-" + i] : line);
      return Object.keys(got).length;
    }`;
    const timed = async (read: boolean) => {
      const ds: number[] = [];
      for (let i = 0; i < 7; i++) {
        const t = performance.now();
        const outcome = await rt.invoke(request(code(read), { limits: { timeoutMs: 10_000, memoryMb: 128 } }), reader);
        if (!outcome.ok) throw new Error(`redaction invocation failed: ${outcome.code}`);
        ds.push(performance.now() - t);
      }
      return median(ds.slice(2));
    };
    return { buildMs: round(median(builds)), scanMs: round(median(scans)), withSecretsMs: round(await timed(true)), withoutSecretsMs: round(await timed(false)) };
  } finally {
    await rt.close();
  }
}

const TRICKS: [string, string][] = [
  ['hello (baseline)', 'export default () => ({ hello: "world" })'],
  ['resizable ArrayBuffer to 400 MiB', 'export default () => { const b = new ArrayBuffer(0, { maxByteLength: 2 ** 30 }); b.resize(400 * 2 ** 20); return b.byteLength; }'],
  ['WebAssembly.Memory 16000 pages', 'export default () => new WebAssembly.Memory({ initial: 16000 }).buffer.byteLength'],
  ['growable SharedArrayBuffer', 'export default () => { const b = new SharedArrayBuffer(0, { maxByteLength: 2 ** 30 }); b.grow(400 * 2 ** 20); return b.byteLength; }'],
  ['one 400 MiB ArrayBuffer', 'export default () => new ArrayBuffer(400 * 2 ** 20).byteLength'],
  ['400 x 1 MiB Uint8Arrays kept', 'export default () => { const keep = []; for (let i = 0; i < 400; i++) keep.push(new Uint8Array(2 ** 20)); return keep.length; }'],
  ['string doubling', 'export default () => { let s = "x"; for (;;) s += s; }'],
  ['array of objects', 'export default () => { const a = []; for (;;) a.push({ i: a.length, s: "y" + a.length }); }'],
];

export interface RssFigures { trick: string; outcome: string; peakRssMb: number }

export async function peakRssPerTrick(): Promise<RssFigures[]> {
  const figures: RssFigures[] = [];
  for (const [trick, code] of TRICKS) {
    // A fresh runtime per trick, so each peak is that trick's own.
    const rt = createRuntime({ workers: 1 });
    try {
      const outcome = await rt.invoke(request(code, { limits: { timeoutMs: 3000, memoryMb: 8 } }), reader);
      const peak = Math.max(0, ...workerPeakRss(rt).map((w) => w.peakRssBytes));
      figures.push({ trick, outcome: outcome.ok ? `ok (${JSON.stringify(outcome.result)})` : outcome.code, peakRssMb: round(peak / 2 ** 20, 0) });
    } finally {
      await rt.close();
    }
  }
  return figures;
}

export interface FairnessFigures { load: string; aloneP50Ms: number; aloneP99Ms: number; saturatedP50Ms: number; saturatedP99Ms: number; neighbourAnswers: Record<string, number> }

async function helloLatencies(rt: Runtime, n: number): Promise<number[]> {
  const hello = request('export default () => ({ hello: "b" })', { workspaceId: 'ws-b' });
  const ds: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const outcome = await rt.invoke({ ...hello, invocationId: `b-${i}` }, reader);
    if (!outcome.ok) throw new Error(`neighbour hello failed: ${outcome.code}`);
    ds.push(performance.now() - t);
  }
  return ds.sort((a, b) => a - b);
}

export async function crossWorkspaceLatency(load: 'sleeping' | 'burning CPU'): Promise<FairnessFigures> {
  const rt = createRuntime({ workers: 2 });
  try {
    await helloLatencies(rt, 20); // warm both workspaces' code paths
    const alone = await helloLatencies(rt, 200);
    // Workspace A: 40 invocations that hold their slot until their timeout (idle, or burning CPU),
    // submitted again as each one ends, so A stays at its cap (and its queue full) for the whole run.
    const sleeper = request('export default () => new Promise(() => {})', { limits: { timeoutMs: 1500, memoryMb: 32 } });
    const burner = request('export default () => { for (;;) {} }', { limits: { timeoutMs: 1500, memoryMb: 32 } });
    const answers: Record<string, number> = {};
    let stop = false;
    const loop = async (base: InvocationRequest, k: number) => {
      for (let i = 0; !stop; i++) {
        const outcome = await rt.invoke({ ...base, invocationId: `a-${k}-${i}` }, reader);
        const key = outcome.ok ? 'ok' : outcome.code;
        answers[key] = (answers[key] ?? 0) + 1;
        if (key === 'overloaded') await new Promise((r) => setTimeout(r, 50));
      }
    };
    const loops = Array.from({ length: 40 }, (_, k) => loop(load === 'sleeping' ? sleeper : burner, k));
    await new Promise((r) => setTimeout(r, 300));
    const saturated = await helloLatencies(rt, 200);
    stop = true;
    await Promise.all(loops);
    return {
      load, aloneP50Ms: round(quantile(alone, 0.5), 2), aloneP99Ms: round(quantile(alone, 0.99), 2),
      saturatedP50Ms: round(quantile(saturated, 0.5), 2), saturatedP99Ms: round(quantile(saturated, 0.99), 2),
      neighbourAnswers: answers,
    };
  } finally {
    await rt.close();
  }
}

export async function containmentBench() {
  return { redaction: await redactionCost(), rss: await peakRssPerTrick(), fairness: [await crossWorkspaceLatency('sleeping'), await crossWorkspaceLatency('burning CPU')] };
}

export function printContainment(f: Awaited<ReturnType<typeof containmentBench>>) {
  const r = f.redaction;
  console.log('\nContainment (runtime only, no HTTP)');
  console.log(`  redaction, 100 values of 16 KiB: build ${r.buildMs} ms, scan of 256 KiB of logs ${r.scanMs} ms`);
  console.log(`  invocation reading them and logging 256 KiB: ${r.withSecretsMs} ms p50; same logs, no secrets: ${r.withoutSecretsMs} ms`);
  console.log('  worker peak RSS with memoryMb 8:');
  for (const x of f.rss) console.log(`    ${x.trick.padEnd(36)} ${String(x.peakRssMb).padStart(5)} MB   ${x.outcome}`);
  for (const q of f.fairness) {
    console.log(`  another workspace's hello while one workspace holds its quota ${q.load}: p50 ${q.saturatedP50Ms} ms p99 ${q.saturatedP99Ms} ms`
      + ` (alone: p50 ${q.aloneP50Ms} ms p99 ${q.aloneP99Ms} ms; target for sleeping: within a few ms of alone)`);
    console.log(`    the saturating workspace's answers: ${JSON.stringify(q.neighbourAnswers)}`);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  printContainment(await containmentBench());
}
