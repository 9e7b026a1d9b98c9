// The soak of `npm run bench -- --soak N`: N hello invocations at concurrency 16, the RSS of the
// gateway and of its workers sampled every second, and whether memory levels off: the median of
// the last quarter of samples against the median of the third quarter (no growth over the last
// half of the run means the two agree within a small allowance for allocator noise).
import { memoryOf, type MemorySample } from './proc-memory.ts';

export interface SoakSample { atS: number; invocations: number; gatewayMb: number; workersMb: number; workers: number }
export interface LevelOff {
  q3MedianMb: number; q4MedianMb: number; growthMb: number; levelsOff: boolean;
  /** Least-squares slope over the last half, MB per 100,000 invocations: a sawtooth (GC, recycles) hides in medians, not in this. */
  lastHalfMbPer100k: number;
}
export interface SoakFigures {
  invocations: number; errors: number; seconds: number; perSecond: number;
  samples: SoakSample[]; gateway: LevelOff | null; workers: LevelOff | null;
}

/** Growth allowed between the third and the fourth quarter: 3 %, at least 2 MB. */
const ALLOWANCE = (mb: number) => Math.max(2, mb * 0.03);
const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.floor(s.length / 2)] : NaN; };

function slope(xs: number[], ys: number[]): number {
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length, my = ys.reduce((a, b) => a + b, 0) / ys.length;
  const num = xs.reduce((a, x, i) => a + (x - mx) * (ys[i] - my), 0), den = xs.reduce((a, x) => a + (x - mx) ** 2, 0);
  return den === 0 ? 0 : num / den;
}

export function levelOff(series: number[], invocations: number[]): LevelOff | null {
  if (series.length < 8) return null;
  const q = series.length / 4;
  const q3 = median(series.slice(Math.floor(2 * q), Math.floor(3 * q)));
  const q4 = median(series.slice(Math.floor(3 * q)));
  const half = Math.floor(2 * q);
  const perInvocation = slope(invocations.slice(half), series.slice(half));
  return { q3MedianMb: q3, q4MedianMb: q4, growthMb: q4 - q3, levelsOff: q4 - q3 <= ALLOWANCE(q3), lastHalfMbPer100k: Math.round(perInvocation * 100_000 * 10) / 10 };
}

export async function soak(invoke: () => Promise<number>, { invocations, concurrency, pid }: { invocations: number; concurrency: number; pid: number }): Promise<SoakFigures> {
  let started = 0, done = 0, errors = 0;
  const samples: SoakSample[] = [];
  const t0 = performance.now();
  const sample = () => {
    const m: MemorySample | undefined = memoryOf(pid);
    if (m) samples.push({ atS: Math.round((performance.now() - t0) / 100) / 10, invocations: done, gatewayMb: m.gatewayMb, workersMb: m.workersMb, workers: m.workers });
  };
  sample();
  const timer = setInterval(sample, 1000);
  // The latest sample with each progress line, so a soak stopped early still leaves its series in the log.
  const progress = setInterval(() => {
    const last = samples[samples.length - 1];
    process.stdout.write(`    soak: ${done}/${invocations}${last ? `  gateway ${last.gatewayMb} MB, ${last.workers} workers ${last.workersMb} MB` : ''}\n`);
  }, 30_000);
  try {
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (started < invocations) {
        started++;
        if ((await invoke()) !== 200) errors++;
        done++;
      }
    }));
  } finally {
    clearInterval(timer);
    clearInterval(progress);
  }
  sample();
  const seconds = (performance.now() - t0) / 1000;
  return {
    invocations: done, errors, seconds: Math.round(seconds), perSecond: Math.round(done / seconds), samples,
    gateway: levelOff(samples.map((s) => s.gatewayMb), samples.map((s) => s.invocations)),
    workers: levelOff(samples.map((s) => s.workersMb), samples.map((s) => s.invocations)),
  };
}

/** The series condensed to at most `points` samples, for the terminal. */
export function soakLines(f: SoakFigures, points = 16): string[] {
  const verdict = (name: string, l: LevelOff | null) => l
    ? `${name} RSS median ${l.q3MedianMb} MB (3rd quarter) -> ${l.q4MedianMb} MB (4th): ${l.levelsOff ? 'levels off' : `GROWS by ${l.growthMb} MB`}` +
      ` (last half: ${l.lastHalfMbPer100k} MB per 100k invocations)`
    : `${name} RSS: too few samples`;
  const step = Math.max(1, Math.ceil(f.samples.length / points));
  const series = f.samples.filter((_, i) => i % step === 0 || i === f.samples.length - 1)
    .map((s) => `${s.invocations}: ${s.gatewayMb}/${s.workersMb}(${s.workers})`).join('  ');
  return [
    `  ${'soak, hello c16'.padEnd(26)} ${f.invocations} invocations in ${f.seconds}s (${f.perSecond}/s)${f.errors ? `, ${f.errors} errors` : ''}`,
    `    ${verdict('gateway', f.gateway)}`,
    `    ${verdict('workers', f.workers)}`,
    f.samples.length ? `    invocations: gateway MB/workers MB(workers)  ${series}` : '    no /proc: memory not sampled',
  ];
}
