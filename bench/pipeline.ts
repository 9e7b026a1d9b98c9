// The pipeline figure of `npm run bench`: a three-step pipeline over GraphQL (POST .../graphql,
// steps passing results along, no expressions) against three direct invocations in a row and
// against one hello invocation, all at concurrency 1, in interleaved rounds. Target: pipeline p50
// <= 2 x one hello.
import { sampleTimes } from './sample.ts';

type Call = (method: string, path: string, body?: unknown) => Promise<{ status: number; text: string }>;

export interface PipelineFigures {
  pipelineP50Ms: number;
  threeInvocationsP50Ms: number;
  helloP50Ms: number;
  ratioToHello: number;
  ratioToThreeInvocations: number;
  errors: number;
}

const STEP = 'export default async ({ args, pipeline }) => ({ n: (pipeline.b?.n ?? pipeline.a?.n ?? args.n) + 1 })';
const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
const round = (n: number) => Math.round(n * 100) / 100;
const WARM_UP_S = Number(process.env.BENCH_PIPELINE_WARMUP_SECONDS ?? 3);
/** Each figure's load is cut into this many rounds, taken in turn with the others'. */
const ROUNDS = 6;

/** The step function and the three-step pipeline `threeSteps` over it. */
export async function deployPipeline(call: Call, workspace: string): Promise<void> {
  const ok = async (method: string, p: string, body: unknown) => {
    const r = await call(method, p, body);
    if (r.status >= 300) throw new Error(`${method} ${p}: ${r.status} ${r.text}`);
  };
  await ok('PUT', `/v1/workspaces/${workspace}/functions/step`, { code: STEP });
  await ok('PUT', `/v1/workspaces/${workspace}/pipelines/threeSteps`, {
    operation: 'query', types: 'type Count { n: Int! }', args: 'n: Int!', returns: 'Count!',
    steps: [{ name: 'a', function: 'step' }, { name: 'b', function: 'step' }, { name: 'c', function: 'step' }],
  });
}

/** One run of threeSteps over GraphQL; true when it answered {n: 4}. */
export async function runPipeline(call: Call, workspace: string): Promise<boolean> {
  const r = await call('POST', `/v1/workspaces/${workspace}/graphql`, { query: 'query($n: Int!) { threeSteps(n: $n) { n } }', variables: { n: 1 } });
  return r.status === 200 && r.text.includes('"threeSteps":{"n":4}');
}

export async function pipelineBench(call: Call, workspace: string, seconds: number): Promise<PipelineFigures> {
  await deployPipeline(call, workspace);
  let errors = 0;
  const pipeline = async () => {
    if (!(await runPipeline(call, workspace))) errors++;
  };
  // A step function gets what a pipeline step gets: {args, pipeline}.
  const invoke = async (fn: string) => {
    const args = fn === 'step' ? { args: { n: 1 }, pipeline: {} } : { name: 'bench' };
    const r = await call('POST', `/v1/workspaces/${workspace}/functions/${fn}/invoke`, { args });
    if (r.status !== 200) errors++;
  };
  const three = async () => { await invoke('step'); await invoke('step'); await invoke('step'); };
  const hello = () => invoke('hello');

  const p50 = async (op: () => Promise<void>, s: number) => round(quantile(await sampleTimes(op, s), 0.5));
  // Warm-up: isolates, caches, schema, and the GraphQL path compiled by V8 (at c1 it has the spare
  // cores to do so; see the warm-up in invoke.bench.ts).
  for (const op of [pipeline, three, hello]) await p50(op, WARM_UP_S);
  if (errors > 0) throw new Error(`the pipeline bench failed ${errors} times while warming up`);
  errors = 0;
  // In interleaved rounds, so that this machine's drift from one second to the next hits all three
  // alike: taken one after another, a slow few seconds landed on one of them (the pipeline once
  // measured as slow as three invocations in a row, minutes after it measured 0.66x of them).
  const times: number[][] = [[], [], []];
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, op] of [pipeline, three, hello].entries()) times[i].push(...await sampleTimes(op, seconds / ROUNDS));
  }
  const [pipelineP50Ms, threeInvocationsP50Ms, helloP50Ms] = times.map((t) => round(quantile(t.sort((a, b) => a - b), 0.5)));
  return {
    pipelineP50Ms, threeInvocationsP50Ms, helloP50Ms, errors,
    ratioToHello: round(pipelineP50Ms / helloP50Ms), ratioToThreeInvocations: round(pipelineP50Ms / threeInvocationsP50Ms),
  };
}

export const pipelineLine = (f: PipelineFigures) =>
  `  ${'3-step pipeline (GraphQL)'.padEnd(26)} p50 ${f.pipelineP50Ms} ms; 3 direct invocations ${f.threeInvocationsP50Ms} ms; 1 hello ${f.helloP50Ms} ms; ` +
  `${f.ratioToHello}x hello, ${f.ratioToThreeInvocations}x three invocations${f.errors ? `, ${f.errors} errors` : ''}   target: <= 2x hello (${f.ratioToHello <= 2 ? 'met' : 'MISSED'})`;
