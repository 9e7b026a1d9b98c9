// /v1/me, /v1/users, /v1/users/{id}/api-keys
import { createRoute, z } from '@hono/zod-openapi';
import { createRouter, commonErrors, jsonBody, jsonResponse, ResourceName, Timestamp, Id, iso, BEARER } from './openapi.ts';
import { actorOf } from '../middleware/auth.ts';
import type { UserService } from '../services/users.ts';
import type { Principal } from '../../db/schema.ts';

const UserSchema = z.object({ id: z.string(), name: z.string(), description: z.string().nullable(), isAdmin: z.boolean(), active: z.boolean(), createdAt: Timestamp }).openapi('User');
const ApiKeySchema = z.object({ id: z.string(), name: z.string().nullable(), prefix: z.string(), createdAt: Timestamp, lastUsedAt: Timestamp.nullable(), revokedAt: Timestamp.nullable() }).openapi('ApiKey');
const UserParam = z.object({ id: Id.openapi({ param: { name: 'id', in: 'path' } }) });

const presentUser = (u: Principal) => ({ id: u.id, name: u.name, description: u.description, isAdmin: u.isAdmin, active: u.active, createdAt: iso(u.createdAt)! });

export function userRoutes(users: UserService) {
  const r = createRouter();
  const tags = ['Users'];

  r.openapi(createRoute({ method: 'get', path: '/v1/me', tags, security: BEARER, summary: 'Who you are authenticated as',
    responses: { 200: jsonResponse(z.object({ id: z.string(), kind: z.string(), name: z.string(), isAdmin: z.boolean(), via: z.string() }), 'You'), ...commonErrors } }),
  (c) => {
    const p = c.get('principal');
    return c.json({ id: p.id, kind: p.kind, name: p.name, isAdmin: p.isAdmin, via: p.via }, 200);
  });

  r.openapi(createRoute({ method: 'get', path: '/v1/users', tags, security: BEARER, summary: 'List users (admin)',
    responses: { 200: jsonResponse(z.object({ users: z.array(UserSchema) }), 'Users'), ...commonErrors } }),
  async (c) => c.json({ users: (await users.list(actorOf(c))).map(presentUser) }, 200));

  r.openapi(createRoute({ method: 'post', path: '/v1/users', tags, security: BEARER, summary: 'Create a user (admin)',
    request: { body: jsonBody(z.strictObject({ name: ResourceName, isAdmin: z.boolean().optional(), description: z.string().max(1024).optional() })) },
    responses: { 201: jsonResponse(UserSchema, 'Created'), ...commonErrors } }),
  async (c) => c.json(presentUser(await users.create(actorOf(c), c.req.valid('json'))), 201));

  r.openapi(createRoute({ method: 'get', path: '/v1/users/{id}', tags, security: BEARER, summary: 'Show a user (admin or self)',
    request: { params: UserParam }, responses: { 200: jsonResponse(UserSchema, 'User'), ...commonErrors } }),
  async (c) => c.json(presentUser(await users.get(actorOf(c), c.req.valid('param').id)), 200));

  r.openapi(createRoute({ method: 'patch', path: '/v1/users/{id}', tags, security: BEARER,
    summary: 'Deactivate or reactivate a user (admin). A deactivated user\'s API keys, and the service accounts they own, stop working on the next request',
    request: { params: UserParam, body: jsonBody(z.strictObject({ active: z.boolean() })) },
    responses: { 200: jsonResponse(UserSchema, 'Updated'), ...commonErrors } }),
  async (c) => c.json(presentUser(await users.setActive(actorOf(c), c.req.valid('param').id, c.req.valid('json').active)), 200));

  r.openapi(createRoute({ method: 'get', path: '/v1/users/{id}/api-keys', tags, security: BEARER, summary: 'List API keys, metadata only (admin or self)',
    request: { params: UserParam }, responses: { 200: jsonResponse(z.object({ apiKeys: z.array(ApiKeySchema) }), 'Keys'), ...commonErrors } }),
  async (c) => {
    const rows = await users.listKeys(actorOf(c), c.req.valid('param').id);
    return c.json({ apiKeys: rows.map((k) => ({ id: k.id, name: k.name, prefix: k.prefix, createdAt: iso(k.createdAt)!, lastUsedAt: iso(k.lastUsedAt), revokedAt: iso(k.revokedAt) })) }, 200);
  });

  r.openapi(createRoute({ method: 'post', path: '/v1/users/{id}/api-keys', tags, security: BEARER, summary: 'Issue an API key (admin or self); the key is shown only in this response',
    request: { params: UserParam, body: jsonBody(z.strictObject({ name: z.string().max(128).optional() })) },
    responses: { 201: jsonResponse(z.object({ id: z.string(), prefix: z.string(), key: z.string() }), 'Issued'), ...commonErrors } }),
  async (c) => {
    const { key, row } = await users.createKey(actorOf(c), c.req.valid('param').id, c.req.valid('json'));
    c.header('Cache-Control', 'no-store');
    return c.json({ id: row.id, prefix: row.prefix, key }, 201);
  });

  r.openapi(createRoute({ method: 'delete', path: '/v1/users/{id}/api-keys/{keyId}', tags, security: BEARER, summary: 'Revoke an API key; it fails on the next request',
    request: { params: UserParam.extend({ keyId: Id }) }, responses: { 204: { description: 'Revoked' }, ...commonErrors } }),
  async (c) => {
    const { id, keyId } = c.req.valid('param');
    await users.revokeKey(actorOf(c), id, keyId);
    return c.body(null, 204);
  });

  return r;
}
