// coffer secret ...: values in, values out (masked unless --reveal), versions, import and export.
import type { Command } from 'commander';
import { parseEnv } from 'node:util';
import { run, type Context } from '../context.ts';
import { UsageError } from '../errors.ts';
import { promptHidden, readFileText, readStdin, withoutFinalNewline } from '../input.ts';
import { MASK } from '../output.ts';
import type { components } from '../../client/index.ts';

type Secret = components['schemas']['Secret'];
type Version = components['schemas']['SecretVersion'];
const secretPath = (vault: string, name: string) => ({ params: { path: { vault, name } } });
const versionPath = (vault: string, name: string, n: string) => ({ params: { path: { vault, name, n: versionNumber(n) } } });

function versionNumber(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`not a version number: ${text}`);
  return n;
}

async function valueToPut(ctx: Context, opts: { fromFile?: string; prompt?: boolean; value?: string }): Promise<string> {
  const given = [opts.fromFile !== undefined, Boolean(opts.prompt), opts.value !== undefined].filter(Boolean).length;
  if (given > 1) throw new UsageError('give at most one of --from-file, --prompt and --value');
  if (opts.value !== undefined) {
    ctx.out.warn('--value puts the secret in your shell history and the process list; prefer stdin, --from-file or --prompt');
    return opts.value;
  }
  if (opts.fromFile !== undefined) return readFileText(opts.fromFile);
  if (opts.prompt) return promptHidden('Value: ');
  if (process.stdin.isTTY) throw new UsageError('pipe the value on stdin, or use --from-file FILE or --prompt');
  return withoutFinalNewline(await readStdin());
}

