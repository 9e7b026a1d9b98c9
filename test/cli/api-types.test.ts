// client/api-types.ts is generated from the server's /openapi.json: a route change without
// `npm run client:types` fails here instead of shipping a client with stale types.
import { it, expect } from 'vitest';
import fs from 'node:fs';
import { currentDocument, renderTypes, TYPES_FILE } from '../../client/generate-types.ts';

it('client/api-types.ts matches the OpenAPI document the server serves now', async () => {
  const fresh = await renderTypes(await currentDocument());
  expect(fs.readFileSync(TYPES_FILE, 'utf8') === fresh, 'client/api-types.ts is stale: run `npm run client:types`').toBe(true);
}, 120_000);
