// Metrics after a known workload, read by a real Prometheus text parser, on the admin route and on
// the separate COFFER_METRICS_ADDR listener; the log format switch; trace ids in request logs.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { Writable } from 'node:stream';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { startFunctionWorld, deployed, type FunctionWorld } from './functions-fixture.ts';
import { createLogger } from '../../api/logger.ts';
import { until } from '../support/assertions.ts';

type Family = { name: string; type: string; metrics: { value?: string; labels?: Record<string, string>; buckets?: Record<string, string>; count?: string }[] };
const SECRET = 'metrics-canary-value-0123456789';
let w: FunctionWorld;

beforeAll(async () => {
  w = await startFunctionWorld({ env: { COFFER_METRICS_ADDR: '127.0.0.1:0' } });
  await w.grant();
  expect((await w.putSecret('m', SECRET)).status).toBe(201);
  expect((await w.s.request('POST', '/v1/vaults', { body: { name: 'not-granted' } })).status).toBe(201);
  await deployed(w, 'readfn', 'export default async (a) => { const v = await tailor.secretmanager.getSecret("default", "m"); await tailor.secretmanager.getSecret("default", "m"); if (a?.fail) throw new Error("asked to fail " + v); return v.length; }');
  await deployed(w, 'deniedfn', 'export default async () => { await tailor.secretmanager.getSecret("not-granted", "x"); }');
  for (let i = 0; i < 3; i++) expect((await w.invoke('readfn')).status).toBe(200);
  expect((await w.invoke('readfn', { fail: true })).status).toBe(422);
  expect((await w.invoke('deniedfn')).status).toBe(422);
});
afterAll(async () => { await w?.close(); });

const scrape = async () => parsePrometheusTextFormat((await w.s.request('GET', '/v1/metrics')).text) as Family[];

const sample = (families: Family[], name: string, labels: Record<string, string>) => {
  const family = families.find((f) => f.name === name);
  const m = family?.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v));
  return m?.value === undefined ? undefined : Number(m.value);
};

describe('metrics', () => {
  it('count the workload exactly: invocations by outcome, secret reads by decision, requests by route pattern', async () => {
    const r = await w.s.request('GET', '/v1/metrics');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const families = parsePrometheusTextFormat(r.text) as Family[];
    expect(sample(families, 'coffer_invocations_total', { outcome: 'ok', via: 'direct' })).toBe(3);
    expect(sample(families, 'coffer_invocations_total', { outcome: 'function_error', via: 'direct' })).toBe(2);
    // One read per invocation of `readfn` (the second is served from the invocation's memo), one denial.
    expect(sample(families, 'coffer_secret_reads_total', { outcome: 'allowed', by: 'function' })).toBe(4);
    expect(sample(families, 'coffer_secret_reads_total', { outcome: 'denied', by: 'function' })).toBe(1);
    const route = '/v1/workspaces/:ws/functions/:name/invoke';
    expect(sample(families, 'coffer_http_requests_total', { route, method: 'POST', status: '200' })).toBe(3);
    expect(sample(families, 'coffer_http_requests_total', { route, method: 'POST', status: '422' })).toBe(2);
    expect(sample(families, 'coffer_audit_rows_total', { action: 'secret.read', outcome: 'allowed' })).toBe(4);
    // The text parser drops histogram labels, so the stages are read from the registry itself.
    const stages = await w.s.running.services.metrics.registry.getSingleMetric('coffer_stage_seconds')!.get();
    const count = (stage: string) => stages.values.find((v) => (v as { metricName?: string }).metricName === 'coffer_stage_seconds_count' && v.labels.stage === stage)?.value;
    expect(count('sandbox')).toBe(5);
    expect(count('invoke')).toBe(5);
    expect(sample(families, 'coffer_runtime_workers', {})).toBe(1);
    // Counts since start are counters (`_total`); nothing in this workload kills or recycles a worker.
    for (const name of ['coffer_runtime_worker_restarts_total', 'coffer_runtime_worker_recycles_total']) {
      expect(families.find((f) => f.name === name)?.type, name).toBe('COUNTER');
      expect(sample(families, name, {}), name).toBe(0);
    }
    expect(families.find((f) => f.name === 'coffer_runtime_worker_restarts')).toBeUndefined();
    expect(families.map((f) => f.name)).toEqual(expect.arrayContaining(['coffer_access_cache_lookups', 'coffer_runtime_queued', 'coffer_audit_commit_seconds', 'coffer_process_resident_memory_bytes']));
  });

  it('count the workers\' isolates as the workers report them: warm ones idle once the invocations are over', async () => {
    let families = await scrape();
    expect(families.find((f) => f.name === 'coffer_runtime_isolates')?.type).toBe('GAUGE');
    // Every invocation of the workload has answered; the answer itself carries the counts, so no
    // wait is expected, but an isolate's idle check may still be settling.
    const isolates = await until(async () => {
      families = await scrape();
      const active = sample(families, 'coffer_runtime_isolates', { state: 'active' });
      const idle = sample(families, 'coffer_runtime_isolates', { state: 'idle' });
      return active === 0 && idle !== undefined && idle >= 1 ? { active, idle } : undefined;
    }, () => JSON.stringify(families.find((f) => f.name === 'coffer_runtime_isolates')));
    // One workspace, one memory size, invocations one after another on one worker: a few warm isolates at most.
    expect(Number.isSafeInteger(isolates.idle)).toBe(true);
    expect(isolates.idle).toBeLessThanOrEqual(5);
  });

  it('carry no value, name or path a user chose', async () => {
    const text = (await w.s.request('GET', '/v1/metrics')).text;
    for (const s of [SECRET, 'not-granted', w.ws, 'readfn', 'deniedfn']) expect(text).not.toContain(s);
  });

  it('are for admins on the API listener, and served without a credential on the metrics listener', async () => {
    expect((await w.s.request('GET', '/v1/metrics', { key: w.users.editor.key })).status).toBe(403);
    expect((await w.s.request('GET', '/v1/metrics', { key: null })).status).toBe(401);
    const port = w.s.running.metricsPort!;
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(res.status).toBe(200);
    expect(sample(parsePrometheusTextFormat(await res.text()) as Family[], 'coffer_invocations_total', { outcome: 'ok', via: 'direct' })).toBe(3);
    expect((await fetch(`http://127.0.0.1:${port}/v1/me`)).status).toBe(404);
  });

  // Last: the function times out, which none of the counts above expect.
  it('count an isolate active while one long invocation runs alone, before it answers', async () => {
    await deployed(w, 'spinfn', 'export default async () => { for (;;) {} }', { timeoutMs: 4000 });
    let answered = false;
    const running = w.invoke('spinfn').finally(() => { answered = true; });
    const read = async () => sample(await scrape(), 'coffer_runtime_isolates', { state: 'active' });
    const seen = await until(async () => {
      const n = await read();
      return n !== undefined && n >= 1 ? { n, answered } : answered ? { n, answered } : undefined;
    }, () => 'no figure');
    expect(seen).toEqual({ n: expect.any(Number), answered: false });
    expect((await running).body?.error?.code).toBe('timeout');
  });
});

