// /v1/vaults/{vault}/secrets...: metadata, values, versions. Values appear only in the /value response.
import { createRoute, z } from '@hono/zod-openapi';
import { createRouter, commonErrors, jsonBody, jsonResponse, SecretName, VaultParam, Timestamp, iso, BEARER } from './openapi.ts';
import { actorOf } from '../middleware/auth.ts';
import type { SecretService } from '../services/secrets.ts';
import type { Secret } from '../../db/schema.ts';
import { VERSION_STATES } from '../../db/schema.ts';

const SecretParams = VaultParam.extend({ name: SecretName.openapi({ param: { name: 'name', in: 'path' } }) });
const VersionParams = SecretParams.extend({ n: z.coerce.number().int().min(1).max(2_147_483_647).openapi({ param: { name: 'n', in: 'path' }, type: 'integer' }) });

const SecretSchema = z.object({
  name: z.string(), description: z.string().nullable(), latestVersion: z.number().int(),
  createdAt: Timestamp, createdBy: z.string(), updatedAt: Timestamp, updatedBy: z.string(),
}).openapi('Secret');
const WriteSchema = SecretSchema.extend({
  version: z.number().int().openapi({ description: 'The version written, or with ifChanged and an equal value, the existing latest one' }),
  changed: z.boolean().openapi({ description: 'false when ifChanged found the value equal and wrote nothing' }),
}).openapi('SecretWrite');
const VersionSchema = z.object({
  version: z.number().int(), state: z.enum(VERSION_STATES), createdAt: Timestamp, createdBy: z.string(), destroyedAt: Timestamp.nullable(),
}).openapi('SecretVersion');

const presentSecret = (s: Secret) => ({
  name: s.name, description: s.description, latestVersion: s.latestVersion,
  createdAt: iso(s.createdAt)!, createdBy: s.createdBy, updatedAt: iso(s.updatedAt)!, updatedBy: s.updatedBy,
});

export function secretRoutes(secrets: SecretService) {
  const r = createRouter();
  const tags = ['Secrets'];

  r.openapi(createRoute({ method: 'get', path: '/v1/vaults/{vault}/secrets', tags, security: BEARER, summary: 'List secret names and metadata, never values (writer)',
    request: { params: VaultParam }, responses: { 200: jsonResponse(z.object({ secrets: z.array(SecretSchema) }), 'Secrets'), ...commonErrors } }),
  async (c) => c.json({ secrets: (await secrets.list(actorOf(c), c.req.valid('param').vault)).map(presentSecret) }, 200));

  r.openapi(createRoute({ method: 'put', path: '/v1/vaults/{vault}/secrets/{name}', tags, security: BEARER,
    summary: 'Write a value: creates the secret or adds a new version (writer). Values up to 64 KiB.',
    request: { params: SecretParams, body: jsonBody(z.strictObject({
      value: z.string(), description: z.string().max(1024).optional(),
      ifChanged: z.boolean().optional().openapi({ description: 'Create no new version when the value equals the latest version\'s (compared server-side, in constant time, after decrypting it); the answer then has `changed: false` and that version' }),
    })) },
    responses: { 200: jsonResponse(WriteSchema, 'New version of an existing secret, or (ifChanged) the unchanged latest one'), 201: jsonResponse(WriteSchema, 'Created'), ...commonErrors } }),
  async (c) => {
    const { vault, name } = c.req.valid('param');
    const { secret, version, changed } = await secrets.put(actorOf(c), vault, name, c.req.valid('json'));
    return c.json({ ...presentSecret(secret), version, changed }, version === 1 && changed ? 201 : 200);
  });

  r.openapi(createRoute({ method: 'get', path: '/v1/vaults/{vault}/secrets/{name}', tags, security: BEARER, summary: 'Secret metadata (writer)',
    request: { params: SecretParams }, responses: { 200: jsonResponse(SecretSchema, 'Secret'), ...commonErrors } }),
  async (c) => {
    const { vault, name } = c.req.valid('param');
    return c.json(presentSecret(await secrets.metadata(actorOf(c), vault, name)), 200);
  });

  r.openapi(createRoute({ method: 'delete', path: '/v1/vaults/{vault}/secrets/{name}', tags, security: BEARER, summary: 'Delete a secret and all its versions (writer)',
    request: { params: SecretParams }, responses: { 204: { description: 'Deleted' }, ...commonErrors } }),
  async (c) => {
    const { vault, name } = c.req.valid('param');
    await secrets.remove(actorOf(c), vault, name);
    return c.body(null, 204);
  });

  r.openapi(createRoute({ method: 'get', path: '/v1/vaults/{vault}/secrets/{name}/value', tags, security: BEARER,
    summary: 'Read a value (reader): the latest enabled version, or ?version=N',
    request: { params: SecretParams, query: z.strictObject({ version: z.coerce.number().int().min(1).max(2_147_483_647).optional() }) },
    responses: { 200: jsonResponse(z.object({ name: z.string(), version: z.number().int(), value: z.string() }), 'The value'), ...commonErrors } }),
  async (c) => {
    const { vault, name } = c.req.valid('param');
    const { value, version } = await secrets.readValue(actorOf(c), vault, name, c.req.valid('query').version);
    c.header('Cache-Control', 'no-store');
    return c.json({ name, version, value }, 200);
  });

  r.openapi(createRoute({ method: 'get', path: '/v1/vaults/{vault}/secrets/{name}/versions', tags, security: BEARER, summary: 'List versions (writer)',
    request: { params: SecretParams }, responses: { 200: jsonResponse(z.object({ versions: z.array(VersionSchema) }), 'Versions'), ...commonErrors } }),
  async (c) => {
    const { vault, name } = c.req.valid('param');
    const rows = await secrets.versions(actorOf(c), vault, name);
    return c.json({ versions: rows.map((v) => ({ ...v, createdAt: iso(v.createdAt)!, destroyedAt: iso(v.destroyedAt) })) }, 200);
  });

  r.openapi(createRoute({ method: 'patch', path: '/v1/vaults/{vault}/secrets/{name}/versions/{n}', tags, security: BEARER, summary: 'Enable or disable a version (writer)',
    request: { params: VersionParams, body: jsonBody(z.strictObject({ state: z.enum(['enabled', 'disabled']) })) },
    responses: { 200: jsonResponse(z.object({ version: z.number().int(), state: z.enum(['enabled', 'disabled']) }), 'Updated'), ...commonErrors } }),
  async (c) => {
    const { vault, name, n } = c.req.valid('param');
    return c.json(await secrets.setVersionState(actorOf(c), vault, name, n, c.req.valid('json').state), 200);
  });

  r.openapi(createRoute({ method: 'delete', path: '/v1/vaults/{vault}/secrets/{name}/versions/{n}', tags, security: BEARER,
    summary: 'Destroy a version: its ciphertext is erased, its metadata kept (writer)',
    request: { params: VersionParams }, responses: { 204: { description: 'Destroyed' }, ...commonErrors } }),
  async (c) => {
    const { vault, name, n } = c.req.valid('param');
    await secrets.destroyVersion(actorOf(c), vault, name, n);
    return c.body(null, 204);
  });

  return r;
}
