// Where a figure's time goes: the server's `coffer_stage_seconds{stage}` histogram scraped from
// GET /v1/metrics before and after the figure's load, and the difference of each stage's _sum and
// _count. Generic over the stage labels the server exposes, so a stage added to api/metrics shows
// up here without a change.
import parsePrometheusTextFormat from 'parse-prometheus-text-format';

export const STAGE_METRIC = 'coffer_stage_seconds';

type Sample = { value?: string; labels?: Record<string, string> };
type Family = { name: string; type: string; metrics: Sample[] };
export type StageTotals = Map<string, { sum: number; count: number }>;

export interface StageFigure {
  stage: string;
  /** Observations during the figure. */
  count: number;
  /** Mean seconds of one observation, in ms. */
  meanMs: number;
  /** The stage's total time divided by the figure's invocations, in ms (overlaps at c16). */
  perInvocationMs: number;
}

/**
 * The stage totals in one exposition text. parse-prometheus-text-format keeps a histogram's buckets
 * but drops the labels of its _sum and _count samples, so the histogram's TYPE line is dropped
 * first: the parser then reads every sample line of the family as an untyped series with its labels
 * (the sample lines themselves, escapes included, are still parsed by the library).
 */
export function stageTotals(text: string): StageTotals {
  const untyped = text.split('\n').filter((l) => !l.startsWith(`# TYPE ${STAGE_METRIC} `)).join('\n');
  const families = parsePrometheusTextFormat(untyped) as Family[];
  const totals: StageTotals = new Map();
  for (const [suffix, key] of [['_sum', 'sum'], ['_count', 'count']] as const) {
    for (const family of families.filter((f) => f.name === STAGE_METRIC + suffix)) {
      for (const s of family.metrics) {
        const stage = s.labels?.stage;
        if (!stage || s.value === undefined) continue;
        const t = totals.get(stage) ?? { sum: 0, count: 0 };
        t[key] = Number(s.value);
        totals.set(stage, t);
      }
    }
  }
  return totals;
}

/** a - b, per stage. */
export function subtract(a: StageTotals, b: StageTotals): StageTotals {
  const out: StageTotals = new Map();
  for (const [stage, x] of a) {
    const y = b.get(stage) ?? { sum: 0, count: 0 };
    out.set(stage, { sum: x.sum - y.sum, count: x.count - y.count });
  }
  return out;
}

export function add(a: StageTotals, b: StageTotals): StageTotals {
  const out: StageTotals = new Map(a);
  for (const [stage, y] of b) {
    const x = out.get(stage) ?? { sum: 0, count: 0 };
    out.set(stage, { sum: x.sum + y.sum, count: x.count + y.count });
  }
  return out;
}

/**
 * A scrape is itself a request, observed (as `http`, and any stage it passes through) after its
 * text was produced, so the scrape taken before a figure's load lands in the figure. Two scrapes
 * back to back measure that one scrape's share, which is taken off again.
 */
export function stageMeter(scrape: () => Promise<string>) {
  const mark = async () => {
    const first = stageTotals(await scrape());
    const second = stageTotals(await scrape());
    return { totals: second, scrapeShare: subtract(second, first) };
  };
  return {
    /** Call before the load; the answer, called after it, gives the load's totals. */
    async start() {
      const before = await mark();
      return async (): Promise<StageTotals> => subtract(subtract(stageTotals(await scrape()), before.totals), before.scrapeShare);
    },
  };
}

/** The figures of a load's totals, over `invocations` (the load's number of requests). */
export function stageFigures(delta: StageTotals, invocations: number): StageFigure[] {
  const out: StageFigure[] = [];
  for (const [stage, { sum, count }] of delta) {
    if (count <= 0) continue;
    out.push({ stage, count, meanMs: round(sum * 1000 / count, 3), perInvocationMs: round(invocations > 0 ? sum * 1000 / invocations : 0, 3) });
  }
  // The whole request first, then the stages by the time they take per invocation.
  return out.sort((x, y) => (x.stage === 'http' ? -1 : y.stage === 'http' ? 1 : y.perInvocationMs - x.perInvocationMs));
}

/**
 * One line: each stage's mean per observation, with how many observations per invocation when not
 * one; with the client's mean latency, the time outside the server's `http` stage (waiting for the
 * event loop to accept and parse the request, and for the answer to be written).
 */
export function stageLine(stages: StageFigure[], invocations: number, clientMeanMs?: number): string {
  if (stages.length === 0) return '      stages: (none exposed)';
  const http = stages.find((s) => s.stage === 'http');
  const outside = clientMeanMs !== undefined && http ? `; client mean ${round(clientMeanMs, 2)}, outside http ${round(clientMeanMs - http.meanMs, 2)}` : '';
  return '      stages (mean ms): ' + stages.map((s) => {
    const per = invocations > 0 ? s.count / invocations : 0;
    return `${s.stage} ${s.meanMs}${Math.abs(per - 1) > 0.02 ? ` x${round(per, 2)}` : ''}`;
  }).join(', ') + outside;
}

const round = (n: number, d: number) => Math.round(n * 10 ** d) / 10 ** d;
