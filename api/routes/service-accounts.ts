// /v1/service-accounts and /v1/service-accounts/{id}/client-secrets. Keys and client secrets appear
// only in the response that creates them; every other answer is metadata.
import { createRoute, z } from '@hono/zod-openapi';
import { createRouter, commonErrors, jsonBody, jsonResponse, ResourceName, Timestamp, Id, iso, BEARER } from './openapi.ts';
import { actorOf } from '../middleware/auth.ts';
import type { ServiceAccountService } from '../services/service-accounts.ts';
import type { ClientSecret } from '../../db/repos/service-accounts.ts';
import type { Principal } from '../../db/schema.ts';

const Auth = z.enum(['api_key', 'oauth']);
const ServiceAccountSchema = z.object({
  id: z.string(), name: z.string(), description: z.string().nullable(), auth: Auth, active: z.boolean(), ownerId: z.string().nullable(),
  deactivatedByAdmin: z.boolean().openapi({ description: 'Deactivated by an admin: only an admin can reactivate it' }),
  clientId: z.string().nullable().openapi({ description: 'OAuth accounts: the client_id for /oauth2/token (the account id)' }),
  createdAt: Timestamp, updatedAt: Timestamp,
}).openapi('ServiceAccount');
const ClientSecretSchema = z.object({ id: z.string(), prefix: z.string(), active: z.boolean(), createdAt: Timestamp, lastUsedAt: Timestamp.nullable() }).openapi('ClientSecret');
const CreatedSchema = z.object({
  serviceAccount: ServiceAccountSchema,
  apiKey: z.object({ id: z.string(), prefix: z.string(), key: z.string() }).optional(),
  clientId: z.string().optional(),
  clientSecret: z.object({ id: z.string(), prefix: z.string(), secret: z.string() }).optional(),
}).openapi('ServiceAccountCreated');

const AccountParam = z.object({ id: Id.openapi({ param: { name: 'id', in: 'path' } }) });
const SecretParam = AccountParam.extend({ secretId: Id.openapi({ param: { name: 'secretId', in: 'path' } }) });

const presentAccount = (a: Principal) => ({
  id: a.id, name: a.name, description: a.description, auth: a.authKind ?? 'api_key', active: a.active, ownerId: a.ownerId,
  deactivatedByAdmin: a.deactivatedByAdmin, clientId: a.authKind === 'oauth' ? a.id : null, createdAt: iso(a.createdAt)!, updatedAt: iso(a.updatedAt)!,
});
const presentSecret = (s: ClientSecret) => ({ id: s.id, prefix: s.prefix, active: s.active, createdAt: iso(s.createdAt)!, lastUsedAt: iso(s.lastUsedAt) });

