// coffer exec --vault V [--only A,B] [--prefix P] [--map NAME=ENV] -- COMMAND ARGS...: runs COMMAND
// with secrets as environment variables. Values are read once (one audited read each), held only in
// memory and the child's environment, and masked in everything coffer itself prints.
import type { Command } from 'commander';
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { run, setExitCode, type Context } from '../context.ts';
import { CliError, EXIT, UsageError } from '../errors.ts';
import { buildEnvironment, ENV_NAME, mapSecrets, planEnvironment, RULE_TEXT, type Plan } from '../exec-env.ts';

const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

interface ExecOptions { vault: string; only?: string; prefix?: string; map: string[]; cleanEnv?: boolean; override: boolean; explain?: boolean }

function parseMap(entries: string[]): Record<string, string> {
  const map: Record<string, string> = {};
  for (const entry of entries) {
    const at = entry.lastIndexOf('=');
    const [name, env] = at > 0 ? [entry.slice(0, at), entry.slice(at + 1)] : ['', ''];
    if (!name || !ENV_NAME.test(env)) throw new UsageError(`--map ${entry}: expected SECRET_NAME=ENV_NAME, the variable matching ${ENV_NAME.source}`);
    map[name] = env;
  }
  return map;
}

async function selectedSecrets(ctx: Context, vault: string, only?: string): Promise<string[]> {
  // With --only, names are read directly (a reader may do that); listing a vault needs writer.
  if (only) return [...new Set(only.split(',').map((s) => s.trim()).filter(Boolean))];
  return (await ctx.client().GET('/v1/vaults/{vault}/secrets', { params: { path: { vault } } })).secrets.map((s) => s.name);
}

function explain(ctx: Context, plan: Plan, opts: ExecOptions) {
  const describe = ({ source }: Plan['variables'][number]) => {
    if (source.kind === 'coffer') return `coffer ${source.vault}/${source.secret}${source.overrides ? ' (overrides the inherited value)' : ''}`;
    if (source.kind === 'kept') return 'kept from the parent (--clean-env keeps only these)';
    return source.shadowedSecret ? `inherited (coffer ${opts.vault}/${source.shadowedSecret} not applied: --no-override)` : 'inherited';
  };
  const json = {
    rule: RULE_TEXT,
    override: opts.override,
    cleanEnv: Boolean(opts.cleanEnv),
    variables: plan.variables.map((v) => ({ name: v.name, ...v.source })),
    withheld: plan.withheld,
  };
  ctx.out.emit(json, () => {
    ctx.out.line(RULE_TEXT);
    ctx.out.line(opts.override ? 'Coffer\'s values win over inherited ones (--no-override to keep inherited ones).' : 'Inherited values win (--no-override).');
    ctx.out.line();
    ctx.out.table(plan.variables, [{ header: 'variable', value: (v) => v.name }, { header: 'from', value: describe }]);
    if (plan.withheld.length) ctx.out.line(`withheld from the command: ${plan.withheld.join(', ')} (your own Coffer credentials)`);
  });
}

export function registerExec(program: Command) {
  program.command('exec')
    .description('Run a command with a vault\'s secrets as environment variables: coffer exec --vault V -- COMMAND ARGS...')
    .argument('[command...]', 'the command and its arguments, after --')
    .requiredOption('--vault <name>', 'the vault to read')
    .option('--only <names>', 'only these secrets, comma-separated (read directly: the reader role is enough)')
    .option('--prefix <prefix>', 'put this in front of every variable name made by the rule')
    .option('--map <name=ENV>', 'give a secret an exact variable name (repeatable)', (v: string, all: string[]) => [...all, v], [])
    .option('--clean-env', `start the command with only the secrets and ${'PATH, HOME, USER, LOGNAME, SHELL, TERM, LANG, TZ, TMPDIR'}`)
    .option('--no-override', 'keep inherited variables where a secret would replace them')
    .option('--explain', 'list every variable the command would get and where it comes from (no values), and exit')
    .action(run(async (ctx, command: string[], opts: ExecOptions) => {
      if (opts.prefix !== undefined && !/^[A-Za-z_][A-Za-z0-9_]*$|^$/.test(opts.prefix)) throw new UsageError(`--prefix ${opts.prefix}: letters, digits and _, not starting with a digit`);
      if (!command.length && !opts.explain) throw new UsageError('no command: coffer exec --vault V -- COMMAND ARGS...');
      const map = parseMap(opts.map);
      const names = await selectedSecrets(ctx, opts.vault, opts.only);
      const unknown = Object.keys(map).filter((n) => !names.includes(n));
      if (unknown.length) throw new UsageError(`--map names secrets that are not selected: ${unknown.join(', ')}`);
      const mapped = mapSecrets(names, { prefix: opts.prefix, map });
      if (!mapped.ok) {
        throw new CliError('env_collision', `secrets would share a variable name: ${mapped.collisions.map((c) => `${c.secrets.join(' and ')} -> ${c.env}`).join('; ')}. Rename one with --map NAME=ENV or leave it out with --only`, EXIT.conflict);
      }
      const plan = planEnvironment(process.env, mapped.mappings, { vault: opts.vault, cleanEnv: Boolean(opts.cleanEnv), override: opts.override });
      if (opts.explain) return explain(ctx, plan, opts);

      const client = ctx.client();
      const values = new Map<string, string>();
      for (const m of mapped.mappings) {
        const { value } = await client.GET('/v1/vaults/{vault}/secrets/{name}/value', { params: { path: { vault: opts.vault, name: m.secret }, query: {} } });
        ctx.out.mask(value);
        values.set(m.secret, value);
      }
      setExitCode(await runChild(command, buildEnvironment(process.env, plan, values)));
    }));
}

function runChild(command: string[], env: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(command[0]!, command.slice(1), { stdio: 'inherit', env });
    const forward = (signal: NodeJS.Signals) => { child.kill(signal); };
    for (const s of FORWARDED) process.on(s, forward);
    const stop = () => { for (const s of FORWARDED) process.off(s, forward); };
    child.on('error', (err: NodeJS.ErrnoException) => {
      stop();
      reject(new CliError(err.code === 'ENOENT' ? 'command_not_found' : 'exec_failed', `cannot run ${command[0]}: ${err.code ?? err.message}`, err.code === 'ENOENT' ? 127 : 126));
    });
    child.on('exit', (code, signal) => {
      stop();
      // As a shell reports it: 128 + the signal's number when the child was killed by one.
      resolve(signal ? 128 + (constants.signals[signal] ?? 0) : (code ?? 1));
    });
  });
}
