// coffer user ... and coffer api-key ...: people and their keys.
import type { Command } from 'commander';
import { run, type Context } from '../context.ts';
import type { components } from '../../client/index.ts';

type User = components['schemas']['User'];
type ApiKey = components['schemas']['ApiKey'];

/** --user, or yourself. */
async function userId(ctx: Context, given?: string): Promise<string> {
  return given ?? (await ctx.client().GET('/v1/me')).id;
}

export function registerUsers(program: Command) {
  const user = program.command('user').description('Users (admin)');
  user.command('create <name>').description('Create a user (admin); give them a key with `coffer api-key create --user ID`')
    .option('--admin', 'an instance admin')
    .option('--description <text>', 'who this is')
    .action(run(async (ctx, name: string, opts: { admin?: boolean; description?: string }) => {
      const u = await ctx.client().POST('/v1/users', { body: { name, isAdmin: opts.admin, description: opts.description } });
      ctx.out.emit(u, () => ctx.out.line(`Created user ${u.name} (${u.id}).`));
    }));
  user.command('list').description('List users (admin)')
    .action(run(async (ctx) => {
      const { users } = await ctx.client().GET('/v1/users');
      ctx.out.emit({ users }, () => ctx.out.table<User>(users, [
        { header: 'id', value: (u) => u.id }, { header: 'name', value: (u) => u.name }, { header: 'admin', value: (u) => u.isAdmin },
        { header: 'active', value: (u) => u.active }, { header: 'created', value: (u) => u.createdAt },
      ]));
    }));
  user.command('get <id>').description('Show a user (admin, or yourself)')
    .action(run(async (ctx, id: string) => {
      const u = await ctx.client().GET('/v1/users/{id}', { params: { path: { id } } });
      ctx.out.emit(u, () => ctx.out.record([['id', u.id], ['name', u.name], ['admin', u.isAdmin], ['active', u.active], ['created', u.createdAt], ['description', u.description]]));
    }));

  const key = program.command('api-key').description('API keys of a user (yours unless --user)');
  key.command('create').description('Issue an API key; it is shown only this once')
    .option('--user <id>', 'whose (admin); default: you')
    .option('--name <name>', 'a label for the key')
    .action(run(async (ctx, opts: { user?: string; name?: string }) => {
      const id = await userId(ctx, opts.user);
      const k = await ctx.client().POST('/v1/users/{id}/api-keys', { params: { path: { id } }, body: { name: opts.name } });
      ctx.out.warn('this key is shown only once: store it now (e.g. `coffer login` reads it from stdin)');
      // Printed in clear on purpose: this response is the only place the key ever appears.
      ctx.out.emit({ user: id, ...k }, () => { ctx.out.record([['id', k.id], ['prefix', k.prefix]]); ctx.out.reveal(k.key, false); });
    }));
  key.command('list').description('List API keys, metadata only')
    .option('--user <id>', 'whose (admin); default: you')
    .action(run(async (ctx, opts: { user?: string }) => {
      const id = await userId(ctx, opts.user);
      const { apiKeys } = await ctx.client().GET('/v1/users/{id}/api-keys', { params: { path: { id } } });
      ctx.out.emit({ user: id, apiKeys }, () => ctx.out.table<ApiKey>(apiKeys, [
        { header: 'id', value: (k) => k.id }, { header: 'name', value: (k) => k.name }, { header: 'prefix', value: (k) => k.prefix },
        { header: 'last used', value: (k) => k.lastUsedAt }, { header: 'revoked', value: (k) => k.revokedAt },
      ], 'no API keys'));
    }));
  key.command('revoke <key-id>').description('Revoke an API key; it fails on the next request')
    .option('--user <id>', 'whose (admin); default: you')
    .action(run(async (ctx, keyId: string, opts: { user?: string }) => {
      const id = await userId(ctx, opts.user);
      await ctx.client().DELETE('/v1/users/{id}/api-keys/{keyId}', { params: { path: { id, keyId } } });
      ctx.out.emit({ revoked: { user: id, apiKey: keyId } }, () => ctx.out.line(`Revoked API key ${keyId}.`));
    }));
}
