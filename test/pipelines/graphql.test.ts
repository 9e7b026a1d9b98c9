// Pipeline resolvers through the real server, driven by a real GraphQL client (graphql-request):
// schema and introspection, steps passing results, if, forEach, failures, type violations, limits,
// audit of secret reads per step, revocation, and bad deploys refused with positions.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { GraphQLClient, ClientError } from 'graphql-request';
import { buildClientSchema, getIntrospectionQuery, type IntrospectionQuery } from 'graphql';
import { sql } from 'drizzle-orm';
import { startFunctionWorld, deployed, type FunctionWorld } from '../api/functions-fixture.ts';
import { selectRows } from '../support/assertions.ts';

const FUNCTIONS = {
  add: 'export default async ({ args }) => ({ n: args.n + 1 })',
  double: 'export default async ({ pipeline }) => ({ n: pipeline.first.n * 2 })',
  plus: 'export default async (x) => ({ n: x.n + 100 })',
  square: 'export default async (x) => x * x',
  boom: 'export default async () => { throw new Error("boom"); }',
  readkey: `export default async () => {
    const key = await tailor.secretmanager.getSecret("default", "api-key");
    console.log("key is " + key);
    return { length: key.length, key };
  }`,
  echo: 'export default async (x) => x',
};

type GqlError = { message: string; path?: string[]; extensions: Record<string, any> };

