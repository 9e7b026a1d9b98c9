// The invocation hot path keeps its guarantees while it takes shortcuts: audit rows of concurrent
// invocations are group-committed with hashes computed in the gateway, and still form one intact
// chain (also when another writer moves the head behind the gateway's back); a failed commit
// withholds every waiting invocation's output; a value opened once is not served past a change of
// access; and every invocation's time is split into the stage metrics.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { sql } from 'drizzle-orm';
import { startFunctionWorld, deployed, type FunctionWorld } from './functions-fixture.ts';
import { createAuditLog } from '../../api/audit/audit-log.ts';
import { selectRows } from '../support/assertions.ts';

let w: FunctionWorld;
let grantId: string;
const ONE = 'hot-path-canary-one-4b1d';
const TWO = 'hot-path-canary-two-9e7a';

beforeAll(async () => {
  w = await startFunctionWorld();
  await w.putSecret('one', ONE);
  await w.putSecret('two', TWO);
  grantId = await w.grant();
  await deployed(w, 'two', `export default async () => {
    const a = await tailor.secretmanager.getSecret("default", "one");
    const b = await tailor.secretmanager.getSecret("default", "two");
    console.log("read", a.length + b.length);
    return { a, b };
  }`, { exposeSecrets: true });
}, 60_000);
afterAll(async () => { await w?.close(); });

const verify = async () => (await w.s.request('GET', '/v1/audit/verify')).body;
const readRows = (invocationId: string) => selectRows<{ seq: number; secret: string; outcome: string }>(w.s.database.db,
  sql`select seq, secret, outcome from audit_events where invocation_id = ${invocationId} and action = 'secret.read' order by seq`);

describe('group commit of invocation audit rows', () => {
  it('concurrent invocations, interleaved with transactional writes, each leave their rows on one intact chain', async () => {
    const invocations = Array.from({ length: 12 }, () => w.invoke('two', {}));
    // Writes that append inside their own transaction, moving the head while invocations commit.
    const writes = Array.from({ length: 4 }, (_, i) => w.putSecret(`other-${i}`, `other-value-${i}-abcdef`));
    const replies = await Promise.all(invocations);
    for (const r of await Promise.all(writes)) expect(r.status, r.text).toBe(201);
    for (const r of replies) {
      expect(r.status, r.text).toBe(200);
      expect(r.body.result).toEqual({ a: ONE, b: TWO });
      const rows = await readRows(r.body.invocationId);
      expect(rows.map((x) => [x.secret, x.outcome])).toEqual([['one', 'allowed'], ['two', 'allowed']]);
    }
    expect(await verify()).toMatchObject({ intact: true });
  });

  it('stays one chain when another writer moves the head behind the gateway (a second gateway)', async () => {
    expect((await w.invoke('two', {})).status).toBe(200);
    const other = createAuditLog(w.s.database.db);
    await other.appendAll([{ action: 'test.other_gateway', outcome: 'allowed' }, { action: 'test.other_gateway', outcome: 'allowed' }]);
    const replies = await Promise.all(Array.from({ length: 4 }, () => w.invoke('two', {})));
    for (const r of replies) expect(r.status, r.text).toBe(200);
    await other.appendAll([{ action: 'test.other_gateway', outcome: 'allowed' }]);
    expect((await w.invoke('two', {})).status).toBe(200);
    expect(await verify()).toMatchObject({ intact: true });
  });

  it('a failed commit withholds the output of every invocation waiting on it', async () => {
    await w.s.database.db.execute(sql`alter table audit_events rename to audit_events_away`);
    let replies;
    try {
      replies = await Promise.all(Array.from({ length: 8 }, () => w.invoke('two', {})));
    } finally {
      await w.s.database.db.execute(sql`alter table audit_events_away rename to audit_events`);
    }
    for (const r of replies) {
      expect(r.status, r.text).toBe(503);
      expect(r.body.error.code).toBe('unavailable');
      expect(r.text).not.toContain(ONE);
      expect(r.text).not.toContain(TWO);
      expect(r.body.result).toBeUndefined();
    }
    const again = await w.invoke('two', {});
    expect(again.status, again.text).toBe(200);
    expect(await verify()).toMatchObject({ intact: true });
  });
});

describe('values opened for functions', () => {
  it('are not served past a revoke, and a new version is read at once', async () => {
    await deployed(w, 'one', 'export default async () => ({ v: await tailor.secretmanager.getSecret("default", "one") })', { exposeSecrets: true });
    expect((await w.invoke('one', {})).body.result).toEqual({ v: ONE });
    expect((await w.invoke('one', {})).body.result).toEqual({ v: ONE });

    expect((await w.s.request('DELETE', `/v1/vaults/${w.vault}/grants/${grantId}`)).status).toBe(204);
    const denied = await w.invoke('one', {});
    expect(denied.status, denied.text).toBe(422);
    expect(denied.text).not.toContain(ONE);

    await w.grant();
    expect((await w.invoke('one', {})).body.result).toEqual({ v: ONE });
    const NEW = 'hot-path-canary-new-77c3';
    expect((await w.putSecret('one', NEW)).status).toBe(200);
    expect((await w.invoke('one', {})).body.result).toEqual({ v: NEW });
    expect((await w.s.request('PATCH', `/v1/vaults/${w.vault}/secrets/one/versions/2`, { body: { state: 'disabled' } })).status).toBe(200);
    expect((await w.invoke('one', {})).body.result).toEqual({ v: ONE });
  });
});

describe('stage metrics', () => {
  it('split each invocation into every stage, once per invocation', async () => {
    const metric = w.s.running.services.metrics.registry.getSingleMetric('coffer_stage_seconds')!;
    const counts = async () => {
      const values = (await metric.get()).values;
      const count = (stage: string) => Number(values.find((v) => (v as { metricName?: string }).metricName === 'coffer_stage_seconds_count' && v.labels.stage === stage)?.value ?? 0);
      const sum = (stage: string) => Number(values.find((v) => (v as { metricName?: string }).metricName === 'coffer_stage_seconds_sum' && v.labels.stage === stage)?.value ?? 0);
      const stages = ['http_auth', 'queue', 'ipc', 'sandbox', 'secret_reads', 'audit_commit', 'redaction', 'response'];
      return Object.fromEntries(stages.map((s) => [s, { n: count(s), sum: sum(s) }]));
    };
    const before = await counts();
    for (let i = 0; i < 3; i++) expect((await w.invoke('two', {})).status).toBe(200);
    const after = await counts();
    for (const [stage, { n, sum }] of Object.entries(after)) {
      expect(n - before[stage].n, stage).toBe(3);
      expect(sum - before[stage].sum, stage).toBeGreaterThanOrEqual(0);
    }
    // Two reads and a commit each: these took some time.
    expect(after.secret_reads.sum).toBeGreaterThan(before.secret_reads.sum);
    expect(after.audit_commit.sum).toBeGreaterThan(before.audit_commit.sum);
  });
});
