// The coffer.toml format as zod schemas. Each table mirrors the body of the API call that creates
// the resource (POST /v1/vaults, PUT .../secrets/{name}, POST .../grants, PUT .../functions/{name},
// PUT .../executors/{name}, PUT .../pipelines/{name}); objects are strict, so a misspelt key is an
// error rather than silently ignored. Semantic checks the server makes (cron syntax, SDL, code that
// compiles) stay on the server.
import { z } from 'zod';
import { RESOURCE_NAME, RESOURCE_NAME_RULE, SECRET_NAME, SECRET_NAME_RULE } from '../../domain/names.ts';
import { MAX_LIMITS, MIN_LIMITS } from '../../runtime/limits.ts';

const Name = z.string().regex(RESOURCE_NAME, RESOURCE_NAME_RULE);
const SecretName = z.string().regex(SECRET_NAME, SECRET_NAME_RULE);
const PipelineName = z.string().regex(/^[a-z][A-Za-z0-9_]{0,62}$/, 'a pipeline name: letters, digits and "_", starting with a lowercase letter');
const Description = z.string().max(1024);
const Id = z.string().min(1).max(64).regex(/^[A-Za-z0-9_-]+$/, 'a principal or group id');
const Version = z.number().int().min(1).max(2_147_483_647);
const Timeout = z.number().int().min(MIN_LIMITS.timeoutMs).max(MAX_LIMITS.timeoutMs);
const EnvName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name');

const ValueSource = z.union([
  z.strictObject({ env: EnvName, version: Version }),
  z.strictObject({ file: z.string().min(1), version: Version }),
], { error: 'a write-only value: { env = "NAME", version = N } or { file = "path", version = N }' });

const Secret = z.strictObject({ description: Description.optional(), value: ValueSource.optional() });
const Vault = z.strictObject({ description: Description.optional(), secrets: z.record(SecretName, Secret).default({}) });

const Member = z.strictObject({ principal: Id.optional(), group: Id.optional(), role: z.enum(['owner', 'editor', 'invoker', 'viewer']) })
  .refine((m) => Boolean(m.principal) !== Boolean(m.group), 'give exactly one of principal and group');
const Workspace = z.strictObject({ description: Description.optional(), members: z.array(Member).default([]) });

const Glob = z.string().min(1).max(128).regex(/^[A-Za-z0-9*][A-Za-z0-9._*-]*$/, 'a name, or a pattern with *');
const Grant = z.strictObject({
  vault: Name, workspace: Name.optional(), principal: Id.optional(), group: Id.optional(),
  role: z.enum(['manager', 'writer', 'reader']),
  functions: z.array(Glob).min(1).max(64).optional(),
  secrets: z.array(Glob).min(1).max(64).optional(),
  expiresAt: z.string().datetime({ offset: true }).optional(),
}).refine((g) => [g.workspace, g.principal, g.group].filter(Boolean).length === 1, 'give exactly one of workspace, principal and group');

const Function = z.strictObject({
  workspace: Name, file: z.string().min(1),
  timeoutMs: Timeout.optional(),
  memoryMb: z.number().int().min(MIN_LIMITS.memoryMb).max(MAX_LIMITS.memoryMb).optional(),
  exposeSecrets: z.boolean().optional(),
  description: Description.optional(),
});

const SecretRef = z.strictObject({ vault: Name, name: SecretName });
const WebhookAuth = z.discriminatedUnion('mode', [
  z.strictObject({ mode: z.literal('token') }),
  z.strictObject({ mode: z.literal('bearer') }),
  z.strictObject({ mode: z.literal('hmac'), scheme: z.enum(['github', 'stripe', 'slack', 'standard']), secret: SecretRef }),
]);
const Trigger = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('webhook'), auth: WebhookAuth.optional(),
    methods: z.array(z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE'])).min(1).max(5).optional(),
    mode: z.enum(['async', 'sync']).optional(), response: z.enum(['result', 'http']).optional(),
    maxBodyBytes: z.number().int().min(1).optional(), keepBody: z.boolean().optional(),
  }),
  z.strictObject({ kind: z.literal('schedule'), cron: z.string().max(200), timezone: z.string().max(64).optional(), catchUp: z.enum(['none', 'latest']).optional() }),
  z.strictObject({
    kind: z.literal('event'), events: z.array(z.string()).min(1),
    filter: z.strictObject({ vault: z.string().optional(), secret: z.string().optional(), function: z.string().optional() }).optional(),
  }),
]);
const HeaderValue = z.union([z.string().max(4096), z.strictObject({ secret: SecretRef, format: z.string().max(1024).optional() })]);
const Target = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('function'), function: Name, timeoutMs: Timeout.optional() }),
  z.strictObject({
    kind: z.literal('webhook'), url: z.union([z.string().max(2048), z.strictObject({ secret: SecretRef })]),
    method: z.enum(['POST', 'PUT', 'PATCH']).optional(), headers: z.record(z.string(), HeaderValue).optional(),
    body: z.union([z.literal('trigger'), z.strictObject({ function: Name })]).optional(),
    signing: z.strictObject({ secret: SecretRef }).optional(), timeoutMs: z.number().int().min(100).max(60_000).optional(),
  }),
]);
const Retry = z.strictObject({ maxAttempts: z.number().int().min(1).max(10).optional(), initialBackoffMs: z.number().int().min(10).optional(), maxBackoffMs: z.number().int().min(10).optional() });
const Executor = z.strictObject({
  workspace: Name, description: Description.optional(), disabled: z.boolean().optional(),
  trigger: Trigger, target: Target, retry: Retry.optional(),
});

const Step = z.strictObject({
  name: z.string().regex(/^(?!__)[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'a step name'),
  function: Name, input: z.string().min(1).optional(), if: z.string().min(1).optional(), forEach: z.string().min(1).optional(),
  onError: z.enum(['fail', 'skip']).optional(), timeoutMs: Timeout.optional(),
});
const Pipeline = z.strictObject({
  workspace: Name, operation: z.enum(['query', 'mutation']), types: z.string().optional(), args: z.string().optional(),
  returns: z.string().min(1), steps: z.array(Step).min(1).max(20), result: z.string().min(1).optional(),
  description: Description.optional(), deadlineMs: z.number().int().min(100).max(60_000).optional(), exposeSecrets: z.boolean().optional(),
});

export const ProjectFile = z.strictObject({
  project: Name.optional(),
  vaults: z.record(Name, Vault).default({}),
  workspaces: z.record(Name, Workspace).default({}),
  grants: z.array(Grant).default([]),
  functions: z.record(Name, Function).default({}),
  executors: z.record(Name, Executor).default({}),
  pipelines: z.record(PipelineName, Pipeline).default({}),
});
export type ProjectFileData = z.infer<typeof ProjectFile>;
