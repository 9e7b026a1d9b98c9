// POST /v1/workspaces/{ws}/graphql: the workspace's pipelines as a GraphQL API, served by
// graphql-yoga on Hono's fetch interface (yoga parses, validates, executes and formats; nothing here
// hand-parses a request). GET without a query serves GraphiQL, bundled in node_modules
// (@graphql-yoga/render-graphiql inlines every asset), so it works offline.
//
// Limits, each answered with a GraphQL error whose extensions.code is `query_too_complex` (or
// `payload_too_large` for the body): depth, aliases, tokens (graphql-armor), fields and
// pipeline fields per request (below). Errors follow the spec: `errors[]` with message, path and
// extensions.code (Coffer's codes) and, for a failed step, extensions.step.
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import { GraphQLError, Kind, type ExecutionResult, type FieldNode, type FragmentDefinitionNode, type GraphQLFieldResolver, type SelectionSetNode, type ValidationContext } from 'graphql/index.js';
import { createGraphQLError, createYoga, type GraphQLParams, type Plugin } from 'graphql-yoga';
import { Hono } from 'hono';
import { bodyLimit } from '../middleware/body-limit.ts';
import type { AppEnv } from '../app-env.ts';
import { actorOf } from '../middleware/auth.ts';
import type { Logger } from '../logger.ts';
import { isDatabaseUnavailable } from '../error-handler.ts';
import { workspaceRoleAllows } from '../policy/roles.ts';
import type * as repo from '../../db/repos/pipelines.ts';
import type { PipelineRunner } from './runner.ts';
import type { GraphqlRequestContext, PipelineService } from './service.ts';

export const GRAPHQL_LIMITS = {
  maxBodyBytes: 64 * 1024,
  maxDepth: 10,
  maxAliases: 15,
  maxTokens: 5000,
  maxFields: 200,
  /** Root fields per request: each runs a pipeline. */
  maxPipelineFields: 10,
} as const;

const GRAPHQL_PATH = '/v1/workspaces/:ws/graphql';
const PLAIN_ENDPOINT = '/graphql';
/** `body`: a JSON POST's body, read before yoga sees the request (see jsonBodyParser). */
type ServerContext = GraphqlRequestContext & { schema: import('graphql/index.js').GraphQLSchema; body?: string };

const mayRun = (ctx: GraphqlRequestContext) => ctx.actor.principal.isAdmin || workspaceRoleAllows(ctx.role, 'pipelines.run');
const seesStacks = (ctx: GraphqlRequestContext) => ctx.actor.principal.isAdmin || workspaceRoleAllows(ctx.role, 'pipelines.deploy');

/**
 * A pipeline field's resolver: runs the pipeline and turns a failure into a coded field error. Every
 * error it throws is a GraphQLError: anything else leaving it would be a bug, logged and answered as
 * `internal` (or `unavailable` for a database outage), so that the mask below can tell apart errors
 * of ours from graphql-js's own complaints about a value (which it raises as plain Errors).
 */
export const pipelineResolver = (logger: Logger) =>
  (run: PipelineRunner['run'], pipeline: repo.PipelineRow, version: repo.PipelineVersionRow): GraphQLFieldResolver<unknown, GraphqlRequestContext> =>
    async (_root, args, ctx) => {
      if (!mayRun(ctx)) {
        throw new GraphQLError(`running pipeline "${pipeline.name}" needs the invoker role in workspace "${ctx.workspace.name}"`, { extensions: { code: 'forbidden' } });
      }
      let out: Awaited<ReturnType<PipelineRunner['run']>>;
      try {
        out = await run({ actor: ctx.actor, workspace: ctx.workspace, pipeline, version, args: JSON.parse(JSON.stringify(args ?? {})), via: ctx.via });
      } catch (err) {
        const unavailable = isDatabaseUnavailable(err);
        logger.error({ requestId: ctx.actor.requestId, pipeline: pipeline.name, err: { message: (err as Error)?.message, stack: (err as Error)?.stack } }, 'pipeline run failed unexpectedly');
        throw new GraphQLError(unavailable ? 'the database is unavailable; try again' : 'internal error', { extensions: { code: unavailable ? 'unavailable' : 'internal' } });
      }
      if (out.ok) return out.value;
      const message = out.step ? `${out.step}: ${out.message}` : out.message;
      throw new GraphQLError(message, {
        extensions: {
          code: out.code, ...(out.step ? { step: out.step } : {}), runId: out.runId, ...(out.invocationId ? { invocationId: out.invocationId } : {}),
          ...(out.stack && seesStacks(ctx) ? { stack: out.stack } : {}),
        },
      });
    };

/**
 * Our errors pass as they are. A plain Error at a path comes from graphql-js completing a value the
 * pipeline returned (a String where Int! was declared, a null for a non-null field): that is the
 * declared type at work, `invalid_result`, with graphql-js's message. Anything else is masked.
 */