export function registerSecrets(program: Command) {
  const secret = program.command('secret').description('Secrets: versioned, encrypted values in a vault');

  secret.command('put <vault> <name>')
    .description('Write a new version, from stdin (one final newline dropped), --from-file (verbatim), a no-echo --prompt, or --value')
    .option('--from-file <file>', 'read the value from a file, byte for byte')
    .option('--prompt', 'type the value at a prompt that does not echo')
    .option('--value <value>', 'the value itself (lands in shell history: warned)')
    .option('--description <text>', 'what the secret is')
    .action(run(async (ctx, vault: string, name: string, opts: { fromFile?: string; prompt?: boolean; value?: string; description?: string }) => {
      const value = await valueToPut(ctx, opts);
      ctx.out.mask(value);
      const s = await ctx.client().PUT('/v1/vaults/{vault}/secrets/{name}', { ...secretPath(vault, name), body: { value, description: opts.description } });
      ctx.out.emit({ ...s, vault }, () => ctx.out.line(`Wrote ${vault}/${s.name} version ${s.latestVersion}.`));
    }));

  secret.command('get <vault> <name>')
    .description('Show a secret\'s value, masked unless --reveal; --reveal --raw prints the value alone, without a newline')
    .option('--version <n>', 'a specific version (default: the latest enabled one)')
    .option('--reveal', 'show the value')
    .option('--raw', 'with --reveal: only the value, no trailing newline (for piping)')
    .action(run(async (ctx, vault: string, name: string, opts: { version?: string; reveal?: boolean; raw?: boolean }) => {
      if (opts.raw && !opts.reveal) throw new UsageError('--raw needs --reveal');
      const v = await ctx.client().GET('/v1/vaults/{vault}/secrets/{name}/value', {
        params: { path: { vault, name }, query: { version: opts.version === undefined ? undefined : versionNumber(opts.version) } },
      });
      if (opts.reveal && opts.raw) return ctx.out.reveal(v.value, true);
      if (opts.reveal) {
        if (ctx.out.json) return ctx.out.reveal(JSON.stringify({ vault, name: v.name, version: v.version, value: v.value }, null, 2), false);
        return ctx.out.reveal(v.value, false);
      }
      ctx.out.mask(v.value);
      ctx.out.emit({ vault, name: v.name, version: v.version, value: null, masked: true }, () =>
        ctx.out.record([['name', v.name], ['version', v.version], ['value', `${MASK}  (--reveal to show)`]]));
    }));

  secret.command('list <vault>').description('List secret names and metadata, never values (writer)')
    .action(run(async (ctx, vault: string) => {
      const { secrets } = await ctx.client().GET('/v1/vaults/{vault}/secrets', { params: { path: { vault } } });
      ctx.out.emit({ vault, secrets }, () => ctx.out.table<Secret>(secrets, [
        { header: 'name', value: (s) => s.name }, { header: 'version', value: (s) => s.latestVersion },
        { header: 'updated', value: (s) => s.updatedAt }, { header: 'description', value: (s) => s.description },
      ], 'no secrets'));
    }));

  secret.command('versions <vault> <name>').description('List a secret\'s versions and their states (writer)')
    .action(run(async (ctx, vault: string, name: string) => {
      const { versions } = await ctx.client().GET('/v1/vaults/{vault}/secrets/{name}/versions', secretPath(vault, name));
      ctx.out.emit({ vault, name, versions }, () => ctx.out.table<Version>(versions, [
        { header: 'version', value: (v) => v.version }, { header: 'state', value: (v) => v.state },
        { header: 'created', value: (v) => v.createdAt }, { header: 'by', value: (v) => v.createdBy },
      ]));
    }));

  for (const state of ['enabled', 'disabled'] as const) {
    const verb = state === 'enabled' ? 'enable' : 'disable';
    secret.command(`${verb} <vault> <name> <version>`).description(`${state === 'enabled' ? 'Enable' : 'Disable'} a version (writer)`)
      .action(run(async (ctx, vault: string, name: string, n: string) => {
        const r = await ctx.client().PATCH('/v1/vaults/{vault}/secrets/{name}/versions/{n}', { ...versionPath(vault, name, n), body: { state } });
        ctx.out.emit({ vault, name, ...r }, () => ctx.out.line(`Version ${r.version} of ${vault}/${name} is ${r.state}.`));
      }));
  }

  secret.command('destroy <vault> <name> <version>').description('Destroy a version: its ciphertext is erased for good, its metadata kept (writer)')
    .action(run(async (ctx, vault: string, name: string, n: string) => {
      await ctx.client().DELETE('/v1/vaults/{vault}/secrets/{name}/versions/{n}', versionPath(vault, name, n));
      ctx.out.emit({ vault, name, version: versionNumber(n), state: 'destroyed' }, () => ctx.out.line(`Destroyed version ${n} of ${vault}/${name}.`));
    }));

  secret.command('delete <vault> <name>').description('Delete a secret and all its versions (writer)')
    .action(run(async (ctx, vault: string, name: string) => {
      await ctx.client().DELETE('/v1/vaults/{vault}/secrets/{name}', secretPath(vault, name));
      ctx.out.emit({ deleted: { vault, name } }, () => ctx.out.line(`Deleted ${vault}/${name}.`));
    }));

  secret.command('import <vault>').description('Write every entry of a .env or JSON file as a secret: one audited write each')
    .option('--from-dotenv <file>', 'a .env file (KEY=value lines; quoted values may span lines)')
    .option('--from-json <file>', 'a JSON object of string values')
    .action(run(async (ctx, vault: string, opts: { fromDotenv?: string; fromJson?: string }) => {
      if (Boolean(opts.fromDotenv) === Boolean(opts.fromJson)) throw new UsageError('give exactly one of --from-dotenv and --from-json');
      const entries: [string, string][] = opts.fromDotenv
        ? Object.entries(parseEnv(readFileText(opts.fromDotenv))).map(([k, v]) => [k, v ?? ''])
        : jsonEntries(readFileText(opts.fromJson!), opts.fromJson!);
      for (const [, value] of entries) ctx.out.mask(value);
      const client = ctx.client();
      const progress = ctx.out.progress(`importing into ${vault}`, entries.length);
      const written: { name: string; version: number }[] = [];
      for (const [name, value] of entries) {
        const s = await client.PUT('/v1/vaults/{vault}/secrets/{name}', { ...secretPath(vault, name), body: { value } });
        written.push({ name: s.name, version: s.latestVersion });
        progress.tick(written.length);
      }
      progress.done();
      ctx.out.emit({ vault, imported: written }, () => ctx.out.line(`Imported ${written.length} secret${written.length === 1 ? '' : 's'} into ${vault}.`));
    }));

  secret.command('export <vault>').description('Print every secret of a vault as dotenv or JSON; values only with --reveal (one audited read each)')
    .option('--format <format>', 'dotenv or json (default: dotenv, json with --json)')
    .option('--reveal', 'include the values')
    .action(run(async (ctx, vault: string, opts: { format?: string; reveal?: boolean }) => {
      const format = opts.format ?? (ctx.out.json ? 'json' : 'dotenv');
      if (format !== 'dotenv' && format !== 'json') throw new UsageError('--format must be dotenv or json');
      const client = ctx.client();
      const { secrets } = await client.GET('/v1/vaults/{vault}/secrets', { params: { path: { vault } } });
      const values: Record<string, string | null> = {};
      if (opts.reveal) {
        ctx.out.warn(`printing ${secrets.length} secret values in clear text`);
        const progress = ctx.out.progress(`reading ${vault}`, secrets.length);
        for (const s of secrets) {
          values[s.name] = (await client.GET('/v1/vaults/{vault}/secrets/{name}/value', { params: { path: { vault, name: s.name }, query: {} } })).value;
          progress.tick(Object.keys(values).length);
        }
        progress.done();
      } else {
        for (const s of secrets) values[s.name] = null;
      }
      // The export is the one output meant to carry values, so it bypasses masking.
      if (format === 'json') return ctx.out.reveal(JSON.stringify(values, null, 2), false);
      const lines = opts.reveal ? [] : ['# values withheld: run with --reveal to include them'];
      for (const [name, value] of Object.entries(values)) lines.push(`${name}=${value === null ? '' : dotenvQuote(name, value)}`);
      ctx.out.reveal(lines.join('\n'), false);
    }));
}

function jsonEntries(text: string, file: string): [string, string][] {
  let data: unknown;
  try { data = JSON.parse(text); } catch (err) { throw new UsageError(`${file} is not valid JSON: ${(err as Error).message}`); }
  if (!data || typeof data !== 'object' || Array.isArray(data)) throw new UsageError(`${file} must hold a JSON object of name: value`);
  const entries = Object.entries(data);
  const bad = entries.find(([, v]) => typeof v !== 'string');
  if (bad) throw new UsageError(`${file}: the value of "${bad[0]}" is not a string`);
  return entries as [string, string][];
}

/**
 * Quoted so that the value survives a round trip through a dotenv parser: single quotes (literal,
 * may span lines), else backticks, else double quotes (where dotenv expands \n) when that is safe.
 */
function dotenvQuote(name: string, value: string): string {
  if (/^[A-Za-z0-9_./:@+-]*$/.test(value)) return value;
  for (const q of ["'", '`']) if (!value.includes(q)) return q + value + q;
  if (!value.includes('"') && !value.includes('\\')) return `"${value}"`;
  throw new UsageError(`the value of ${name} cannot be written as dotenv faithfully (it holds every kind of quote); use --format json`);
}
