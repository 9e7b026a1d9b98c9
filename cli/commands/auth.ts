// login, logout, whoami, profiles: who the CLI talks to and as whom.
import type { Command } from 'commander';
import { createCofferClient } from '../../client/index.ts';
import { run } from '../context.ts';
import { readSecretInput } from '../input.ts';
import { UsageError } from '../errors.ts';

export function registerAuth(program: Command) {
  program.command('login')
    .description('Save credentials in a profile: an API key, or with --client-id a service account\'s OAuth client secret, read from a no-echo prompt or stdin')
    .option('--client-id <id>', 'log in as an OAuth service account (client credentials)')
    .addHelpText('after', '\nThe server is the global --url (required here), e.g. coffer login --url http://127.0.0.1:8080')
    .action(run(async (ctx, opts: { clientId?: string }) => {
      if (!ctx.globals.url) throw new UsageError('login needs --url URL (the Coffer server)');
      let url: string;
      try { url = new URL(ctx.globals.url).origin; } catch { throw new UsageError(`--url: not a URL: ${ctx.globals.url}`); }
      const profile = ctx.config.profileName(ctx.globals.profile);
      const secret = await readSecretInput(opts.clientId ? 'Client secret: ' : 'API key: ');
      ctx.out.mask(secret);
      const credentials = opts.clientId ? { oauth: { clientId: opts.clientId, clientSecret: secret } } : { apiKey: secret };
      // Checked before saving: a typo is refused now, not at the next command.
      const me = await createCofferClient({ url, ...credentials }).GET('/v1/me');
      ctx.config.saveProfile(profile, { url, ...(opts.clientId ? { clientId: opts.clientId, clientSecret: secret } : { apiKey: secret }) }, true);
      ctx.out.emit({ profile, url, principal: me }, () =>
        ctx.out.line(`Logged in to ${url} as ${me.name} (${me.kind}${me.isAdmin ? ', admin' : ''}); saved as profile "${profile}" in ${ctx.config.file}.`));
    }));

  program.command('logout')
    .description('Forget the profile\'s credentials and cached tokens')
    .action(run((ctx) => {
      const profile = ctx.config.profileName(ctx.globals.profile);
      const removed = ctx.config.removeProfile(profile);
      ctx.out.emit({ profile, removed }, () => ctx.out.line(removed ? `Logged out: removed profile "${profile}".` : `No profile "${profile}" to remove.`));
    }));

  program.command('whoami')
    .description('Show who you are authenticated as, and where the credentials come from')
    .action(run(async (ctx) => {
      const connection = ctx.connection();
      const me = await ctx.client().GET('/v1/me');
      const value = { profile: connection.profile, url: connection.url, credentialsFrom: connection.source.credentials, principal: me };
      ctx.out.emit(value, () => ctx.out.record([
        ['name', me.name], ['id', me.id], ['kind', me.kind], ['admin', me.isAdmin], ['via', me.via],
        ['url', connection.url], ['profile', connection.profile], ['credentials', connection.source.credentials === 'env' ? 'environment' : 'profile'],
      ]));
    }));

  const profiles = program.command('profiles').description('List saved profiles and choose the current one');
  profiles.command('list', { isDefault: true }).description('List saved profiles')
    .action(run((ctx) => {
      const config = ctx.config.read();
      const rows = Object.entries(config.profiles).map(([name, p]) => ({ name, url: p.url, auth: p.clientId ? 'oauth' : 'api_key', current: name === config.currentProfile }));
      ctx.out.emit({ current: config.currentProfile ?? null, profiles: rows }, () => ctx.out.table(rows, [
        { header: '', value: (r) => (r.current ? '*' : ' ') }, { header: 'name', value: (r) => r.name }, { header: 'url', value: (r) => r.url }, { header: 'auth', value: (r) => r.auth },
      ], 'no profiles: run `coffer login --url URL`'));
    }));
  profiles.command('use <name>').description('Make a saved profile the current one')
    .action(run((ctx, name: string) => {
      const config = ctx.config.read();
      if (!config.profiles[name]) throw new UsageError(`no profile "${name}" (see \`coffer profiles list\`)`);
      ctx.config.write({ ...config, currentProfile: name });
      ctx.out.emit({ current: name }, () => ctx.out.line(`Now using profile "${name}".`));
    }));
}