export function serviceAccountRoutes(accounts: ServiceAccountService) {
  const r = createRouter();
  const tags = ['Service accounts'];

  r.openapi(createRoute({ method: 'get', path: '/v1/service-accounts', tags, security: BEARER, summary: 'List service accounts you own (admins: all); metadata only',
    responses: { 200: jsonResponse(z.object({ serviceAccounts: z.array(ServiceAccountSchema) }), 'Service accounts'), ...commonErrors } }),
  async (c) => c.json({ serviceAccounts: (await accounts.list(actorOf(c))).map(presentAccount) }, 200));

  r.openapi(createRoute({ method: 'post', path: '/v1/service-accounts', tags, security: BEARER,
    summary: 'Create a service account (users); its API key or first client secret is shown only in this response',
    request: { body: jsonBody(z.strictObject({ name: ResourceName, description: z.string().max(1024).optional(), auth: Auth })) },
    responses: { 201: jsonResponse(CreatedSchema, 'Created'), ...commonErrors } }),
  async (c) => {
    const { account, apiKey, clientSecret } = await accounts.create(actorOf(c), c.req.valid('json'));
    c.header('Cache-Control', 'no-store');
    return c.json({
      serviceAccount: presentAccount(account),
      ...(apiKey ? { apiKey: { id: apiKey.row.id, prefix: apiKey.row.prefix, key: apiKey.key } } : {}),
      ...(clientSecret ? { clientId: account.id, clientSecret: { id: clientSecret.row.id, prefix: clientSecret.row.prefix, secret: clientSecret.secret } } : {}),
    }, 201);
  });

  r.openapi(createRoute({ method: 'get', path: '/v1/service-accounts/{id}', tags, security: BEARER, summary: 'Show a service account (owner or admin)',
    request: { params: AccountParam }, responses: { 200: jsonResponse(ServiceAccountSchema, 'Service account'), ...commonErrors } }),
  async (c) => c.json(presentAccount(await accounts.get(actorOf(c), c.req.valid('param').id)), 200));

  r.openapi(createRoute({ method: 'patch', path: '/v1/service-accounts/{id}', tags, security: BEARER,
    summary: 'Rename, describe, deactivate (active: false) or reactivate a service account (owner or admin); deactivation takes effect on the next request',
    request: { params: AccountParam, body: jsonBody(z.strictObject({ name: ResourceName.optional(), description: z.string().max(1024).nullable().optional(), active: z.boolean().optional() })) },
    responses: { 200: jsonResponse(ServiceAccountSchema, 'Updated'), ...commonErrors } }),
  async (c) => c.json(presentAccount(await accounts.update(actorOf(c), c.req.valid('param').id, c.req.valid('json'))), 200));

  r.openapi(createRoute({ method: 'delete', path: '/v1/service-accounts/{id}', tags, security: BEARER,
    summary: 'Delete a service account with its credentials, grants and memberships (owner or admin)',
    request: { params: AccountParam }, responses: { 204: { description: 'Deleted' }, ...commonErrors } }),
  async (c) => {
    await accounts.remove(actorOf(c), c.req.valid('param').id);
    return c.body(null, 204);
  });

  r.openapi(createRoute({ method: 'get', path: '/v1/service-accounts/{id}/client-secrets', tags, security: BEARER, summary: 'List client secrets, metadata only (owner or admin)',
    request: { params: AccountParam }, responses: { 200: jsonResponse(z.object({ clientSecrets: z.array(ClientSecretSchema) }), 'Client secrets'), ...commonErrors } }),
  async (c) => c.json({ clientSecrets: (await accounts.listSecrets(actorOf(c), c.req.valid('param').id)).map(presentSecret) }, 200));

  r.openapi(createRoute({ method: 'post', path: '/v1/service-accounts/{id}/client-secrets', tags, security: BEARER,
    summary: 'Create a client secret (at most 2 per account: max_client_secrets); the secret is shown only in this response',
    request: { params: AccountParam }, responses: { 201: jsonResponse(z.object({ id: z.string(), prefix: z.string(), secret: z.string() }), 'Created'), ...commonErrors } }),
  async (c) => {
    const { secret, row } = await accounts.createSecret(actorOf(c), c.req.valid('param').id);
    c.header('Cache-Control', 'no-store');
    return c.json({ id: row.id, prefix: row.prefix, secret }, 201);
  });

  r.openapi(createRoute({ method: 'patch', path: '/v1/service-accounts/{id}/client-secrets/{secretId}', tags, security: BEARER,
    summary: 'Deactivate or reactivate a client secret; the last active one cannot be deactivated (last_active_secret)',
    request: { params: SecretParam, body: jsonBody(z.strictObject({ active: z.boolean() })) },
    responses: { 200: jsonResponse(ClientSecretSchema, 'Updated'), ...commonErrors } }),
  async (c) => {
    const { id, secretId } = c.req.valid('param');
    return c.json(presentSecret(await accounts.setSecretActive(actorOf(c), id, secretId, c.req.valid('json').active)), 200);
  });

  r.openapi(createRoute({ method: 'delete', path: '/v1/service-accounts/{id}/client-secrets/{secretId}', tags, security: BEARER,
    summary: 'Delete a deactivated client secret (an active one: secret_still_active)',
    request: { params: SecretParam }, responses: { 204: { description: 'Deleted' }, ...commonErrors } }),
  async (c) => {
    const { id, secretId } = c.req.valid('param');
    await accounts.deleteSecret(actorOf(c), id, secretId);
    return c.body(null, 204);
  });

  return r;
}
