// The executor resource as zod schemas: they validate PUT bodies and feed /openapi.json.
import { z } from '@hono/zod-openapi';
import { Cron } from 'croner';
import { ResourceName, SecretName } from '../routes/openapi.ts';
import { MAX_LIMITS, MIN_LIMITS } from '../services/functions.ts';
import { SCHEMES } from './signatures.ts';
import { DEFAULT_RETRY, MAX_BACKOFF_CAP_MS } from '../jobs/retry-policy.ts';

export const DEFAULT_WEBHOOK_BODY_BYTES = 1024 * 1024;
export const MAX_WEBHOOK_BODY_BYTES = 10 * 1024 * 1024;
export const WEBHOOK_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

const WebhookAuth = z.discriminatedUnion('mode', [
  z.strictObject({ mode: z.literal('token') }).openapi({ description: 'A random token in the path, shown once when the executor is created; rotatable' }),
  z.strictObject({ mode: z.literal('bearer') }).openapi({ description: 'An API key or access token of a principal with invoker (or higher) on the workspace' }),
  z.strictObject({
    mode: z.literal('hmac'),
    scheme: z.enum(SCHEMES),
    secret: z.strictObject({ vault: ResourceName, name: SecretName }).openapi({ description: 'Where the signing key lives; the workspace needs a grant on that vault' }),
  }).openapi({ description: 'The request must carry a valid signature in the provider\'s format' }),
]);

const WebhookTrigger = z.strictObject({
  kind: z.literal('webhook'),
  auth: WebhookAuth.default({ mode: 'token' }),
  methods: z.array(z.enum(WEBHOOK_METHODS)).min(1).max(5).default(['POST']),
  mode: z.enum(['async', 'sync']).default('async'),
  response: z.enum(['result', 'http']).default('result'),
  maxBodyBytes: z.number().int().min(1).max(MAX_WEBHOOK_BODY_BYTES).default(DEFAULT_WEBHOOK_BODY_BYTES)
    .openapi({ description: `Default ${DEFAULT_WEBHOOK_BODY_BYTES} (1 MiB), at most ${MAX_WEBHOOK_BODY_BYTES} (10 MiB)` }),
  keepBody: z.boolean().default(false)
    .openapi({ description: 'Keep the request with the job after it ends (sealed at rest), so a finished job can be retried by hand' }),
}).openapi('WebhookTrigger');

const ScheduleTrigger = z.strictObject({
  kind: z.literal('schedule'),
  cron: z.string().max(200).refine(isFiveFieldCron, 'a 5-field cron expression (minute hour day-of-month month day-of-week)'),
  timezone: z.string().max(64).refine(isTimeZone, 'an IANA time zone such as "Europe/Berlin"').default('UTC'),
  catchUp: z.enum(['none', 'latest']).default('latest')
    .openapi({ description: 'After downtime: "latest" runs once for the most recent missed tick, "none" skips missed ticks' }),
}).openapi('ScheduleTrigger');

export const EVENT_TYPES = [
  'secret.version.created', 'secret.version.state_changed', 'secret.deleted', 'grant.created', 'grant.deleted', 'function.deployed',
  'invocation.failed', 'executor.job.failed', 'pipeline.run.succeeded', 'pipeline.run.failed',
] as const;
const NameGlob = z.string().min(1).max(128).regex(/^[A-Za-z0-9_.*-]+$/, 'a name, or a glob where * stands for any characters');
const EventTrigger = z.strictObject({
  kind: z.literal('event'),
  events: z.array(z.enum(EVENT_TYPES)).min(1).max(EVENT_TYPES.length),
  filter: z.strictObject({ vault: NameGlob.optional(), secret: NameGlob.optional(), function: NameGlob.optional(), pipeline: NameGlob.optional() }).optional()
    .openapi({ description: 'Exact names or * globs. Vault events only ever come from vaults the workspace holds reader on; `pipeline` applies to pipeline.run.* events only' }),
}).openapi('EventTrigger');

export const TriggerSchema = z.discriminatedUnion('kind', [WebhookTrigger, ScheduleTrigger, EventTrigger]).openapi('Trigger');
const SecretRef = z.strictObject({ vault: ResourceName, name: SecretName })
  .openapi({ description: 'A secret read at send time under the workspace\'s grant (reader) on the vault; never stored with the job' });
