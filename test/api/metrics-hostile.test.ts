// The hostile suite against what an operator sees: functions that log, return and throw the values
// they read, that read what they may not, and a job that fails with a value in its error. After it,
// no value appears anywhere in the metrics text (either listener) or in any log line the gateway
// wrote, and the counters (parsed by a real Prometheus text parser) match the workload exactly.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { Writable } from 'node:stream';
import { startExecutorWorld, ok, type ExecutorWorld } from '../executors/fixture.ts';
import { loadConfig } from '../../api/config.ts';
import { createLogger } from '../../api/logger.ts';

type Family = { name: string; metrics: { value?: string; labels?: Record<string, string> }[] };
// Values shaped to break out of a label or a log line if one were ever quoted unescaped.
const VALUES = ['hostile-canary-9f8e7d6c5b4a', 'quote"brace}newline\nlabel="x"', 'pretty-canary-\u001b[31mred\u001b[0m'];
let w: ExecutorWorld;
let metricsText = '';
let listenerText = '';

const sample = (families: Family[], name: string, labels: Record<string, string>) => {
  const m = families.find((f) => f.name === name)?.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v));
  return m?.value === undefined ? undefined : Number(m.value);
};

beforeAll(async () => {
  w = await startExecutorWorld({ env: { COFFER_METRICS_ADDR: '127.0.0.1:0' } });
  await w.grant();
  for (const [i, v] of VALUES.entries()) ok(await w.putSecret(`v${i}`, v), 201);
  ok(await w.s.request('POST', '/v1/vaults', { body: { name: 'forbidden' } }), 201);
  ok(await w.s.request('PUT', '/v1/vaults/forbidden/secrets/x', { body: { value: 'never-read-canary-1234' } }), 201);
  const readAll = 'const vs = [await tailor.secretmanager.getSecret("default", "v0"), await tailor.secretmanager.getSecret("default", "v1"), await tailor.secretmanager.getSecret("default", "v2")];';
  ok(await w.deploy('logs', `export default async () => { ${readAll} for (const v of vs) { console.log(v); console.error("value=" + v); console.warn({ v }); } return vs; }`), 201);
  ok(await w.deploy('throws', `export default async () => { ${readAll} throw new Error("leaking " + vs.join(",")); }`), 201);
  ok(await w.deploy('throws-value', `export default async () => { ${readAll} throw vs[0]; }`), 201);
  ok(await w.deploy('denied', 'export default async () => { try { await tailor.secretmanager.getSecret("forbidden", "x"); } catch (e) { console.log(String(e)); } throw new Error("denied as expected"); }'), 201);
  // Retried after an hour, so its job stays pending after the first failed attempt.
  ok(await w.putExecutor('failing', { trigger: { kind: 'webhook' }, target: { kind: 'function', function: 'throws' }, retry: { maxAttempts: 2, initialBackoffMs: 3_600_000, maxBackoffMs: 3_600_000 } }), 201);

  ok(await w.invoke('logs'), 200);
  ok(await w.invoke('throws'), 422);
  ok(await w.invoke('throws-value'), 422);
  ok(await w.invoke('denied'), 422);
  const jobId = ok(await w.s.request('POST', `/v1/workspaces/${w.ws}/executors/failing/trigger`, { body: {} }), 202).body.jobId as string;
  for (const until = Date.now() + 15_000; ;) {
    const job = ok(await w.job(jobId), 200).body;
    if (job.status === 'pending' && job.attempts.length === 1) break;
    if (Date.now() > until) throw new Error(`job not retried-pending: ${JSON.stringify(job)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  metricsText = ok(await w.s.request('GET', '/v1/metrics'), 200).text;
  listenerText = await (await fetch(`http://127.0.0.1:${w.s.running.metricsPort}/metrics`)).text();
});
afterAll(async () => { await w?.close(); });

describe('under the hostile suite', () => {
  it('no secret value is in the metrics, on either listener', () => {
    for (const text of [metricsText, listenerText]) {
      for (const v of [...VALUES, 'never-read-canary-1234']) {
        expect(text).not.toContain(v);
        expect(text).not.toContain(v.slice(0, 12));
        expect(text).not.toContain(JSON.stringify(v).slice(1, -1));
      }
    }
  });

  it('no secret value is in any log line the gateway wrote', () => {
    // The gateway did log the hostile invocations and the failed job (so the check below has something to read).
    const msgs = w.s.logs.map((l) => JSON.parse(l) as { msg?: string; path?: string });
    expect(msgs.filter((l) => l.msg === 'request' && l.path?.endsWith('/invoke')).length).toBe(4);
    const all = w.s.logs.join('\n');
    for (const v of [...VALUES, 'never-read-canary-1234']) {
      expect(all).not.toContain(v);
      expect(all).not.toContain(v.slice(0, 12));
      expect(all).not.toContain(JSON.stringify(v).slice(1, -1));
    }
  });

  it('the counters match the workload: invocations by outcome, reads allowed and denied, jobs waiting', () => {
    const families = parsePrometheusTextFormat(metricsText) as Family[];
    expect(sample(families, 'coffer_invocations_total', { outcome: 'ok', via: 'direct' })).toBe(1);
    expect(sample(families, 'coffer_invocations_total', { outcome: 'function_error', via: 'direct' })).toBe(3);
    expect(sample(families, 'coffer_invocations_total', { outcome: 'function_error', via: 'executor' })).toBe(1);
    // Three reads each by logs, throws, throws-value and the job's attempt of throws; one denial (no grant).
    expect(sample(families, 'coffer_secret_reads_total', { outcome: 'allowed', by: 'function' })).toBe(12);
    expect(sample(families, 'coffer_secret_reads_total', { outcome: 'denied', by: 'function' })).toBe(1);
    expect(sample(families, 'coffer_jobs', { status: 'pending' })).toBe(1);
    expect(sample(families, 'coffer_jobs', { status: 'running' })).toBe(0);
    expect(sample(families, 'coffer_jobs_running_here', {})).toBe(0);
    expect(sample(families, 'coffer_runtime_queued', {})).toBe(0);
    const lookups = (result: string) => sample(families, 'coffer_access_cache_lookups', { result });
    expect((lookups('hit') ?? 0) + (lookups('miss') ?? 0)).toBeGreaterThan(0);
    expect(families.map((f) => f.name)).toEqual(expect.arrayContaining([
      'coffer_http_requests_total', 'coffer_stage_seconds', 'coffer_audit_rows_total', 'coffer_audit_commit_seconds',
      'coffer_runtime_worker_restarts_total', 'coffer_runtime_worker_recycles_total', 'coffer_runtime_isolates',
    ]));
    // The workers report their isolates: nothing runs now, and the hostile functions' isolates (none
    // timed out or ran out of memory) are pooled warm.
    expect(sample(families, 'coffer_runtime_isolates', { state: 'active' })).toBe(0);
    expect(sample(families, 'coffer_runtime_isolates', { state: 'idle' })).toBeGreaterThanOrEqual(1);
  });
});

describe('the log format switch', () => {
  it('COFFER_LOG_FORMAT=pretty, read by the config, gives readable lines even off a terminal; json gives JSON', () => {
    const base = { HOST: '127.0.0.1', PORT: '0', COFFER_MASTER_KEY: Buffer.alloc(32, 7).toString('base64') };
    for (const [format, isJson] of [['pretty', false], ['json', true]] as const) {
      const config = loadConfig({ ...base, COFFER_LOG_FORMAT: format });
      expect(config.logFormat).toBe(format);
      const lines: string[] = [];
      const destination = new Writable({ write(chunk, _e, cb) { lines.push(...String(chunk).split('\n').filter(Boolean)); cb(); } });
      createLogger('info', { format: config.logFormat, destination, isTTY: false }).info({ requestId: 'req_fmt' }, 'switched');
      expect(lines.length).toBeGreaterThan(0);
      if (isJson) expect(JSON.parse(lines[0])).toMatchObject({ msg: 'switched', requestId: 'req_fmt' });
      else { expect(() => JSON.parse(lines[0])).toThrow(); expect(lines.join('\n')).toMatch(/INFO.*switched/); }
    }
  });
});
