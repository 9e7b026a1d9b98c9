// Shared pieces for routers: the OpenAPIHono factory (validation failures become coded 400s) and
// schemas used by several routers. The same zod schemas validate requests and feed /openapi.json.
import { OpenAPIHono, z } from '@hono/zod-openapi';
import type { AppEnv } from '../app-env.ts';
import { CofferError } from '../errors.ts';
import { RESOURCE_NAME, RESOURCE_NAME_RULE, SECRET_NAME, SECRET_NAME_RULE } from '../../domain/names.ts';

export function createRouter() {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) {
        // Only paths and messages: zod issues can carry the rejected input, which may be a secret.
        const issues = result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
        const first = issues[0];
        throw new CofferError('validation_failed', first ? `${first.path || 'body'}: ${first.message}` : 'invalid request', { details: { issues } });
      }
    },
  });
}

export const ErrorSchema = z.object({
  error: z.object({
    code: z.string().openapi({ example: 'not_found' }),
    message: z.string(),
    requestId: z.string().nullable(),
  }),
}).openapi('Error');

const errorResponse = (description: string) => ({ description, content: { 'application/json': { schema: ErrorSchema } } });

/** The error responses every authenticated route can give. */
export const commonErrors = {
  400: errorResponse('Invalid request (validation_failed, invalid_json, invalid_request)'),
  401: errorResponse('Missing or invalid credentials (unauthenticated)'),
  403: errorResponse('Authenticated but not allowed (forbidden)'),
  404: errorResponse('Not found, or not visible to you (not_found)'),
  409: errorResponse('Conflicts with the current state'),
  413: errorResponse('Body or value too large'),
  503: errorResponse('Database unavailable (unavailable)'),
};

export const jsonBody = <T extends z.ZodType>(schema: T) => ({ required: true, content: { 'application/json': { schema } } });
export const jsonResponse = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { 'application/json': { schema } } });

export const ResourceName = z.string().regex(RESOURCE_NAME, RESOURCE_NAME_RULE);
export const SecretName = z.string().regex(SECRET_NAME, SECRET_NAME_RULE);
export const Timestamp = z.string().openapi({ format: 'date-time' });
export const Id = z.string().min(1).max(64).regex(/^[A-Za-z0-9_-]+$/, 'an id');

export const VaultParam = z.object({ vault: ResourceName.openapi({ param: { name: 'vault', in: 'path' } }) });
export const WorkspaceParam = z.object({ ws: ResourceName.openapi({ param: { name: 'ws', in: 'path' } }) });

export const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);
export const BEARER = [{ bearer: [] }];