const SecretValue = z.strictObject({
  secret: SecretRef,
  format: z.string().max(1024).refine((f) => f.split('{}').length === 2, 'format must contain "{}" exactly once').optional()
    .openapi({ description: 'Template for the value, "{}" standing for the secret, e.g. "Bearer {}"' }),
});
const HeaderName = z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$/, 'a header name (RFC 9110 token)');
/** Headers Coffer sets itself (transport, and the Standard Webhooks signature). */
export const RESERVED_OUTGOING_HEADERS = ['host', 'content-length', 'transfer-encoding', 'connection', 'webhook-id', 'webhook-timestamp', 'webhook-signature'];
export const DEFAULT_OUTGOING_TIMEOUT_MS = 10_000;

const FunctionTarget = z.strictObject({
  kind: z.literal('function'),
  function: ResourceName,
  timeoutMs: z.number().int().min(MIN_LIMITS.timeoutMs).max(MAX_LIMITS.timeoutMs).optional()
    .openapi({ description: "Overrides the function version's timeoutMs for runs of this executor" }),
}).openapi('FunctionTarget');

const WebhookTarget = z.strictObject({
  kind: z.literal('webhook'),
  url: z.union([
    z.string().max(2048).refine(isHttpUrl, 'an absolute http:// or https:// URL'),
    z.strictObject({ secret: SecretRef }),
  ]).openapi({ description: 'The receiver; a secret reference when the URL is itself a credential (a Slack incoming webhook)' }),
  method: z.enum(['POST', 'PUT', 'PATCH']).default('POST'),
  headers: z.record(HeaderName, z.union([z.string().max(4096).regex(/^[^\r\n\0]*$/, 'no line breaks'), SecretValue])).optional()
    .refine((h) => !h || Object.keys(h).every((k) => !RESERVED_OUTGOING_HEADERS.includes(k.toLowerCase())), 'headers may not set host, content-length, transfer-encoding, connection or webhook-*')
    .refine((h) => !h || Object.keys(h).length <= 32, 'at most 32 headers'),
  body: z.union([z.literal('trigger'), z.strictObject({ function: ResourceName })]).default('trigger')
    .openapi({ description: '"trigger": the trigger\'s payload as JSON; {function}: run that function on the payload and send its result' }),
  signing: z.strictObject({ secret: SecretRef }).optional()
    .openapi({ description: 'Sign with the Standard Webhooks scheme (webhook-id, webhook-timestamp, webhook-signature); the secret is a whsec_ key or raw bytes' }),
  timeoutMs: z.number().int().min(100).max(60_000).default(DEFAULT_OUTGOING_TIMEOUT_MS),
}).openapi('WebhookTarget');

export const TargetSchema = z.discriminatedUnion('kind', [FunctionTarget, WebhookTarget]).openapi('Target');
export const RetrySchema = z.strictObject({
  maxAttempts: z.number().int().min(1).max(10).default(DEFAULT_RETRY.maxAttempts),
  initialBackoffMs: z.number().int().min(10).max(MAX_BACKOFF_CAP_MS).default(DEFAULT_RETRY.initialBackoffMs),
  maxBackoffMs: z.number().int().min(10).max(MAX_BACKOFF_CAP_MS).default(DEFAULT_RETRY.maxBackoffMs),
}).openapi('RetryPolicy', { description: 'Exponential backoff with full jitter, capped at one hour' });

export const ExecutorBody = z.strictObject({
  description: z.string().max(1024).optional(),
  disabled: z.boolean().optional(),
  trigger: TriggerSchema,
  target: TargetSchema,
  retry: RetrySchema.optional(),
});

export type Trigger = z.infer<typeof TriggerSchema>;
export type WebhookTrigger = z.infer<typeof WebhookTrigger>;
export type ScheduleTrigger = z.infer<typeof ScheduleTrigger>;
export type EventTrigger = z.infer<typeof EventTrigger>;
export type EventType = (typeof EVENT_TYPES)[number];
export type Target = z.infer<typeof TargetSchema>;
export type WebhookTarget = z.infer<typeof WebhookTarget>;
export type SecretValue = z.infer<typeof SecretValue>;
export type ExecutorInput = z.infer<typeof ExecutorBody>;

export function scheduleOf(trigger: ScheduleTrigger): Cron {
  return new Cron(trigger.cron, { timezone: trigger.timezone, mode: '5-part', paused: true });
}

function isFiveFieldCron(expr: string): boolean {
  if (expr.trim().split(/\s+/).length !== 5) return false;
  try { new Cron(expr, { mode: '5-part', paused: true }); return true; } catch { return false; }
}

function isHttpUrl(s: string): boolean {
  try { const u = new URL(s); return (u.protocol === 'http:' || u.protocol === 'https:') && !u.username && !u.password; } catch { return false; }
}

function isTimeZone(tz: string): boolean {
  try { new Intl.DateTimeFormat('en-US', { timeZone: tz }); return true; } catch { return false; }
}
