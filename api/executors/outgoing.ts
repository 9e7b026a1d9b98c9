// The outgoing webhook target: one attempt of a job sends one HTTP request. Secret references (URL,
// header values, signing key) are read at send time under the workspace's grant, each read audited
// as the executor's, and live only in this attempt's memory: the job row holds names, not values,
// and what the attempt records (status, latency, the first KiB of the response) is redacted of
// every value sent. Egress goes through the policy's dispatcher (api/egress/policy.ts).
import { request } from 'undici';
import { Webhook } from 'standardwebhooks';
import type { Workspace } from '../../db/schema.ts';
import type { SecretService } from '../services/secrets.ts';
import type { FunctionService } from '../services/functions.ts';
import { CofferError } from '../errors.ts';
import { createRedactor } from '../../runtime/index.ts';
import { storableText } from '../storable-text.ts';
import type { EgressPolicy } from '../egress/policy.ts';
import type { WebhookTarget, SecretValue } from './schemas.ts';

const EXCERPT_BYTES = 1024;
const MAX_RETRY_AFTER_MS = 3_600_000;

export interface OutgoingContext {
  workspace: Workspace;
  executor: { id: string; name: string };
  jobId: string;
  attempt: number;
  /** The trigger's payload: what is sent (or shaped by the body function). */
  payload: Record<string, unknown>;
}

export interface OutgoingResult {
  ok: boolean;
  code?: string;
  message?: string;
  invocationId?: string | null;
  http?: { status: number | null; latencyMs: number | null; excerpt: string | null };
  /** From a 429's or 503's Retry-After: the next attempt waits at least this long. */
  retryAfterMs?: number;
}

/** Failures another attempt cannot fix: a 4xx other than 408 and 429, a missing grant or secret, egress refused. */
export const PERMANENT_OUTGOING = ['webhook_rejected', 'secret_unavailable', 'egress_refused'];

