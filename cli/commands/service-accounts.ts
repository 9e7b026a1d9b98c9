// coffer service-account ... (and its client-secret subgroup): machine principals and their
// credentials. Credentials are printed once, with a warning, as the API shows them only once.
import type { Command } from 'commander';
import { run, type Context } from '../context.ts';
import { UsageError } from '../errors.ts';
import type { components } from '../../client/index.ts';

type ServiceAccount = components['schemas']['ServiceAccount'];
type ClientSecret = components['schemas']['ClientSecret'];
const account = (id: string) => ({ params: { path: { id } } });

function showAccount(ctx: Context, a: ServiceAccount) {
  ctx.out.record([['id', a.id], ['name', a.name], ['auth', a.auth], ['active', a.active], ['client id', a.clientId], ['owner', a.ownerId], ['description', a.description]]);
}

export function registerServiceAccounts(program: Command) {
  const sa = program.command('service-account').description('Service accounts: principals for machines, with an API key or OAuth client credentials');

  sa.command('create <name>').description('Create a service account; its API key or client secret is printed once')
    .option('--api-key', 'authenticate with one long-lived API key')
    .option('--oauth', 'authenticate with OAuth client credentials (rotating client secrets)')
    .option('--description <text>', 'what it is for')
    .action(run(async (ctx, name: string, opts: { apiKey?: boolean; oauth?: boolean; description?: string }) => {
      if (Boolean(opts.apiKey) === Boolean(opts.oauth)) throw new UsageError('give exactly one of --api-key and --oauth');
      const created = await ctx.client().POST('/v1/service-accounts', { body: { name, auth: opts.oauth ? 'oauth' : 'api_key', description: opts.description } });
      ctx.out.warn(`the ${opts.oauth ? 'client secret' : 'API key'} below is shown only once: store it now`);
      ctx.out.emit(created, () => {
        showAccount(ctx, created.serviceAccount);
        if (created.apiKey) ctx.out.reveal(`api key     ${created.apiKey.key}`, false);
        if (created.clientSecret) ctx.out.reveal(`client secret ${created.clientSecret.secret}`, false);
      });
    }));
  sa.command('list').description('List the service accounts you own (admins: all)')
    .action(run(async (ctx) => {
      const { serviceAccounts } = await ctx.client().GET('/v1/service-accounts');
      ctx.out.emit({ serviceAccounts }, () => ctx.out.table<ServiceAccount>(serviceAccounts, [
        { header: 'id', value: (a) => a.id }, { header: 'name', value: (a) => a.name }, { header: 'auth', value: (a) => a.auth },
        { header: 'active', value: (a) => a.active }, { header: 'created', value: (a) => a.createdAt },
      ], 'no service accounts'));
    }));
  sa.command('get <id>').description('Show a service account')
    .action(run(async (ctx, id: string) => {
      const a = await ctx.client().GET('/v1/service-accounts/{id}', account(id));
      ctx.out.emit(a, () => showAccount(ctx, a));
    }));
  const patch = (verb: string, description: string, body: (arg?: string) => { name?: string; active?: boolean }, sentence: (a: ServiceAccount) => string, withName = false) =>
    sa.command(withName ? `${verb} <id> <new-name>` : `${verb} <id>`).description(description)
      .action(run(async (ctx, id: string, arg?: string) => {
        const a = await ctx.client().PATCH('/v1/service-accounts/{id}', { ...account(id), body: body(typeof arg === 'string' ? arg : undefined) });
        ctx.out.emit(a, () => ctx.out.line(sentence(a)));
      }));
  patch('deactivate', 'Deactivate: its credentials and tokens fail from the next request on', () => ({ active: false }), (a) => `Deactivated service account ${a.name}.`);
  patch('reactivate', 'Reactivate a deactivated service account', () => ({ active: true }), (a) => `Reactivated service account ${a.name}.`);
  patch('rename', 'Rename a service account', (name) => ({ name }), (a) => `Renamed service account ${a.id} to ${a.name}.`, true);
  sa.command('delete <id>').description('Delete a service account with its credentials, grants and memberships')
    .action(run(async (ctx, id: string) => {
      await ctx.client().DELETE('/v1/service-accounts/{id}', account(id));
      ctx.out.emit({ deleted: { serviceAccount: id } }, () => ctx.out.line(`Deleted service account ${id}.`));
    }));

  const cs = sa.command('client-secret').description('Client secrets of an OAuth service account (at most two, for rotation)');
  cs.command('create <account-id>').description('Create a client secret; it is printed once')
    .action(run(async (ctx, id: string) => {
      const s = await ctx.client().POST('/v1/service-accounts/{id}/client-secrets', account(id));
      ctx.out.warn('the client secret below is shown only once: store it now');
      ctx.out.emit({ serviceAccount: id, ...s }, () => { ctx.out.record([['id', s.id], ['prefix', s.prefix]]); ctx.out.reveal(s.secret, false); });
    }));
  cs.command('list <account-id>').description('List client secrets, metadata only')
    .action(run(async (ctx, id: string) => {
      const { clientSecrets } = await ctx.client().GET('/v1/service-accounts/{id}/client-secrets', account(id));
      ctx.out.emit({ serviceAccount: id, clientSecrets }, () => ctx.out.table<ClientSecret>(clientSecrets, [
        { header: 'id', value: (s) => s.id }, { header: 'prefix', value: (s) => s.prefix }, { header: 'active', value: (s) => s.active },
        { header: 'created', value: (s) => s.createdAt }, { header: 'last used', value: (s) => s.lastUsedAt },
      ]));
    }));
  for (const [verb, active] of [['deactivate', false], ['reactivate', true]] as const) {
    cs.command(`${verb} <account-id> <secret-id>`).description(active ? 'Reactivate a client secret' : 'Deactivate a client secret; tokens it minted fail at once (not the last active one)')
      .action(run(async (ctx, id: string, secretId: string) => {
        const s = await ctx.client().PATCH('/v1/service-accounts/{id}/client-secrets/{secretId}', { params: { path: { id, secretId } }, body: { active } });
        ctx.out.emit({ serviceAccount: id, ...s }, () => ctx.out.line(`Client secret ${secretId} is ${active ? 'active' : 'deactivated'}.`));
      }));
  }
  cs.command('delete <account-id> <secret-id>').description('Delete a deactivated client secret')
    .action(run(async (ctx, id: string, secretId: string) => {
      await ctx.client().DELETE('/v1/service-accounts/{id}/client-secrets/{secretId}', { params: { path: { id, secretId } } });
      ctx.out.emit({ deleted: { serviceAccount: id, clientSecret: secretId } }, () => ctx.out.line(`Deleted client secret ${secretId}.`));
    }));
}
