// Builds the HTTP application: middleware, routers, OpenAPI document, the one error handler.
import { OpenAPIHono } from '@hono/zod-openapi';
import { bodyLimit } from './middleware/body-limit.ts';
import type { AppEnv } from './app-env.ts';
import type { Database } from '../db/client.ts';
import type { Keyring } from './crypto/keyring.ts';
import type { Logger } from './logger.ts';
import { CofferError } from './errors.ts';
import { createErrorHandler, errorBody } from './error-handler.ts';
import { requestContext, serverRequestId } from './middleware/request-id.ts';
import { sourceAddress } from './middleware/source-address.ts';
import { routePath } from 'hono/route';
import { storableText } from './storable-text.ts';
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
import { serviceAccountRoutes } from './routes/service-accounts.ts';
import { oauthRoutes, signingKeyAdminRoutes } from './routes/oauth.ts';
import { createAccessTokenAuthenticator } from './services/access-token-auth.ts';
import { functionRoutes } from './routes/functions.ts';
import { groupRoutes } from './groups/groups-routes.ts';
import { accessRoutes } from './routes/access.ts';
import type { Runtime } from '../runtime/index.ts';
import { pipelineRoutes } from './pipelines/routes.ts';
import { graphqlRoutes } from './pipelines/graphql.ts';
import { createMetrics, type Metrics } from './metrics/metrics.ts';
import { metricsRoutes } from './metrics/routes.ts';
import type { Config } from './config.ts';
import { executorRoutes } from './executors/routes.ts';
import { projectRoutes } from './projects/routes.ts';
import { hookRoutes } from './executors/webhooks.ts';
import { loadConfig } from './config.ts';

export const MAX_BODY_BYTES = 1024 * 1024;

export interface AppDeps {
  database: Database;
  keyring: Keyring;
  logger: Logger;
  /** OAuth issuer URL (also the base of the token audience); a getter because the port is known only after listening. */
  issuer: () => string;
  /** Failed token requests allowed per source address per minute (defaults: api/config.ts). */
  tokenFailuresPerMinute: number;
  /** Failed-authentication audit rows per source address per minute; the rest are counted in one row. */
  authFailureRowsPerMinute: number;
  /** OAuth access-token lifetime in seconds (default an hour). */
  accessTokenTtlSeconds?: number;
  /** The function runtime (started on first use by the server); closed by whoever created it. */
  runtime: Runtime;
  invocationRetentionMs: number;
  /** This gateway's metrics (created here when absent). */
  metrics?: Metrics;
  /** Job queue and executor settings; the defaults of api/config.ts when absent. */
  jobs?: Config['jobs'];
  executors?: Config['executors'];
}

/** How much of a request path an audit row keeps (the route pattern is kept whole). */
const AUDITED_PATH_CHARS = 256;

export function createApp(deps: AppDeps) {
  const { database, keyring, logger } = deps;
  const metrics = deps.metrics ?? createMetrics();
  metrics.watchRuntime(deps.runtime);
  const services = createServices({
    db: database.db, keyring, logger, accessCache: database.accessCache, runtime: deps.runtime, metrics,
    invocationRetentionMs: deps.invocationRetentionMs,
    issuer: deps.issuer, tokenFailuresPerMinute: deps.tokenFailuresPerMinute, authFailureRowsPerMinute: deps.authFailureRowsPerMinute,
    accessTokenTtlSeconds: deps.accessTokenTtlSeconds,
    jobs: deps.jobs ?? defaults().jobs, executors: deps.executors ?? defaults().executors,
    listen: database.listen, notify: database.notify,
  });
  metrics.watchJobs(services.jobQueue);
  const { signingKeys, oauthTokens, serviceAccounts } = services;
  const app = new OpenAPIHono<AppEnv>();

  app.use('*', serverRequestId());
  app.use('*', requestContext(logger, metrics));
  // Decided from Content-Length where HTTP framing makes it the body's length, and counted on the
  // stream otherwise, so chunked bodies are cut off too. Incoming webhooks have a limit per
  // executor (up to 10 MiB), enforced the same way in their handler.
  const globalBodyLimit = bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: () => { throw new CofferError('payload_too_large', `request body is larger than the ${MAX_BODY_BYTES / 1024 / 1024} MiB limit`); },
  });
  app.use('*', (c, next) => (c.req.path.startsWith('/hooks/') ? next() : globalBodyLimit(c, next)));
  app.onError(createErrorHandler(logger));
  app.notFound((c) => c.json(errorBody('not_found', `no route for ${c.req.method} ${c.req.path}`, c.get('requestId')), 404));

  app.route('/', healthRoutes({ database, keyring }));
  app.route('/', docsRoutes());
  app.route('/', oauthRoutes(oauthTokens, signingKeys));

  const graphql = graphqlRoutes({ pipelines: services.pipelines, logger });
  // Before authentication: GraphiQL's static page only (see graphql.ts).
  app.route('/', graphql.publicRoutes);

  const authenticators: Authenticator[] = [
    createApiKeyAuthenticator(database.db, database.accessCache),
    createAccessTokenAuthenticator({ db: database.db, signingKeys, issuer: oauthTokens.issuer, audience: oauthTokens.audience }),
  ];
  // Outside /v1: each executor chooses how its callers authenticate.
  app.route('/', hookRoutes(services.executors, authenticators));
  app.use('/v1/*', authenticate({
    authenticators,
    // The route pattern says what was attempted; the path itself is attacker text, so only a
    // bounded, storable prefix of it is kept. The request is refused whether or not the row lands.
    onFailure: (c, reason) => services.failureAudit.record(sourceAddress(c), {
      action: 'auth.failed', outcome: 'denied', requestId: c.get('requestId'), clientRequestId: c.get('clientRequestId'),
      detail: { reason, method: c.req.method, route: routePath(c, -1), path: storableText(c.req.path, AUDITED_PATH_CHARS) },
    }).catch((err) => logger.warn({ requestId: c.get('requestId'), err: { code: (err as { code?: string })?.code } }, 'could not audit a failed authentication')),
  }));
  app.route('/', vaultRoutes(services.vaults));
  app.route('/', secretRoutes(services.secrets));
  app.route('/', workspaceRoutes(services.workspaces));
  app.route('/', userRoutes(services.users));
  app.route('/', auditRoutes(services.auditQuery));
  app.route('/', serviceAccountRoutes(serviceAccounts));
  app.route('/', signingKeyAdminRoutes(oauthTokens));
  app.route('/', functionRoutes(services.functions));
  app.route('/', pipelineRoutes(services.pipelines));
  app.route('/', graphql.routes);
  app.route('/', metricsRoutes(metrics));
  app.route('/', groupRoutes(services.groups));
  app.route('/', accessRoutes(services.accessReport));
  app.route('/', executorRoutes(services.executors));
  app.route('/', projectRoutes(services.projects));

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
    type: 'http', scheme: 'bearer', description: 'An API key (coffer_...) or an OAuth 2.0 access token (JWT)',
  });
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: { title: 'Coffer', version: '0.1.0', description: 'Coffer: a function runtime with a built-in secret manager.' },
  });

  return { app, services, authenticators };
}

let defaultConfig: Config | undefined;
const defaults = () => (defaultConfig ??= loadConfig({}));
