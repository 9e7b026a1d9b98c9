// Shared setup for runtime tests: a compiled-function helper and a SecretReader over an in-memory map.
// The reader is the host callback the gateway's service layer would provide; it counts its calls.
import fs from 'node:fs';
import { compileFunction, type InvocationRequest, type Runtime, type SecretReader } from '../../runtime/index.ts';

/** The Function Runtime example of shared/reference/tailor-secret-manager.txt, as shipped in functions-examples/. */
export const REFERENCE = fs.readFileSync(new URL('../../functions-examples/reference.js', import.meta.url), 'utf8');

export const SECRETS: Record<string, Record<string, string>> = {
  default: { 'test-secret-1': 'first-secret-value', 'test-secret-2': 'second-secret-value' },
  prod: { 'api-key': 'sk_live_abcdef123456' },
  other: { 'weird.name': 'a "quoted" value/with+specials&more=1' },
};
export const DENIED_VAULTS = new Set(['prod']);

export interface CountingReader extends SecretReader {
  calls: { vault: string; name: string; at: number }[];
}

export function countingReader(): CountingReader {
  const calls: CountingReader['calls'] = [];
  const reader = (async (vault: string, name: string) => {
    calls.push({ vault, name, at: Date.now() });
    if (DENIED_VAULTS.has(vault)) throw Object.assign(new Error('denied'), { code: 'access_denied' });
    if (vault === 'broken') throw new Error('db connection string postgres://u:p@host leaked?');
    return SECRETS[vault]?.[name];
  }) as CountingReader;
  reader.calls = calls;
  return reader;
}

let seq = 0;
export function compile(code: string): string {
  const c = compileFunction(code);
  if (!c.ok) throw new Error(`compile failed: ${c.message} at ${c.line}:${c.column}`);
  return c.script;
}

export function request(code: string, over: Partial<InvocationRequest> = {}): InvocationRequest {
  const script = compile(code);
  return {
    invocationId: `inv-${++seq}`,
    workspaceId: 'ws-test',
    codeKey: `fn:${seq}:${script.length}`,
    script,
    limits: { timeoutMs: 2000, memoryMb: 64 },
    args: null,
    exposeSecrets: false,
    ...over,
  };
}

/** Runs code and returns the outcome with a fresh counting reader. */
export async function run(rt: Runtime, code: string, over: Partial<InvocationRequest> = {}, reader = countingReader()) {
  const outcome = await rt.invoke(request(code, over), reader);
  return { outcome, reader };
}

export const HELLO = 'export default async (args) => ({ hello: args?.name ?? "world" })';

/** After a hostile function, the runtime must still serve a normal one. */
export async function expectHealthy(rt: Runtime, workspaceId = 'ws-test'): Promise<void> {
  const { outcome } = await run(rt, HELLO, { args: { name: 'again' }, workspaceId });
  if (!outcome.ok || (outcome.result as any).hello !== 'again') {
    throw new Error(`runtime not healthy after hostile function: ${JSON.stringify(outcome)}`);
  }
}
