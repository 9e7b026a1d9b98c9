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

export const TriggerSchema = z.discriminatedUnion('kind', [WebhookTrigger, ScheduleTrigger]).openapi('Trigger');
export const TargetSchema = z.strictObject({
  kind: z.literal('function'),
  function: ResourceName,
  timeoutMs: z.number().int().min(MIN_LIMITS.timeoutMs).max(MAX_LIMITS.timeoutMs).optional()
    .openapi({ description: "Overrides the function version's timeoutMs for runs of this executor" }),
}).openapi('Target');
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
export type Target = z.infer<typeof TargetSchema>;
export type ExecutorInput = z.infer<typeof ExecutorBody>;

export function scheduleOf(trigger: ScheduleTrigger): Cron {
  return new Cron(trigger.cron, { timezone: trigger.timezone, mode: '5-part', paused: true });
}

function isFiveFieldCron(expr: string): boolean {
  if (expr.trim().split(/\s+/).length !== 5) return false;
  try { new Cron(expr, { mode: '5-part', paused: true }); return true; } catch { return false; }
}

function isTimeZone(tz: string): boolean {
  try { new Intl.DateTimeFormat('en-US', { timeZone: tz }); return true; } catch { return false; }
}
