// The typed Coffer client (`import { createCofferClient } from 'coffer/client'`). Paths, parameters,
// bodies and responses are typed from client/api-types.ts, generated from the server's own
// /openapi.json; requests go through openapi-fetch. Every method resolves to the response body or
// throws CofferApiError.
import createFetchClient, { type Client, type FetchResponse, type MaybeOptionalInit } from 'openapi-fetch';
import type { paths } from './api-types.ts';
import { CofferApiError, errorFromResponse } from './errors.ts';
import { apiKeySource, clientCredentialsSource, type BearerSource, type OAuthCredentials } from './credentials.ts';
import { sendWithRetry, type RetryPolicy } from './retry.ts';

export { CofferApiError } from './errors.ts';
export type { paths, components } from './api-types.ts';
export type { CachedToken, TokenCache, OAuthCredentials } from './credentials.ts';
export type { RetryPolicy } from './retry.ts';

export interface CofferClientOptions {
  /** The server, e.g. http://127.0.0.1:8080 */
  url: string;
  /** A `coffer_...` API key... */
  apiKey?: string;
  /** ...or a service account's OAuth client credentials. */
  oauth?: OAuthCredentials;
  retry?: Partial<RetryPolicy>;
  /** Defaults to the global fetch. */
  fetch?: (request: Request) => Promise<Response>;
  headers?: Record<string, string>;
}

type HttpMethod = 'get' | 'put' | 'post' | 'delete' | 'patch';
type PathsWith<M extends HttpMethod> = { [P in keyof paths]: paths[P] extends Record<M, {}> ? P : never }[keyof paths];
type RequiredKeys<T> = { [K in keyof T]-?: {} extends Pick<T, K> ? never : K }[keyof T];
type InitArgs<I> = RequiredKeys<I> extends never ? [I?] : [I];
// The success variant of openapi-fetch's result has a required `data`; the error variant does not.
type Data<R> = [R extends { data: infer D } ? D : never] extends [infer D] ? ([D] extends [never] ? void : D) : never;

/** A typed call that resolves to the response body (void for 204) or throws CofferApiError. */
export type Call<M extends HttpMethod> = <P extends PathsWith<M>, I extends MaybeOptionalInit<paths[P], M>>(
  path: P, ...init: InitArgs<I>
) => Promise<Data<FetchResponse<paths[P][M] & Record<string | number, any>, I, `${string}/${string}`>>>;

export interface CofferClient {
  GET: Call<'get'>;
  PUT: Call<'put'>;
  POST: Call<'post'>;
  DELETE: Call<'delete'>;
  PATCH: Call<'patch'>;
  /**
   * Runs a GraphQL operation on a workspace's pipeline endpoint. Resolves to the GraphQL response
   * (`errors` are field errors, as the specification has them); throws CofferApiError when the
   * request itself is refused (authentication, unknown workspace, body too large). Never retried.
   */
  graphql<T = unknown>(workspace: string, request: GraphQLRequest): Promise<GraphQLResponse<T>>;
  /** The underlying openapi-fetch client (answers {data, error, response} instead of throwing). */
  raw: Client<paths>;
  url: string;
}

export interface GraphQLRequest { query: string; variables?: Record<string, unknown>; operationName?: string }
export interface GraphQLError { message: string; path?: (string | number)[]; extensions?: { code?: string; [k: string]: unknown } }
export interface GraphQLResponse<T> { data?: T | null; errors?: GraphQLError[] }

export function createCofferClient(options: CofferClientOptions): CofferClient {
  const url = options.url.replace(/\/+$/, '');
  const baseFetch = options.fetch ?? ((request: Request) => fetch(request));
  const send = (request: Request) => sendWithRetry(baseFetch, request, options.retry);
  let bearer: BearerSource | undefined;
  if (options.apiKey) bearer = apiKeySource(options.apiKey);
  else if (options.oauth) bearer = clientCredentialsSource({ tokenUrl: `${url}/oauth2/token`, credentials: options.oauth, send });

  async function authorisedFetch(request: Request): Promise<Response> {
    if (!bearer) return send(request);
    // Kept for a second attempt after a refused token; the body can be read only once.
    const spare = request.clone();
    request.headers.set('authorization', `Bearer ${await bearer.get()}`);
    const response = await send(request);
    // A token can be refused before its expiry (secret rotated, clock skew): one fresh token, once.
    if (response.status === 401 && options.oauth && bearer.invalidate()) {
      await response.body?.cancel();
      spare.headers.set('authorization', `Bearer ${await bearer.get()}`);
      return send(spare);
    }
    return response;
  }

  const raw = createFetchClient<paths>({ baseUrl: url, fetch: authorisedFetch, headers: options.headers });
  const call = (method: Uppercase<HttpMethod>) => async (path: string, init?: object) => {
    const result = await (raw.request as (m: string, p: string, i?: object) => Promise<{ data?: unknown; error?: unknown; response: Response }>)(method, path, init);
    if (!result.response.ok) throw errorFromResponse(result.response, result.error ?? null);
    return result.data;
  };
  async function graphql<T>(workspace: string, body: GraphQLRequest): Promise<GraphQLResponse<T>> {
    const response = await authorisedFetch(new Request(`${url}/v1/workspaces/${encodeURIComponent(workspace)}/graphql`, {
      method: 'POST', headers: { ...options.headers, 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' }, body: JSON.stringify(body),
    }));
    const parsed = await response.json().catch(() => null) as (GraphQLResponse<T> & { error?: unknown }) | null;
    // A GraphQL answer has data or errors; anything else (a Coffer {error}) is the request refused.
    const isGraphQL = parsed && typeof parsed === 'object' && ('data' in parsed || Array.isArray(parsed.errors));
    if (!isGraphQL) throw errorFromResponse(response, parsed);
    return { data: parsed.data, errors: parsed.errors };
  }

  return {
    graphql,
    GET: call('GET') as Call<'get'>, PUT: call('PUT') as Call<'put'>, POST: call('POST') as Call<'post'>,
    DELETE: call('DELETE') as Call<'delete'>, PATCH: call('PATCH') as Call<'patch'>, raw, url,
  };
}

/** True for errors the server reports with this code. */
export const isCofferError = (err: unknown, code?: string): err is CofferApiError =>
  err instanceof CofferApiError && (code === undefined || err.code === code);