export function createOutgoingSender(deps: { secrets: SecretService; functions: FunctionService; egress: EgressPolicy }) {
  const { secrets, functions, egress } = deps;

  return async function send(target: WebhookTarget, ctx: OutgoingContext): Promise<OutgoingResult> {
    const sent: string[] = [];
    const read = async (ref: { vault: string; name: string }, purpose: string) => {
      const r = await secrets.readForExecutor({
        workspaceId: ctx.workspace.id, workspaceName: ctx.workspace.name, executorId: ctx.executor.id, executorName: ctx.executor.name,
        requestId: ctx.jobId, jobId: ctx.jobId, purpose,
      }, ref.vault, ref.name);
      if (!r.ok) {
        throw new CofferError('secret_unavailable', r.reason === 'no_workspace_grant'
          ? `workspace "${ctx.workspace.name}" holds no reader grant on vault "${ref.vault}" (needed for ${purpose})`
          : `secret "${ref.name}" in vault "${ref.vault}" has no enabled version (needed for ${purpose})`);
      }
      sent.push(r.value);
      return r.value;
    };
    let invocationId: string | null = null;
    try {
      // The body first: the function that shapes it runs before any credential is read.
      let body: string;
      if (target.body === 'trigger') {
        body = JSON.stringify(ctx.payload);
      } else {
        const out = await functions.invokeAsExecutor({
          workspace: ctx.workspace, functionName: target.body.function, args: ctx.payload, requestId: ctx.jobId,
          executor: { ...ctx.executor, jobId: ctx.jobId }, trigger: 'webhook',
        });
        invocationId = out.invocationId;
        body = typeof out.result === 'string' ? out.result : JSON.stringify(out.result ?? null);
      }
      const url = typeof target.url === 'string' ? target.url : await read(target.url.secret, 'webhook_url');
      let parsed: URL;
      try { parsed = new URL(url); } catch { throw new CofferError('webhook_rejected', 'the webhook URL (from its secret) is not a URL'); }
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new CofferError('webhook_rejected', 'the webhook URL must be http or https');
      const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'coffer-webhooks' };
      for (const [name, v] of Object.entries(target.headers ?? {})) {
        headers[name.toLowerCase()] = typeof v === 'string' ? v : formatted(v, await read(v.secret, `header:${name.toLowerCase()}`));
      }
      if (/[\r\n\0]/.test(Object.values(headers).join(''))) throw new CofferError('webhook_rejected', 'a header value from a secret contains a line break');
      if (target.signing) {
        const key = await read(target.signing.secret, 'webhook_signing');
        const id = `msg_${ctx.jobId}`; // the same for every attempt, so a receiver can deduplicate
        const at = new Date();
        const signer = new Webhook(key.startsWith('whsec_') ? key : Buffer.from(key).toString('base64'));
        headers['webhook-id'] = id;
        headers['webhook-timestamp'] = String(Math.floor(at.getTime() / 1000));
        headers['webhook-signature'] = signer.sign(id, at, body);
      }
      const started = performance.now();
      let status: number | null = null;
      let excerpt: string | null = null;
      let retryAfter: string | undefined;
      try {
        const res = await request(parsed, {
          method: target.method, headers, body, dispatcher: egress.dispatcher,
          headersTimeout: target.timeoutMs, bodyTimeout: target.timeoutMs, signal: AbortSignal.timeout(target.timeoutMs),
        });
        status = res.statusCode;
        retryAfter = [res.headers['retry-after']].flat()[0];
        excerpt = await readExcerpt(res.body);
      } catch (err) {
        const latencyMs = Math.round(performance.now() - started);
        const refused = findCause(err, (e) => (e as { code?: string }).code === 'egress_refused');
        if (refused) return { ok: false, code: 'egress_refused', message: redactAll((refused as Error).message, sent), invocationId, http: { status: null, latencyMs, excerpt: null } };
        const timedOut = findCause(err, (e) => ['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'TimeoutError', 'ABORT_ERR'].includes((e as { code?: string; name?: string }).code ?? '') || (e as Error).name === 'TimeoutError');
        return {
          ok: false, code: timedOut ? 'timeout' : 'network_error', invocationId,
          message: timedOut ? `the receiver did not answer within ${target.timeoutMs} ms` : `the request failed: ${redactAll(codeOf(err), sent)}`,
          http: { status: null, latencyMs, excerpt: null },
        };
      }
      const latencyMs = Math.round(performance.now() - started);
      const http = { status, latencyMs, excerpt: excerpt === null ? null : storableText(redactAll(excerpt, sent), EXCERPT_BYTES) };
      if (status >= 200 && status < 300) return { ok: true, invocationId, http };
      if (status === 408 || status === 429 || status >= 500) {
        return { ok: false, code: 'webhook_failed', message: `the receiver answered ${status}`, invocationId, http, retryAfterMs: parseRetryAfter(retryAfter) };
      }
      return { ok: false, code: 'webhook_rejected', message: `the receiver answered ${status}; not retried`, invocationId, http };
    } catch (err) {
      if (err instanceof CofferError) {
        return { ok: false, code: err.code, message: redactAll(err.message, sent), invocationId: invocationId ?? (err.details?.invocationId as string | undefined) ?? null };
      }
      throw err;
    } finally {
      sent.length = 0;
    }
  };
}

function formatted(v: SecretValue, value: string): string {
  return v.format ? v.format.replace('{}', () => value) : value;
}

function redactAll(text: string, values: string[]): string {
  return values.length ? createRedactor(values).text(text) : text;
}

function codeOf(err: unknown): string {
  const e = err as { code?: string; cause?: { code?: string } };
  return e.cause?.code ?? e.code ?? 'connection failed';
}

function findCause(err: unknown, test: (e: unknown) => boolean): unknown {
  for (let e = err, i = 0; e && i < 5; e = (e as { cause?: unknown }).cause, i++) if (test(e)) return e;
  return undefined;
}

async function readExcerpt(body: AsyncIterable<Buffer> & { destroy(): void }): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= EXCERPT_BYTES) { body.destroy(); break; }
  }
  return Buffer.concat(chunks).subarray(0, EXCERPT_BYTES).toString('utf8');
}

/** Retry-After as seconds or an HTTP date, bounded to an hour. */
export function parseRetryAfter(v: string | undefined): number | undefined {
  if (!v) return undefined;
  const ms = /^\d{1,7}$/.test(v.trim()) ? Number(v.trim()) * 1000 : Date.parse(v) - Date.now();
  return Number.isFinite(ms) && ms > 0 ? Math.min(ms, MAX_RETRY_AFTER_MS) : undefined;
}

