// A pipeline redeploy on one gateway changes the schema another gateway serves, when both share one
// PostgreSQL database: the second gateway is its own process, so it learns of the change only
// through the database's NOTIFY (the access-epoch path in db/client.ts). PostgreSQL only.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { GraphQLClient } from 'graphql-request';
import { startTestServer, testMasterKey, type TestServer } from '../support/server.ts';
import { usingPostgres } from '../support/database.ts';
import { startSecondGateway } from '../support/gateway.ts';

describe.skipIf(!usingPostgres())('pipelines on two gateways (PostgreSQL)', () => {
  let s: TestServer;
  let second: Awaited<ReturnType<typeof startSecondGateway>>;
  const masterKey = testMasterKey();

  beforeAll(async () => {
    s = await startTestServer({ env: { COFFER_MASTER_KEY: masterKey, COFFER_WORKERS: '1' } });
    second = await startSecondGateway({ DATABASE_URL: (s.database as { url?: string }).url!, COFFER_MASTER_KEY: masterKey });
    expect((await s.request('POST', '/v1/workspaces', { body: { name: 'shared' } })).status).toBe(201);
    expect((await s.request('PUT', '/v1/workspaces/shared/functions/echo', { body: { code: 'export default async (x) => x' } })).status).toBe(201);
  });
  afterAll(async () => {
    await second?.stop();
    await s?.close();
  });

  it('a redeploy on the first gateway changes the schema on the second', async () => {
    const put = (returns: string, input: string) => s.request('PUT', '/v1/workspaces/shared/pipelines/answer', {
      body: { operation: 'query', returns, steps: [{ name: 'only', function: 'echo', input }] },
    });
    const client = new GraphQLClient(`${second.url}/v1/workspaces/shared/graphql`, { headers: { authorization: `Bearer ${s.adminKey}` } });
    const typeOnSecond = async () => (await client.request<any>('{ __type(name: "Query") { fields { name type { name kind ofType { name } } } } }'))
      .__type.fields.find((f: any) => f.name === 'answer')?.type;

    expect((await put('Int', '42')).status).toBe(201);
    expect((await client.request<any>('{ answer }')).answer).toBe(42);
    expect(await typeOnSecond()).toMatchObject({ name: 'Int' });

    expect((await put('String!', '"forty-two"')).status).toBe(200);
    // NOTIFY is asynchronous but quick: well within the 1 s after which the memo would expire anyway,
    // so passing here shows the notification did it.
    const deadline = Date.now() + 500;
    let type = await typeOnSecond();
    while (type?.kind !== 'NON_NULL' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 25));
      type = await typeOnSecond();
    }
    expect(type).toMatchObject({ kind: 'NON_NULL', ofType: { name: 'String' } });
    expect((await client.request<any>('{ answer }')).answer).toBe('forty-two');
  });
});
