// What the two-secret path cannot go below on this machine, measured alone in the same run as the
// figures: the parts of the hot path that every read pays whatever Coffer does around them. Each is
// measured in a child process with nothing else running, with the project's own code where it is
// the project's (the audit log and its statement), so the printed lower bound moves with them.
//   - two reads answered by the host: an async function in a fresh context awaiting two values the
//     host hands back, against the same function awaiting none (the worker answers a prefetched read
//     this way: an ignored callback out, an ignored call back in);
//   - the audit commit: createAuditLog().appendAll() of two secret.read rows, one after another, on a
//     freshly migrated database of the driver under test.
// Their sum is about the least a two-secret invocation can cost over hello at concurrency 1 while
// every read is audited before the answer (about: measured alone, in other seconds than the figure,
// on a machine whose speed moves from one minute to the next); the bench prints it beside that target.
import { fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export interface Floors { twoReadsMs: number; auditCommitMs: number; twoSecretsOverHelloMs: number }

const SELF = fileURLToPath(import.meta.url);
const round = (n: number) => Math.round(n * 1000) / 1000;

/** Measures the floors for `driver` (pglite-disk, pglite-memory, postgres) in a child process. */
export function measureFloors(driver: string): Promise<Floors> {
  const child = fork(SELF, ['measure', driver], { execPath: process.execPath, execArgv: ['--no-node-snapshot'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.once('message', (m) => resolve(m as Floors));
    child.once('exit', (code) => reject(new Error(`floors child exited with ${code}`)));
  });
}

export const floorsLine = (f: Floors, targetMs: number) =>
  `  ${'floors (alone, this run)'.padEnd(26)} 2 host-answered reads +${f.twoReadsMs} ms; audit commit of 2 rows ${f.auditCommitMs} ms; ` +
  `${f.twoSecretsOverHelloMs} ms together, against the +${targetMs} ms over hello the target allows`;

/** The median of `n` timings `timed` answers (each the ms of the part it timed), after a warm-up. */
async function median(timed: () => Promise<number>, n: number): Promise<number> {
  for (let i = 0; i < Math.min(500, n / 10); i++) await timed();
  const times: number[] = [];
  for (let i = 0; i < n; i++) times.push(await timed());
  times.sort((a, b) => a - b);
  return times[times.length >> 1];
}

/** `op` timed whole. */
const whole = (op: () => Promise<unknown>) => async () => {
  const t0 = performance.now();
  await op();
  return performance.now() - t0;
};

async function twoReadsMs(): Promise<number> {
  const ivm = createRequire(import.meta.url)('isolated-vm') as typeof import('isolated-vm');
  const isolate = new ivm.Isolate({ memoryLimit: 128 });
  const boot = isolate.compileScriptSync(`(function (hostRead) {
    const pending = {};
    let next = 1;
    const read = (name) => new Promise((resolve) => { const id = next++; pending[id] = resolve; hostRead(id, name); });
    return function enter(op, id, value) {
      if (op === 1) { const settle = pending[id]; delete pending[id]; return settle(value); }
      return op === 2 ? (async () => { const a = await read("a"); const b = await read("b"); return a.length + b.length; })() : (async () => 0)();
    };
  })`);
  const call = async (op: number) => {
    const context = isolate.createContextSync();
    let enter: import('isolated-vm').Reference<(...a: unknown[]) => unknown> | undefined;
    const hostRead = new ivm.Callback((id: number, name: string) => {
      enter?.applyIgnored(undefined, [1, id, `value-of-${name}`], { arguments: { copy: true } });
    }, { ignored: true });
    const factory = boot.runSync(context, { reference: true }) as import('isolated-vm').Reference<(h: unknown) => unknown>;
    enter = factory.applySync(undefined, [hostRead], { result: { reference: true } }) as import('isolated-vm').Reference<(...a: unknown[]) => unknown>;
    // Only the call is timed by the caller's difference: the context is made the same way for both.
    const t0 = performance.now();
    await enter.apply(undefined, [op], { result: { promise: true, copy: true } });
    const ms = performance.now() - t0;
    enter.release();
    factory.release();
    context.release();
    return ms;
  };
  const none = await median(() => call(0), 3000);
  const two = await median(() => call(2), 3000);
  isolate.dispose();
  return Math.max(0, two - none);
}

async function auditCommitMs(driver: string): Promise<number> {
  const { openDatabase } = await import('../db/client.ts');
  const { migrate } = await import('../db/migrate.ts');
  const { freshDatabase } = await import('../test/support/database.ts');
  const { createAuditLog } = await import('../api/audit/audit-log.ts');
  const dataDir = driver === 'pglite-disk' ? fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-floors-')) : undefined;
  const database = driver === 'postgres' ? await freshDatabase()
    : await openDatabase({ dataDir: dataDir ?? 'memory://' });
  try {
    await migrate(database);
    const audit = createAuditLog(database.db);
    let n = 0;
    const row = (secret: string) => ({
      action: 'secret.read', outcome: 'allowed' as const, actorId: 'sa_floors', actorKind: 'function', requestId: `req_floors_${n}`,
      vaultId: 'vlt_floors', vault: 'default', secret, version: 1, workspaceId: 'ws_floors', workspace: 'bench', function: 'secrets',
      invocationId: `inv_floors_${n++}`, detail: { functionVersion: 1 },
    });
    return await median(whole(() => audit.appendAll([row('test-secret-1'), row('test-secret-2')])), 2000);
  } finally {
    await database.close();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[1] === SELF && process.argv[2] === 'measure') {
  const driver = process.argv[3];
  const reads = await twoReadsMs();
  const commit = await auditCommitMs(driver);
  const floors: Floors = { twoReadsMs: round(reads), auditCommitMs: round(commit), twoSecretsOverHelloMs: round(reads + commit) };
  process.send!(floors, () => process.exit(0));
}
