// `coffer init [dir]`: a starter project (cli/local/starter.ts). Existing files are refused, all
// of them named, before anything is written, unless --force; .gitignore is only ever appended to.
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { run } from '../context.ts';
import { CliError, EXIT } from '../errors.ts';
import { GITIGNORE_LINES, STARTER_FUNCTION, STARTER_SECRETS_EXAMPLE, STARTER_TOML } from '../local/starter.ts';

export function registerInit(program: Command) {
  program.command('init [dir]')
    .description('Write a starter project: coffer.toml, functions/hello.js, .coffer/secrets.toml.example and .gitignore lines')
    .option('--force', 'overwrite the starter files if they exist')
    .action(run(async (ctx, dir: string | undefined, opts: { force?: boolean }) => {
      const root = path.resolve(dir ?? '.');
      const files: [string, string][] = [
        ['coffer.toml', STARTER_TOML],
        [path.join('functions', 'hello.js'), STARTER_FUNCTION],
        [path.join('.coffer', 'secrets.toml.example'), STARTER_SECRETS_EXAMPLE],
      ];
      const existing = files.map(([f]) => f).filter((f) => fs.existsSync(path.join(root, f)));
      if (existing.length && !opts.force) {
        throw new CliError('exists', `${existing.join(', ')} already exist${existing.length === 1 ? 's' : ''} in ${root}; use --force to overwrite`, EXIT.conflict);
      }
      for (const [f, text] of files) {
        fs.mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
        fs.writeFileSync(path.join(root, f), text);
      }
      const gitignore = path.join(root, '.gitignore');
      const before = fs.existsSync(gitignore) ? fs.readFileSync(gitignore, 'utf8') : '';
      const have = new Set(before.split(/\r?\n/).map((l) => l.trim()));
      const missing = GITIGNORE_LINES.filter((l) => !have.has(l));
      if (missing.length) {
        const sep = before === '' || before.endsWith('\n') ? '' : '\n';
        fs.writeFileSync(gitignore, `${before}${sep}${before ? '\n' : ''}# Coffer: local secret values and coffer dev's data\n${missing.join('\n')}\n`);
      }
      const written = [...files.map(([f]) => f), ...(missing.length ? ['.gitignore'] : [])];
      ctx.out.emit({ root, written, gitignoreAdded: missing }, () => {
        ctx.out.line(`Wrote a Coffer project in ${root}:`);
        for (const f of written) ctx.out.line(`  ${f}`);
        ctx.out.line('');
        ctx.out.line('Next:');
        ctx.out.line('  cp .coffer/secrets.toml.example .coffer/secrets.toml && chmod 600 .coffer/secrets.toml');
        ctx.out.line('  coffer run functions/hello.js --args \'{"name":"Ada"}\' --explain');
        ctx.out.line('  coffer dev');
      });
    }));
}
