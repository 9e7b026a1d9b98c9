// Builds the HTTP application: middleware, routers, OpenAPI document, the one error handler.
import { OpenAPIHono } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import type { AppEnv } from './app-env.ts';
import type { Database } from '../db/client.ts';
import type { Keyring } from './crypto/keyring.ts';
import type { Logger } from './logger.ts';
import { CofferError } from './errors.ts';
import { createErrorHandler, errorBody } from './error-handler.ts';
import { requestContext } from './middleware/request-id.ts';
import { authenticate, type Authenticator } from './middleware/auth.ts';
import { createServices } from './services/index.ts';
import { createApiKeyAuthenticator } from './services/api-key-auth.ts';
import { healthRoutes } from './routes/health.ts';
import { docsRoutes } from './routes/docs.ts';
import { vaultRoutes } from './routes/vaults.ts';
import { secretRoutes } from './routes/secrets.ts';
import { workspaceRoutes } from './routes/workspaces.ts';
import { userRoutes } from './routes/users.ts';
import { auditRoutes } from './routes/audit.ts';

export const MAX_BODY_BYTES = 1024 * 1024;

export interface AppDeps {
  database: Database;
  keyring: Keyring;
  logger: Logger;
}

export function createApp(deps: AppDeps) {
  const { database, keyring, logger } = deps;
  const services = createServices({ db: database.db, keyring });
  const app = new OpenAPIHono<AppEnv>();

  app.use('*', requestContext(logger));
  // Enforced on the stream, so chunked bodies without Content-Length are cut off too.
  app.use('*', bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: () => { throw new CofferError('payload_too_large', `request body is larger than the ${MAX_BODY_BYTES / 1024 / 1024} MiB limit`); },
  }));
  app.onError(createErrorHandler(logger));
  app.notFound((c) => c.json(errorBody('not_found', `no route for ${c.req.method} ${c.req.path}`, c.get('requestId')), 404));

  app.route('/', healthRoutes({ database, keyring }));
  app.route('/', docsRoutes());

  const authenticators: Authenticator[] = [createApiKeyAuthenticator(database.db)];
  app.use('/v1/*', authenticate({
    authenticators,
    onFailure: (c, reason) => services.audit.append({
      action: 'auth.failed', outcome: 'denied', requestId: c.get('requestId'), detail: { reason, path: c.req.path },
    }),
  }));
  app.route('/', vaultRoutes(services.vaults));
  app.route('/', secretRoutes(services.secrets));
  app.route('/', workspaceRoutes(services.workspaces));
  app.route('/', userRoutes(services.users));
  app.route('/', auditRoutes(services.auditQuery));

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
    type: 'http', scheme: 'bearer', description: 'An API key (coffer_...) or an OAuth 2.0 access token (JWT)',
  });
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: { title: 'Coffer', version: '0.1.0', description: 'Coffer: a function runtime with a built-in secret manager.' },
  });

  return { app, services, authenticators };
}
