// The pipeline examples in functions-examples/pipelines/, deployed as they are and run through the
// real server with a real GraphQL client.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fs from 'node:fs';
import crypto from 'node:crypto';
import { GraphQLClient, ClientError } from 'graphql-request';
import { startFunctionWorld, deployed, type FunctionWorld } from '../api/functions-fixture.ts';

const file = (name: string) => fs.readFileSync(new URL(`../../functions-examples/pipelines/${name}`, import.meta.url), 'utf8');
const API_KEY = 'pk_partner_Zm9vYmFyYmF6cXV4';

describe('functions-examples/pipelines', () => {
  let w: FunctionWorld;
  let client: GraphQLClient;

  beforeAll(async () => {
    w = await startFunctionWorld();
    for (const vault of ['partner', 'promotions']) {
      expect((await w.s.request('POST', '/v1/vaults', { body: { name: vault } })).status).toBe(201);
      await w.grant(vault);
    }
    await w.putSecret('api-key', API_KEY, 'partner');
    await w.putSecret('SPRING10', '10', 'promotions');
    await deployed(w, 'validate-order', file('validate-order.js'));
    await deployed(w, 'fetch-api-key', file('fetch-api-key.js'), { exposeSecrets: true });
    await deployed(w, 'sign-payload', file('sign-payload.js'));
    await deployed(w, 'line-total', file('line-total.js'));
    await deployed(w, 'apply-discount', file('apply-discount.js'));
    for (const [name, spec] of [['signRequest', 'signed-request.pipeline.json'], ['orderTotals', 'order-totals.pipeline.json']]) {
      const r = await w.s.request('PUT', `/v1/workspaces/${w.ws}/pipelines/${name}`, { body: JSON.parse(file(spec)) });
      expect(r.status, r.text).toBe(201);
    }
    client = new GraphQLClient(`${w.s.url}/v1/workspaces/${w.ws}/graphql`, { headers: { authorization: `Bearer ${w.users.invoker.key}` } });
  });
  afterAll(async () => { await w?.close(); });

  const SIGN = `mutation Sign($order: OrderInput!, $at: String!) {
    signRequest(order: $order, timestamp: $at) { payload signature algorithm }
  }`;

  it('signed-request: validates, reads the API key in one step, signs with HMAC-SHA256 in the next', async () => {
    const data = await client.request<any>(SIGN, { order: { id: 'ord_42', amountCents: 1999, currency: 'EUR' }, at: '2026-01-01T00:00:00Z' });
    const payload = JSON.stringify({ id: 'ord_42', amount: 1999, currency: 'EUR', at: '2026-01-01T00:00:00Z' });
    expect(data.signRequest).toEqual({ payload, signature: crypto.createHmac('sha256', API_KEY).update(payload).digest('hex'), algorithm: 'HMAC-SHA256' });

    const runs = await w.s.request('GET', `/v1/workspaces/${w.ws}/pipelines/signRequest/runs`);
    expect(runs.body.runs[0].steps.map((s: any) => [s.name, s.status])).toEqual([['validate', 'ok'], ['key', 'ok'], ['sign', 'ok']]);
    expect(runs.text).not.toContain(API_KEY);
  });

  it('signed-request: bad input halts at the validate step, before the key is read', async () => {
    const err = await client.request(SIGN, { order: { id: 'ord 42', amountCents: 0, currency: 'EUR' }, at: 'now' }).catch((e) => e);
    expect(err).toBeInstanceOf(ClientError);
    const e = (err as ClientError).response.errors![0];
    expect(e.message).toBe('validate: order.id must be 1-64 letters, digits, - or _');
    expect(e.extensions).toMatchObject({ code: 'function_error', step: 'validate' });
    // GraphQL itself refuses a currency outside the enum, before any step.
    const enumErr = await client.request(SIGN, { order: { id: 'x', amountCents: 1, currency: 'GBP' }, at: 'now' }).catch((x) => x);
    expect((enumErr as ClientError).response.errors![0].extensions).toMatchObject({ code: 'invalid_request' });
  });

  it('order-totals: forEach prices every line; if applies the discount only when a code is given', async () => {
    const Q = `query($lines: [LineInput!]!, $code: String) {
      orderTotals(lines: $lines, discountCode: $code) { lines { sku totalCents } subtotalCents discountCents totalCents }
    }`;
    const lines = [{ sku: 'tea', quantity: 3, unitCents: 450 }, { sku: 'cup', quantity: 1, unitCents: 1200 }];
    const plain = await client.request<any>(Q, { lines });
    expect(plain.orderTotals).toEqual({ lines: [{ sku: 'tea', totalCents: 1350 }, { sku: 'cup', totalCents: 1200 }], subtotalCents: 2550, discountCents: 0, totalCents: 2550 });
    const discounted = await client.request<any>(Q, { lines, code: 'SPRING10' });
    expect(discounted.orderTotals).toMatchObject({ subtotalCents: 2550, discountCents: 255, totalCents: 2295 });

    const runs = await w.s.request('GET', `/v1/workspaces/${w.ws}/pipelines/orderTotals/runs`);
    const [withCode, withoutCode] = runs.body.runs;
    expect(withoutCode.steps.map((s: any) => s.status)).toEqual(['ok', 'skipped']);
    expect(withCode.steps.map((s: any) => s.status)).toEqual(['ok', 'ok']);
    expect(withCode.steps[0].invocationIds).toHaveLength(2);
  });
});
