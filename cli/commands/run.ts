// `coffer run FILE.js`: runs a function on this machine in the server's sandbox, with secret
// values from the local sources (cli/local/sources.ts). No server and no database are needed
// unless --remote asks for the server's values.
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { run, setExitCode, type Context } from '../context.ts';
import { CliError, EXIT, UsageError } from '../errors.ts';
import { parseJsonArgument, readFileText } from '../input.ts';
import { DEFAULT_LIMITS, MAX_LIMITS, MIN_LIMITS, type FunctionLimits, type LogLine } from '../../runtime/index.ts';
import { createLocalSources, describeSource } from '../local/sources.ts';
import { remoteSecretReader } from '../local/remote.ts';
import { findProjectRoot, PROJECT_FILE } from '../local/project-root.ts';
import { loadProjectForCli } from '../local/dev-apply.ts';
import { createLocalRuntime, runFunctionLocally, type SecretReadRecord } from '../local/run-function.ts';

interface RunOptions {
  args?: string; argsFile?: string; explain?: boolean; remote?: boolean;
  timeout?: string; memory?: string; exposeSecrets?: boolean;
}

function limit(text: string | undefined, key: keyof FunctionLimits, flag: string): number {
  if (text === undefined) return DEFAULT_LIMITS[key];
  const n = Number(text);
  if (!Number.isInteger(n) || n < MIN_LIMITS[key] || n > MAX_LIMITS[key]) {
    throw new UsageError(`${flag} must be an integer from ${MIN_LIMITS[key]} to ${MAX_LIMITS[key]}`);
  }
  return n;
}

export function readArgs(opts: { args?: string; argsFile?: string }): unknown {
  if (opts.args !== undefined && opts.argsFile !== undefined) throw new UsageError('give at most one of --args and --args-file');
  if (opts.args !== undefined) return parseJsonArgument(opts.args, '--args');
  if (opts.argsFile !== undefined) return parseJsonArgument(readFileText(opts.argsFile), opts.argsFile);
  return undefined;
}

const printLogs = (ctx: Context, logs: LogLine[]) => {
  for (const l of logs) ctx.out.note(`${ctx.out.dim(l.at)} ${l.level.padEnd(5)} ${l.message}`);
};

function explain(ctx: Context, reads: SecretReadRecord[], secretsFile: string | undefined, remote: boolean) {
  const order = ['env COFFER__<VAULT>__<NAME>', secretsFile ? `file ${secretsFile}` : 'no project root, so no secrets.toml', ...(remote ? ['remote'] : [])];
  ctx.out.note(`secret reads (first answer wins: ${order.join(', then ')}):`);
  if (reads.length === 0) ctx.out.note('  (none)');
  const width = Math.max(0, ...reads.map((r) => r.vault.length + r.name.length + 1));
  for (const r of reads) {
    const where = r.error ? `not answered (${r.error})` : describeSource(r.source);
    ctx.out.note(`  ${`${r.vault}/${r.name}`.padEnd(width)}  ${where}`);
  }
}

/** The function coffer.toml declares with this file, if any; a coffer.toml that cannot be read only warns. */
async function declaredFunction(ctx: Context, root: string, file: string) {
  const toml = path.join(root, PROJECT_FILE);
  if (!fs.existsSync(toml)) return undefined;
  try {
    return Object.values((await loadProjectForCli(toml)).functions).find((f) => f.path === file);
  } catch (err) {
    ctx.out.warn(`ignoring ${toml} for this run's limits: ${(err as Error).message}`);
    return undefined;
  }
}

export function registerRun(program: Command) {
  program.command('run <file>')
    .description('Run a function file on this machine in the server\'s sandbox; secrets from COFFER__<VAULT>__<NAME>, then .coffer/secrets.toml, then (--remote) the server')
    .option('--args <json>', 'the argument, as JSON')
    .option('--args-file <file>', 'the argument, from a JSON file')
    .option('--explain', 'print on stderr which source answered each secret read (never the value)')
    .option('--remote', 'ask the server (the current profile, with its own rights) for values found nowhere locally')
    .option('--timeout <ms>', `wall-clock limit (default ${DEFAULT_LIMITS.timeoutMs})`)
    .option('--memory <mb>', `isolate memory limit (default ${DEFAULT_LIMITS.memoryMb})`)
    .option('--expose-secrets', 'do not redact secret values from the result (logs and errors always are)')
    .action(run(async (ctx, file: string, opts: RunOptions) => {
      const args = readArgs(opts);
      const code = readFileText(file);
      const remote = opts.remote ? remoteSecretReader(ctx.client(), ctx.connection().url) : undefined;
      // The project around the working directory; run from outside any project, the one around the file.
      const root = findProjectRoot(process.cwd()) ?? findProjectRoot(path.dirname(path.resolve(file)));
      const sources = createLocalSources({ root, remote });
      // A file coffer.toml deploys runs with the limits it declares there, unless a flag says otherwise.
      const declared = root ? await declaredFunction(ctx, root, path.resolve(file)) : undefined;
      const limits = {
        timeoutMs: opts.timeout === undefined && declared?.timeoutMs !== undefined ? declared.timeoutMs : limit(opts.timeout, 'timeoutMs', '--timeout'),
        memoryMb: opts.memory === undefined && declared?.memoryMb !== undefined ? declared.memoryMb : limit(opts.memory, 'memoryMb', '--memory'),
      };
      const exposeSecrets = Boolean(opts.exposeSecrets ?? declared?.exposeSecrets);
      const runtime = createLocalRuntime();
      let result;
      try {
        result = await runFunctionLocally(runtime, { code, args, limits, exposeSecrets, sources });
      } finally {
        await runtime.close();
      }
      if (result.kind === 'compile_error') throw new CliError('compile_error', `${file}:${result.line}:${result.column}: ${result.message.replace(/ \(line \d+\)$/, '')}`);
      if (result.kind === 'invalid') {
        const at = result.line !== undefined ? `${file}:${result.line}:${result.column ?? 1}: ` : `${file}: `;
        throw new CliError(result.code, `${at}${result.message}`);
      }
      const { outcome, reads } = result;
      if (opts.explain) explain(ctx, reads, sources.secretsFile, Boolean(opts.remote));
      const readList = reads.map((r) => ({ vault: r.vault, name: r.name, source: r.source, ...(r.error ? { error: r.error } : {}) }));
      if (ctx.out.json) {
        ctx.out.result(outcome.ok
          ? { file, ok: true, result: outcome.result, logs: outcome.logs, durationMs: outcome.durationMs, cpuMs: outcome.cpuMs, reads: readList }
          : { file, ok: false, error: { code: outcome.code, message: outcome.message }, logs: outcome.logs, durationMs: outcome.durationMs, cpuMs: outcome.cpuMs, reads: readList });
        if (!outcome.ok) setExitCode(EXIT.error);
        return;
      }
      printLogs(ctx, outcome.logs);
      if (!outcome.ok) {
        if (outcome.stack) ctx.out.note(outcome.stack);
        throw new CliError(outcome.code, outcome.message);
      }
      ctx.out.line(JSON.stringify(outcome.result, null, 2) ?? 'undefined');
    }));
}