describe('pipelines over GraphQL', () => {
  let w: FunctionWorld;
  let gql: (key?: string) => GraphQLClient;
  const put = (name: string, body: unknown, key?: string) => w.s.request('PUT', `/v1/workspaces/${w.ws}/pipelines/${name}`, { body, key });

  /** A request whose errors come back as data (errorPolicy all), for asserting on both. */
  async function raw(query: string, variables?: Record<string, unknown>, key?: string): Promise<{ data: any; errors: GqlError[]; status: number }> {
    try {
      const r = await gql(key).rawRequest<any>(query, variables);
      return { data: r.data, errors: (r.errors ?? []) as unknown as GqlError[], status: r.status };
    } catch (err) {
      if (err instanceof ClientError) return { data: err.response.data, errors: (err.response.errors ?? []) as unknown as GqlError[], status: err.response.status };
      throw err;
    }
  }

  beforeAll(async () => {
    w = await startFunctionWorld();
    gql = (key = w.users.invoker.key) => new GraphQLClient(`${w.s.url}/v1/workspaces/${w.ws}/graphql`, { headers: { authorization: `Bearer ${key}` }, errorPolicy: 'all' });
    await w.putSecret('api-key', 'sk_live_abcdef123456');
    await w.grant();
    for (const [name, code] of Object.entries(FUNCTIONS)) await deployed(w, name, code, name === 'readkey' ? { exposeSecrets: true } : {});

    const ok = async (name: string, body: unknown) => { const r = await put(name, body); expect([200, 201], r.text).toContain(r.status); return r; };
    await ok('threeStep', {
      operation: 'query', args: 'n: Int!', returns: 'Int!',
      steps: [{ name: 'first', function: 'add' }, { name: 'second', function: 'double' }, { name: 'third', function: 'plus', input: 'pipeline.second' }],
      result: 'pipeline.third.n',
    });
    await ok('maybe', {
      operation: 'query', args: 'flag: Boolean!', returns: 'String!',
      steps: [{ name: 'a', function: 'echo', if: 'args.flag', input: '"ran"' }],
      result: 'pipeline.a === null ? "skipped" : pipeline.a',
    });
    await ok('squares', {
      operation: 'query', args: 'xs: [Int!]!', returns: '[Int!]!',
      steps: [{ name: 'sq', function: 'square', forEach: 'args.xs' }],
    });
    await ok('broken', {
      operation: 'query', returns: 'Int',
      steps: [{ name: 'start', function: 'echo', input: '1' }, { name: 'bad', function: 'boom' }, { name: 'never', function: 'echo' }],
    });
    await ok('wrongType', { operation: 'query', returns: 'Int!', steps: [{ name: 's', function: 'echo', input: '"not a number"' }] });
    await ok('tree', {
      operation: 'query', types: 'type Node { v: Int, child: Node }', returns: 'Node',
      steps: [{ name: 's', function: 'echo', input: '({ v: 1, child: { v: 2 } })' }],
    });
    await ok('keyLength', {
      operation: 'mutation', types: 'type KeyInfo { length: Int!, key: String! }', returns: 'KeyInfo!',
      steps: [{ name: 'fetch', function: 'readkey' }, { name: 'shape', function: 'echo', input: 'pipeline.fetch' }],
    });
  });
  afterAll(async () => { if (process.env.DUMP_LOGS) console.log(w.s.logs.filter((l) => l.includes('graphql')).slice(0, 3).join('\n')); await w?.close(); });

  it('introspection through getIntrospectionQuery() builds a client schema with one field per pipeline', async () => {
    const data = await gql(w.users.viewer.key).request<IntrospectionQuery>(getIntrospectionQuery());
    const schema = buildClientSchema(data);
    expect(Object.keys(schema.getQueryType()!.getFields()).sort()).toEqual(['broken', 'maybe', 'squares', 'threeStep', 'tree', 'wrongType']);
    expect(String(schema.getQueryType()!.getFields().threeStep.type)).toBe('Int!');
    expect(schema.getQueryType()!.getFields().threeStep.args.map((a) => `${a.name}: ${a.type}`)).toEqual(['n: Int!']);
    expect(Object.keys(schema.getMutationType()!.getFields())).toEqual(['keyLength']);
  });

  it('a three-step pipeline passes results along', async () => {
    const data = await gql().request<{ threeStep: number }>('query($n: Int!) { threeStep(n: $n) }', { n: 4 });
    expect(data.threeStep).toBe((4 + 1) * 2 + 100);
  });

  it('if skips a step, and the run records it as skipped', async () => {
    expect((await gql().request<any>('{ maybe(flag: true) }')).maybe).toBe('ran');
    expect((await gql().request<any>('{ maybe(flag: false) }')).maybe).toBe('skipped');
    const runs = await w.s.request('GET', `/v1/workspaces/${w.ws}/pipelines/maybe/runs`);
    expect(runs.status, runs.text).toBe(200);
    expect(runs.body.runs.map((r: any) => r.steps[0].status)).toEqual(['skipped', 'ok']);
    expect(runs.body.runs[0].steps[0].invocationIds).toEqual([]);
    expect(runs.body.runs[1].steps[0].invocationIds).toEqual([expect.stringMatching(/^inv_/)]);
  });

  it('forEach maps a list', async () => {
    expect((await gql().request<any>('{ squares(xs: [1, 2, 3, 12]) }')).squares).toEqual([1, 4, 9, 144]);
    expect((await gql().request<any>('{ squares(xs: []) }')).squares).toEqual([]);
  });

  it('a failing middle step halts its field with "<step>: <message>" while a sibling field resolves', async () => {
    const r = await raw('{ broken ok: threeStep(n: 1) }');
    expect(r.data).toEqual({ broken: null, ok: 104 });
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toMatchObject({ message: 'bad: boom', path: ['broken'], extensions: { code: 'function_error', step: 'bad', runId: expect.stringMatching(/^run_/) } });
    // Invokers see no stack; editors do.
    expect(r.errors[0].extensions.stack).toBeUndefined();
    const asEditor = await raw('{ broken }', undefined, w.users.editor.key);
    expect(asEditor.errors[0].extensions.stack).toContain('boom');

    const run = await w.s.request('GET', `/v1/workspaces/${w.ws}/pipelines/broken/runs/${r.errors[0].extensions.runId}`);
    expect(run.body).toMatchObject({ outcome: 'error', errorCode: 'function_error', errorStep: 'bad' });
    expect(run.body.steps.map((s: any) => s.status)).toEqual(['ok', 'failed', 'not_run']);
  });

  it('a step output that violates the declared type is a field error, not a 500', async () => {
    const r = await raw('{ wrongType }');
    expect(r.status).toBe(200);
    expect(r.data).toBeNull();
    expect(r.errors[0]).toMatchObject({ path: ['wrongType'], extensions: { code: 'invalid_result' } });
    expect(r.errors[0].message).toMatch(/Int cannot represent/);
  });

  it('1,000 aliases are refused before any pipeline runs; so is a deep query', async () => {
    const before = (await w.s.request('GET', `/v1/workspaces/${w.ws}/pipelines/threeStep/runs?limit=100`)).body.runs.length;
    const aliases = Array.from({ length: 1000 }, (_, i) => `a${i}: threeStep(n: ${i})`).join(' ');
    const r = await raw(`{ ${aliases} }`);
    expect(r.errors[0].extensions.code).toBe('query_too_complex');
    expect(r.data ?? null).toBeNull();
    const few = await raw(`{ ${Array.from({ length: 11 }, (_, i) => `a${i}: maybe(flag: false)`).join(' ')} }`);
    expect(few.errors[0]).toMatchObject({ extensions: { code: 'query_too_complex' } });
    expect(few.errors[0].message).toMatch(/Pipeline field limit of 10/);
    const after = (await w.s.request('GET', `/v1/workspaces/${w.ws}/pipelines/threeStep/runs?limit=100`)).body.runs.length;
    expect(after).toBe(before);

    const deep = `{ tree { ${'child { '.repeat(12)}v${' }'.repeat(12)} } }`;
    const d = await raw(deep);
    expect(d.errors[0].extensions.code).toBe('query_too_complex');
    expect(d.errors[0].message).toMatch(/depth limit/i);
    expect((await gql().request<any>('{ tree { v child { v } } }')).tree).toEqual({ v: 1, child: { v: 2 } });

    const big = await fetch(`${w.s.url}/v1/workspaces/${w.ws}/graphql`, {
      method: 'POST', headers: { authorization: `Bearer ${w.users.invoker.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ query: `{ maybe(flag: true) } #${'x'.repeat(70_000)}` }),
    });
    expect(big.status).toBe(413);
    expect((await big.json()).errors[0].extensions.code).toBe('payload_too_large');
  });

  it('a malformed request is a 400 with a Coffer code; a chunked body over the limit is a 413; answers carry the request id and no-store', async () => {
    const post = (body: string | ReadableStream, contentType = 'application/json') => fetch(`${w.s.url}/v1/workspaces/${w.ws}/graphql`, {
      method: 'POST', headers: { authorization: `Bearer ${w.users.invoker.key}`, 'content-type': contentType }, body, ...(typeof body === 'string' ? {} : { duplex: 'half' }),
    } as RequestInit);
    // Without a query, yoga answers 200 as GraphQL over HTTP allows for application/json; the code still says what is wrong.
    for (const [body, code, status] of [
      ['{"query":', 'invalid_json', 400], ['null', 'invalid_request', 400], ['"text"', 'invalid_request', 400], ['{"query": 5}', 'invalid_request', 400], ['{}', 'invalid_request', 200],
    ] as const) {
      const r = await post(body);
      const answer = await r.json();
      expect(r.status, JSON.stringify(answer)).toBe(status);
      expect(answer.errors[0].extensions.code, body).toBe(code);
      expect(JSON.stringify(answer), body).not.toMatch(/ at |stack/);
    }

    const fine = await post(JSON.stringify({ query: '{ maybe(flag: true) }' }), 'application/json; charset=utf-8');
    expect(fine.status).toBe(200);
    expect(await fine.json()).toEqual({ data: { maybe: 'ran' } });
    expect(fine.headers.get('x-request-id')).toMatch(/^req_/);
    expect(fine.headers.get('cache-control')).toBe('no-store');
    // No CORS, as on the rest of the API: another origin's page gets no leave to read the answer.
    const origin = { origin: 'https://elsewhere.example' };
    const fromElsewhere = await fetch(`${w.s.url}/v1/workspaces/${w.ws}/graphql`, {
      method: 'POST', headers: { ...origin, authorization: `Bearer ${w.users.invoker.key}`, 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ maybe(flag: true) }' }),
    });
    expect(fromElsewhere.headers.get('access-control-allow-origin')).toBeNull();
    const preflight = await fetch(`${w.s.url}/v1/workspaces/${w.ws}/graphql`, {
      method: 'OPTIONS', headers: { ...origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    const form = await post(new URLSearchParams({ query: '{ maybe(flag: false) }' }).toString(), 'application/x-www-form-urlencoded');
    expect(await form.json()).toEqual({ data: { maybe: 'skipped' } });

    const chunks = [JSON.stringify({ query: '{ maybe(flag: true) }' }).slice(0, -1), `, "x": "${'y'.repeat(70_000)}"}`];
    const chunked = await post(new ReadableStream({ pull(c) { const next = chunks.shift(); if (next === undefined) c.close(); else c.enqueue(new TextEncoder().encode(next)); } }));
    expect(chunked.status).toBe(413);
    expect(chunked.headers.get('x-request-id')).toMatch(/^req_/);
    expect((await chunked.json()).errors[0].extensions.code).toBe('payload_too_large');
  });

  it('secret reads are audited per step with pipeline, version, step and run id; values are redacted from the result and run logs', async () => {
    const r = await raw('mutation { keyLength { length key } }');
    expect(r.errors).toEqual([]);
    expect(r.data.keyLength).toEqual({ length: 20, key: '[REDACTED]' });
    const runs = await w.s.request('GET', `/v1/workspaces/${w.ws}/pipelines/keyLength/runs`);
    const run = runs.body.runs[0];
    expect(runs.text).not.toContain('sk_live_abcdef123456');
    expect(run.steps[0].logs[0].message).toBe('key is [REDACTED]');
    const rows = await selectRows<{ outcome: string; function: string; invocation_id: string; detail: any }>(w.s.database.db,
      sql`select outcome, function, invocation_id, detail from audit_events where action = 'secret.read' and detail->>'runId' = ${run.id}`);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ outcome: 'allowed', function: 'readkey', invocation_id: run.steps[0].invocationIds[0] });
    expect(rows[0].detail).toMatchObject({ pipeline: 'keyLength', pipelineVersion: 1, step: 'fetch', runId: run.id });
  });

  it('members below invoker can introspect but not run; non-members get 404; no bearer is 401', async () => {
    const viewer = await raw('{ maybe(flag: true) }', undefined, w.users.viewer.key);
    expect(viewer.errors[0].extensions.code).toBe('forbidden');
    const outsider = await fetch(`${w.s.url}/v1/workspaces/${w.ws}/graphql`, {
      method: 'POST', headers: { authorization: `Bearer ${w.users.outsider.key}`, 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(outsider.status).toBe(404);
    const anonymous = await fetch(`${w.s.url}/v1/workspaces/${w.ws}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ __typename }' }) });
    expect(anonymous.status).toBe(401);
  });

  it('a query over GET and a POST whose URL has a query string run; a mutation over GET is refused', async () => {
    const url = `${w.s.url}/v1/workspaces/${w.ws}/graphql`;
    const headers = { authorization: `Bearer ${w.users.invoker.key}`, accept: 'application/json' };
    const viaGet = await fetch(`${url}?${new URLSearchParams({ query: 'query($f: Boolean!) { maybe(flag: $f) }', variables: '{"f":true}' })}`, { headers });
    expect(viaGet.status).toBe(200);
    expect(await viaGet.json()).toEqual({ data: { maybe: 'ran' } });
    const withSearch = await fetch(`${url}?trace=1`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ maybe(flag: false) }' }) });
    expect(withSearch.status).toBe(200);
    expect(await withSearch.json()).toEqual({ data: { maybe: 'skipped' } });
    const mutationViaGet = await fetch(`${url}?${new URLSearchParams({ query: 'mutation { keyLength { length } }' })}`, { headers });
    expect(mutationViaGet.status).toBe(405);
  });

  it('GET serves GraphiQL from bundled assets, without any CDN', async () => {
    const page = await fetch(`${w.s.url}/v1/workspaces/${w.ws}/graphql`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<div id="root">');
    expect(html).not.toMatch(/<script[^>]+src="https?:|<link[^>]+href="https?:|unpkg\.com|cdn\.jsdelivr/);
  });

  it('revoking the workspace\'s grant fails the next run', async () => {
    const grants = await w.s.request('GET', `/v1/vaults/${w.vault}/grants`);
    const grant = grants.body.grants.find((g: any) => g.workspace === w.ws || g.workspaceName === w.ws || g.principal === null);
    expect(grant, grants.text).toBeDefined();
    expect((await w.s.request('DELETE', `/v1/vaults/${w.vault}/grants/${grant.id}`)).status).toBe(204);
    const r = await raw('mutation { keyLength { length } }');
    expect(r.errors[0]).toMatchObject({ extensions: { code: 'function_error', step: 'fetch' } });
    expect(r.errors[0].message).toMatch(/^fetch: access denied to vault "default"/);
    await w.grant();
  });

  it('bad SDL and bad expressions are refused at PUT with the field, line and column', async () => {
    const base = { operation: 'query', returns: 'Int', steps: [{ name: 's', function: 'echo' }] };
    const cases: [unknown, string, Record<string, unknown>][] = [
      [{ ...base, types: 'type A {\n  x: Int\n  y: \n}' }, 'invalid_schema', { field: 'types', line: 4, column: 1 }],
      [{ ...base, types: 'type A { x: Missing }' }, 'invalid_schema', { field: 'types', line: 1, column: 13 }],
      [{ ...base, returns: 'Nope!' }, 'invalid_schema', { field: 'returns', line: 1, column: 1 }],
      [{ ...base, args: 'id: ID!, x: Unknown' }, 'invalid_schema', { field: 'args', line: 1, column: 13 }],
      [{ ...base, args: 'id ID' }, 'invalid_schema', { field: 'args', line: 1, column: 4 }],
      [{ ...base, types: 'type Query { x: Int }' }, 'invalid_schema', { field: 'types' }],
      [{ ...base, types: 'type Node { v: Int }' }, 'invalid_schema', { field: 'tree.types' }],
      [{ ...base, steps: [{ name: 's', function: 'echo', input: 'args.(' }] }, 'invalid_expression', { field: 'steps[0].input', line: 1, column: 6 }],
      [{ ...base, steps: [{ name: 's', function: 'echo', if: 'true\n  && )' }] }, 'invalid_expression', { field: 'steps[0].if', line: 2, column: 6 }],
      [{ ...base, steps: [{ name: 's', function: 'echo', input: '1); globalThis.x = (2' }] }, 'invalid_expression', { field: 'steps[0].input' }],
      [{ ...base, result: 'a b' }, 'invalid_expression', { field: 'result', line: 1, column: 3 }],
      [{ ...base, steps: [{ name: 's', function: 'nope' }] }, 'invalid_request', { field: 'steps[0].function' }],
      [{ ...base, steps: [{ name: 's', function: 'echo' }, { name: 's', function: 'echo' }] }, 'invalid_request', { field: 'steps[1].name' }],
    ];
    for (const [body, code, details] of cases) {
      const r = await put('refused', body);
      expect({ status: r.status, code: r.body?.error?.code }, `${JSON.stringify(body)}: ${r.text}`).toEqual({ status: 400, code });
      expect(r.body.error.details, r.text).toMatchObject(details);
      if ('line' in details) expect(r.body.error.message).toContain(`(line ${details.line}, column ${details.column})`);
    }
    expect((await w.s.request('GET', `/v1/workspaces/${w.ws}/pipelines/refused`)).status).toBe(404);
  });

  it('redeploys change the schema at once; rollback restores it', async () => {
    const body = (returns: string) => ({ operation: 'query', returns, steps: [{ name: 's', function: 'echo', input: '7' }] });
    expect((await put('lucky', body('Int'))).status).toBe(201);
    expect((await gql().request<any>('{ lucky }')).lucky).toBe(7);
    expect((await put('lucky', body('String'))).status).toBe(200);
    expect((await gql().request<any>('{ lucky }')).lucky).toBe('7');
    const fieldType = async () => (await gql().request<any>('{ __type(name: "Query") { fields { name type { name } } } }'))
      .__type.fields.find((f: any) => f.name === 'lucky')?.type.name;
    expect(await fieldType()).toBe('String');
    const back = await w.s.request('POST', `/v1/workspaces/${w.ws}/pipelines/lucky/versions/1/activate`);
    expect(back.status, back.text).toBe(200);
    expect((await gql().request<any>('{ lucky }')).lucky).toBe(7);
    expect(await fieldType()).toBe('Int');
    expect((await w.s.request('DELETE', `/v1/workspaces/${w.ws}/pipelines/lucky`)).status).toBe(204);
    expect((await raw('{ lucky }')).errors[0].extensions.code).toBe('invalid_request');
  });
});