function maskError(error: unknown, message: string): Error {
  if (error instanceof GraphQLError) {
    const original = error.originalError;
    if (!original || original instanceof GraphQLError) return error;
    if (error.path) {
      return new GraphQLError(original.message, { nodes: error.nodes, source: error.source, positions: error.positions, path: error.path, extensions: { code: 'invalid_result' } });
    }
    return new GraphQLError(message, { path: error.path, extensions: { code: 'internal' } });
  }
  return new GraphQLError(message, { extensions: { code: 'internal' } });
}

/** Fields in the whole document, and fields at the root of each operation (fragments followed). */
function fieldLimitRule(context: ValidationContext) {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of context.getDocument().definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const rootFields = (set: SelectionSetNode, seen: Set<string>): FieldNode[] => set.selections.flatMap((s) => {
    if (s.kind === Kind.FIELD) return s.name.value.startsWith('__') ? [] : [s];
    if (s.kind === Kind.INLINE_FRAGMENT) return rootFields(s.selectionSet, seen);
    const f = fragments.get(s.name.value);
    if (!f || seen.has(f.name.value)) return [];
    seen.add(f.name.value);
    return rootFields(f.selectionSet, seen);
  });
  let fields = 0;
  return {
    Field() {
      if (++fields === GRAPHQL_LIMITS.maxFields + 1) {
        context.reportError(new GraphQLError(`Field limit of ${GRAPHQL_LIMITS.maxFields} exceeded.`, { extensions: { code: 'query_too_complex' } }));
      }
    },
    OperationDefinition(node: import('graphql/index.js').OperationDefinitionNode) {
      const n = rootFields(node.selectionSet, new Set()).length;
      if (n > GRAPHQL_LIMITS.maxPipelineFields) {
        context.reportError(new GraphQLError(`Pipeline field limit of ${GRAPHQL_LIMITS.maxPipelineFields} per request exceeded, found ${n}.`, { extensions: { code: 'query_too_complex' } }));
      }
    },
  };
}

/** What yoga's JSON parser matches: a POST of application/json or application/graphql+json (the first of a list). */
const isJsonPost = (method: string, contentType: string | undefined) =>
  method === 'POST' && /^application\/(graphql\+)?json(;|$)/.test((contentType ?? '').split(',')[0]);

/**
 * yoga's request parser for a JSON POST whose body the route read already. Reading it through the
 * fetch Request yoga is given took about 1 ms per request here (half of a 3-step pipeline's time in
 * the gateway); the route reads it straight off the socket (@hono/node-server's direct read), under
 * the same body limit. The checks are yoga's own JSON parser's, with Coffer's codes (`invalid_json`
 * as the REST API has it); yoga then checks the parameters themselves as for any request.
 */
const jsonBodyParser: Plugin<Record<string, never>, ServerContext> = {
  onRequestParse({ serverContext, setRequestParser }) {
    const text = serverContext.body;
    if (text !== undefined) setRequestParser(() => jsonParams(text));
  },
};

function jsonParams(text: string): GraphQLParams {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw createGraphQLError('POST body sent invalid JSON.', { extensions: { http: { status: 400 }, code: 'invalid_json' } });
  }
  if (body === null || typeof body !== 'object') {
    throw createGraphQLError(`POST body is expected to be object but received ${body === null ? 'null' : typeof body}`, { extensions: { http: { status: 400 }, code: 'invalid_request' } });
  }
  return body as GraphQLParams;
}

const tooComplex = { onReject: [(_ctx: unknown, err: GraphQLError) => { (err.extensions as Record<string, unknown>).code = 'query_too_complex'; }] };

/** Every error leaves with a Coffer code: request errors, type violations in results, masked internals. */
function codeOf(e: GraphQLError): string {
  const given = e.extensions?.code;
  if (typeof given === 'string' && given !== 'INTERNAL_SERVER_ERROR' && given !== 'BAD_USER_INPUT' && given !== 'BAD_REQUEST' && given !== 'GRAPHQL_PARSE_FAILED' && given !== 'GRAPHQL_VALIDATION_FAILED') return given;
  if (given === 'INTERNAL_SERVER_ERROR') return 'internal';
  if (/ limit of \d+ exceeded/.test(e.message)) return 'query_too_complex';
  // An error at a path during execution that no resolver coded: the value broke the declared type.
  return e.path ? 'invalid_result' : 'invalid_request';
}

const errorCodes: Plugin = {
  onResultProcess({ result, setResult }) {
    if (Array.isArray(result) || Symbol.asyncIterator in (result as object)) return;
    const r = result as ExecutionResult;
    if (!r.errors?.length) return;
    setResult({
      ...r,
      errors: r.errors.map((e) => {
        const { unexpected: _u, http, ...rest } = (e.extensions ?? {}) as Record<string, unknown>;
        return new GraphQLError(e.message, { nodes: e.nodes, source: e.source, positions: e.positions, path: e.path, extensions: { ...rest, ...(http ? { http } : {}), code: codeOf(e) } });
      }),
    });
  },
};