describe('logs', () => {
  const capture = () => {
    const lines: string[] = [];
    return { lines, stream: new Writable({ write(chunk, _e, cb) { lines.push(...String(chunk).split('\n').filter(Boolean)); cb(); } }) };
  };

  it('are JSON off a terminal and readable lines on one or with COFFER_LOG_FORMAT=pretty', async () => {
    const json = capture();
    createLogger('info', { destination: json.stream, isTTY: false }).info({ requestId: 'req_1' }, 'hello');
    expect(JSON.parse(json.lines[0])).toMatchObject({ msg: 'hello', requestId: 'req_1' });
    for (const opts of [{ isTTY: true }, { format: 'pretty' as const, isTTY: false }]) {
      const pretty = capture();
      createLogger('info', { destination: pretty.stream, ...opts }).info({ requestId: 'req_2', token: 'tok-should-not-show' }, 'hello');
      expect(() => JSON.parse(pretty.lines[0])).toThrow();
      expect(pretty.lines.join('\n')).toMatch(/INFO.*hello/);
      expect(pretty.lines.join('\n')).toContain('req_2');
      expect(pretty.lines.join('\n')).not.toContain('tok-should-not-show');
    }
  });

  it('carry the trace id of a W3C traceparent, and ignore a malformed one', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    await w.s.request('GET', '/v1/me', { headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } });
    await w.s.request('GET', '/healthz', { headers: { traceparent: '00-zz-00f067aa0ba902b7-01' } });
    const requests = w.s.logs.map((l) => JSON.parse(l)).filter((l) => l.msg === 'request');
    expect(requests.find((l) => l.path === '/v1/me' && l.traceId === traceId)).toBeDefined();
    expect(requests.filter((l) => l.path === '/healthz').every((l) => l.traceId === undefined)).toBe(true);
  });
});

describe('COFFER_WORKER_RECYCLE_INVOCATIONS', () => {
  let small: FunctionWorld;
  beforeAll(async () => { small = await startFunctionWorld({ env: { COFFER_WORKER_RECYCLE_INVOCATIONS: '3' } }); });
  afterAll(async () => { await small?.close(); });

  it('replaces a worker after that many invocations, without failing any', async () => {
    await deployed(small, 'hello', 'export default () => "hi"');
    for (let i = 0; i < 7; i++) expect((await small.invoke('hello')).status).toBe(200);
    const families = parsePrometheusTextFormat((await small.s.request('GET', '/v1/metrics')).text) as Family[];
    // One worker, 7 invocations at most 3 apiece (the deploy's check counts too): at least two replacements.
    expect(sample(families, 'coffer_runtime_worker_recycles_total', {})).toBeGreaterThanOrEqual(2);
    expect(sample(families, 'coffer_runtime_worker_restarts_total', {})).toBe(0);
  });
});
