// The executor figures of `npm run bench`, at concurrency 1 against the same hello function:
//   - incoming webhook -> sync function (token mode) against a direct invoke: the overhead of the
//     webhook path (lookup, token hash, request shaping). Target: <= 0.5 ms at p50.
//   - async accept latency: POST to an async webhook until its 202 (the job stored). Target: p50 <= 2 ms.
//   - jobs completed per second: a burst of async deliveries at concurrency 16, timed from the first
//     accept until the last job has finished; by one gateway, and with PostgreSQL also by two gateways
//     on the same database (deliveries split between them; either may run any job).
import { sampleTimes } from './sample.ts';
type Call = (method: string, path: string, body?: unknown, headers?: Record<string, string>) => Promise<{ status: number; text: string }>;

export interface ExecutorFigures {
  directP50Ms: number;
  syncHookP50Ms: number;
  overheadP50Ms: number;
  asyncAcceptP50Ms: number;
  asyncAcceptP99Ms: number;
  jobsPerSecond: number;
  twoGatewayJobsPerSecond: number | null;
  jobs: number;
  errors: number;
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
const round = (n: number) => Math.round(n * 100) / 100;

export async function executorBench(call: Call, workspace: string, seconds: number,
  startSecondGateway?: () => Promise<{ call: Call; stop: () => Promise<void> }>): Promise<ExecutorFigures> {
  const put = async (name: string, mode: 'sync' | 'async') => {
    const r = await call('PUT', `/v1/workspaces/${workspace}/executors/${name}`, {
      trigger: { kind: 'webhook', mode }, target: { kind: 'function', function: 'hello' },
    });
    if (r.status !== 201) throw new Error(`PUT executor ${name}: ${r.status} ${r.text}`);
    return JSON.parse(r.text).webhookUrlPath as string;
  };
  const syncPath = await put('bench-sync', 'sync');
  const asyncPath = await put('bench-async', 'async');
  const noAuth = { authorization: '' };
  let errors = 0;
  const direct = async () => { if ((await call('POST', `/v1/workspaces/${workspace}/functions/hello/invoke`, { args: { name: 'bench' } })).status !== 200) errors++; };
  const syncHook = async () => { if ((await call('POST', syncPath, { name: 'bench' }, noAuth)).status !== 200) errors++; };
  const acceptOn = (via: Call) => async () => { if ((await via('POST', asyncPath, { name: 'bench' }, noAuth)).status !== 202) errors++; };
  const accept = acceptOn(call);

  const sample = sampleTimes;
  for (const op of [direct, syncHook]) await sample(op, 0.5);
  if (errors > 0) throw new Error(`the executor bench failed ${errors} times while warming up`);
  // Interleaved rounds, so drift on a shared machine hits both sides alike.
  const directTimes: number[] = [];
  const hookTimes: number[] = [];
  for (let i = 0; i < 4; i++) {
    directTimes.push(...await sample(direct, seconds / 4));
    hookTimes.push(...await sample(syncHook, seconds / 4));
  }
  directTimes.sort((a, b) => a - b);
  hookTimes.sort((a, b) => a - b);
  const acceptTimes = await sample(accept, seconds);
  await drained(call, workspace, 'bench-async');

  // Throughput: a burst of deliveries, then wait until every job of the burst is done.
  const jobs = 400;
  const burst = async (senders: Array<() => Promise<void>>) => {
    const t0 = performance.now();
    let sent = 0;
    await Promise.all(Array.from({ length: 16 }, async (_, i) => { while (sent < jobs) { sent++; await senders[i % senders.length](); } }));
    await drained(call, workspace, 'bench-async');
    return Math.round(jobs / ((performance.now() - t0) / 1000));
  };
  const jobsPerSecond = await burst([accept]);
  let twoGatewayJobsPerSecond: number | null = null;
  if (startSecondGateway) {
    const second = await startSecondGateway();
    try {
      await acceptOn(second.call)(); // its first request warms its worker
      await drained(call, workspace, 'bench-async');
      twoGatewayJobsPerSecond = await burst([accept, acceptOn(second.call)]);
    } finally {
      await second.stop();
    }
  }

  const directP50Ms = round(quantile(directTimes, 0.5));
  const syncHookP50Ms = round(quantile(hookTimes, 0.5));
  return {
    directP50Ms, syncHookP50Ms, overheadP50Ms: round(syncHookP50Ms - directP50Ms),
    asyncAcceptP50Ms: round(quantile(acceptTimes, 0.5)), asyncAcceptP99Ms: round(quantile(acceptTimes, 0.99)),
    jobsPerSecond, twoGatewayJobsPerSecond, jobs, errors,
  };
}

/** Waits until the executor has no pending or running job. */
async function drained(call: Call, workspace: string, executor: string) {
  for (;;) {
    let open = 0;
    for (const status of ['pending', 'running']) {
      const r = await call('GET', `/v1/workspaces/${workspace}/executors/${executor}/jobs?status=${status}&limit=1`);
      open += JSON.parse(r.text).jobs.length;
    }
    if (open === 0) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const executorLines = (f: ExecutorFigures) => {
  const mark = (ok: boolean) => (ok ? 'met' : 'MISSED');
  return [
    `  ${'webhook -> sync function'.padEnd(26)} p50 ${f.syncHookP50Ms} ms vs direct invoke ${f.directP50Ms} ms: overhead ${f.overheadP50Ms} ms   target: <= 0.5 ms (${mark(f.overheadP50Ms <= 0.5)})`,
    `  ${'async webhook accept'.padEnd(26)} p50 ${f.asyncAcceptP50Ms} ms   p99 ${f.asyncAcceptP99Ms} ms   target: p50 <= 2 ms (${mark(f.asyncAcceptP50Ms <= 2)})`,
    `  ${'jobs completed, 1 gateway'.padEnd(26)} ${f.jobsPerSecond}/s (${f.jobs} jobs)${f.errors ? `, ${f.errors} errors` : ''}`,
    `  ${'jobs completed, 2 gateways'.padEnd(26)} ${f.twoGatewayJobsPerSecond === null ? 'not measured (needs DATABASE_URL)' : `${f.twoGatewayJobsPerSecond}/s (${f.jobs} jobs, one PostgreSQL)`}`,
  ].join('\n');
};