export function graphqlRoutes(deps: { pipelines: PipelineService; logger: Logger }) {
  // Made at the first request, not here: @hono/node-server puts its own Request and Response on the
  // global object when the server starts, after the app is built. yoga's Responses must be those
  // (below), or node-server reads each one's body back through a web stream before sending it.
  //
  // Two of them, which differ only in the endpoint yoga checks each request's URL against (the
  // route has matched it already). Against the route's pattern, that check parses the URL and runs
  // a URLPattern on it, about a tenth of yoga's time in the gateway; a URL that ends in `/graphql`
  // (every POST without a query string) passes it with an `endsWith`. Anything else (GET with its
  // query) goes to the one with the pattern.
  let plainYoga: ReturnType<typeof createYogaServer> | undefined;
  let patternYoga: ReturnType<typeof createYogaServer> | undefined;
  const yogaServer = (url: string) => url.endsWith(PLAIN_ENDPOINT)
    ? (plainYoga ??= createYogaServer(PLAIN_ENDPOINT))
    : (patternYoga ??= createYogaServer(GRAPHQL_PATH));
  const createYogaServer = (endpoint: string) => createYoga<ServerContext>({
    schema: (ctx) => ctx.schema,
    graphqlEndpoint: endpoint,
    graphiql: false,
    landingPage: false,
    // Like the rest of the API: no CORS. yoga's default let any origin's page call it with a bearer;
    // GraphiQL is served from the same origin.
    cors: false,
    batching: false,
    // The route's bodyLimit (64 KiB, before yoga) bounds every body; yoga's own limit would re-read
    // the body as a stream, which jsonBodyParser has already read.
    maxRequestBodySize: false,
    // The fetch classes on the global object now, @hono/node-server's once it serves (see above),
    // so that yoga's Response is one node-server writes straight from the string it holds.
    fetchAPI: { Request: globalThis.Request, Response: globalThis.Response, Headers, ReadableStream, TextEncoder, TextDecoder, URL, URLSearchParams, Blob, FormData, File, fetch, crypto },
    logging: {
      debug: () => {}, info: () => {},
      warn: (...args: unknown[]) => deps.logger.warn({ graphql: String(args[0]) }, 'graphql warning'),
      error: (...args: unknown[]) => deps.logger.error({ err: args[0] instanceof Error ? { message: args[0].message, stack: args[0].stack } : String(args[0]) }, 'graphql error'),
    },
    // Only our coded GraphQLErrors pass; anything else is masked (and logged by yoga's logger above).
    maskedErrors: { isDev: false, errorMessage: 'internal error', maskError },
    plugins: [
      maxDepthPlugin({ n: GRAPHQL_LIMITS.maxDepth, ...tooComplex }),
      maxAliasesPlugin({ n: GRAPHQL_LIMITS.maxAliases, ...tooComplex }),
      maxTokensPlugin({ n: GRAPHQL_LIMITS.maxTokens, ...tooComplex }),
      { onValidate: ({ addValidationRule }) => addValidationRule(fieldLimitRule) } satisfies Plugin,
      errorCodes,
      jsonBodyParser,
    ],
  });

  let graphiqlHtml: string | undefined;
  const graphiql = () => (graphiqlHtml ??= renderGraphiQL({
    title: 'Coffer GraphQL',
    headers: JSON.stringify({ Authorization: 'Bearer coffer_...' }, null, 2),
    defaultQuery: '# Put your API key in the Headers tab below, then explore the schema.\n{ __schema { queryType { fields { name } } } }\n',
  }));

  /** This route answers with Responses of its own (yoga's, or the 413), sent as they are, without the headers the middleware set on the context. */
  const answer = (c: import('hono').Context<AppEnv>, res: Response) => {
    res.headers.set('X-Request-Id', c.get('requestId'));
    res.headers.set('Cache-Control', 'no-store');
    return res;
  };

  const tooLarge = () => new Response(JSON.stringify({
    errors: [{ message: `request body is larger than the ${GRAPHQL_LIMITS.maxBodyBytes / 1024} KiB limit for GraphQL`, extensions: { code: 'payload_too_large' } }],
  }), { status: 413, headers: { 'content-type': 'application/json' } });

  /** GraphiQL is public: a static page that holds no workspace data; everything it asks for needs the bearer. */
  const publicRoutes = new Hono<AppEnv>();
  publicRoutes.get(GRAPHQL_PATH, async (c, next) => {
    if (c.req.query('query') !== undefined || !(c.req.header('accept') ?? '').includes('text/html')) return next();
    c.header('Cache-Control', 'no-store');
    return c.html(graphiql());
  });

  const routes = new Hono<AppEnv>();
  const serve = async (c: import('hono').Context<AppEnv>) => {
    const target = await deps.pipelines.graphqlTarget(actorOf(c), c.req.param('ws') ?? '');
    const body = isJsonPost(c.req.method, c.req.header('content-type')) ? await c.req.text() : undefined;
    return answer(c, await yogaServer(c.req.url).fetch(c.req.raw, { ...target, body }));
  };
  routes.post(GRAPHQL_PATH, bodyLimit({ maxSize: GRAPHQL_LIMITS.maxBodyBytes, onError: (c) => answer(c, tooLarge()) }), serve);
  routes.get(GRAPHQL_PATH, serve);
  return { publicRoutes, routes };
}
