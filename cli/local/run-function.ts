// One invocation of a function file on this machine, in the server's own sandbox: the same
// compileFunction, the same worker processes (runtime/pool.ts) with the same limits, the same
// per-invocation read caps and the same redaction. Only the SecretReader differs: it asks the local
// sources (env, secrets.toml, optionally the server) instead of a grant check, and records which
// source answered each read so that --explain can say so.
import crypto from 'node:crypto';
import {
  compileFunction, createRuntime, type FunctionLimits, type InvocationOutcome, type Runtime,
} from '../../runtime/index.ts';
import type { LocalSecretSources, SecretSource } from './sources.ts';

export interface SecretReadRecord {
  vault: string;
  name: string;
  source: SecretSource;
  /** The read did not answer: the server refused it, or reaching the server failed (its error code). */
  error?: string;
}

export type LocalRunResult =
  | { kind: 'compile_error'; message: string; line: number; column: number }
  | { kind: 'invalid'; code: string; message: string; line?: number; column?: number }
  | { kind: 'ran'; outcome: InvocationOutcome; reads: SecretReadRecord[] };

export interface LocalRunInput {
  code: string;
  args: unknown;
  limits: FunctionLimits;
  exposeSecrets: boolean;
  sources: LocalSecretSources;
}

/** A runtime sized for one command: a single worker process. */
export const createLocalRuntime = (): Runtime => createRuntime({ workers: 1 });

export async function runFunctionLocally(runtime: Runtime, input: LocalRunInput): Promise<LocalRunResult> {
  const compiled = compileFunction(input.code);
  if (!compiled.ok) return { kind: 'compile_error', message: compiled.message, line: compiled.line, column: compiled.column };
  // The one workspace of a local run; an isolate never mixes it with anything else anyway.
  const workspaceId = 'local';
  const checked = await runtime.validate(compiled.script, input.limits, workspaceId);
  if (!checked.ok) return { kind: 'invalid', code: checked.code, message: checked.message, line: checked.line, column: checked.column };
  const reads: SecretReadRecord[] = [];
  const codeHash = crypto.createHash('sha256').update(input.code).digest('hex');
  const outcome = await runtime.invoke({
    invocationId: `inv_local_${crypto.randomBytes(6).toString('hex')}`, workspaceId, codeKey: `local:${codeHash}`,
    script: compiled.script, limits: input.limits, args: input.args, exposeSecrets: input.exposeSecrets,
  }, async (vault, name) => {
    try {
      const { value, source } = await input.sources.resolve(vault, name);
      reads.push({ vault, name, source });
      return value;
    } catch (err) {
      const code = (err as { code?: unknown })?.code;
      reads.push({ vault, name, source: { kind: 'none' }, error: typeof code === 'string' ? code : 'failed' });
      throw err;
    }
  });
  return { kind: 'ran', outcome, reads };
}
