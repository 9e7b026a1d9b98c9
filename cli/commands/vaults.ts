// coffer vault ... and coffer grant ...: vaults and who may use them.
import type { Command } from 'commander';
import { run } from '../context.ts';
import { UsageError } from '../errors.ts';
import type { components } from '../../client/index.ts';

type Vault = components['schemas']['Vault'];
type Grant = components['schemas']['Grant'];
const path = (vault: string) => ({ params: { path: { vault } } });

export function registerVaults(program: Command) {
  const vault = program.command('vault').description('Vaults: named containers of secrets');
  vault.command('create <name>').description('Create a vault; you become its manager')
    .option('--description <text>', 'what the vault is for')
    .action(run(async (ctx, name: string, opts: { description?: string }) => {
      const created = await ctx.client().POST('/v1/vaults', { body: { name, description: opts.description } });
      ctx.out.emit(created, () => ctx.out.line(`Created vault ${created.name}.`));
    }));
  vault.command('list').description('List the vaults you hold a role on (admins: all)')
    .action(run(async (ctx) => {
      const { vaults } = await ctx.client().GET('/v1/vaults');
      ctx.out.emit({ vaults }, () => ctx.out.table<Vault>(vaults, [
        { header: 'name', value: (v) => v.name }, { header: 'your role', value: (v) => v.role },
        { header: 'created', value: (v) => v.createdAt }, { header: 'description', value: (v) => v.description },
      ], 'no vaults'));
    }));
  vault.command('get <name>').description('Show a vault')
    .action(run(async (ctx, name: string) => {
      const v = await ctx.client().GET('/v1/vaults/{vault}', path(name));
      ctx.out.emit(v, () => ctx.out.record([['name', v.name], ['description', v.description], ['your role', v.role], ['created', v.createdAt], ['created by', v.createdBy]]));
    }));
  vault.command('delete <name>').description('Delete a vault and every secret in it (manager)')
    .action(run(async (ctx, name: string) => {
      await ctx.client().DELETE('/v1/vaults/{vault}', path(name));
      ctx.out.emit({ deleted: { vault: name } }, () => ctx.out.line(`Deleted vault ${name}.`));
    }));

  const grant = program.command('grant').description('Role grants on a vault, to principals or workspaces');
  grant.command('add <vault>').description('Grant a role to a principal (--principal ID) or a workspace (--workspace NAME, reader only)')
    .option('--principal <id>', 'a user or service account id')
    .option('--workspace <name>', 'a workspace: its functions may read the vault')
    .requiredOption('--role <role>', 'manager, writer or reader')
    .action(run(async (ctx, vaultName: string, opts: { principal?: string; workspace?: string; role: string }) => {
      if (Boolean(opts.principal) === Boolean(opts.workspace)) throw new UsageError('give exactly one of --principal and --workspace');
      const created = await ctx.client().POST('/v1/vaults/{vault}/grants', {
        ...path(vaultName), body: { principal: opts.principal, workspace: opts.workspace, role: opts.role as Grant['role'] },
      });
      ctx.out.emit({ ...created, vault: vaultName, principalId: opts.principal ?? null, workspace: opts.workspace ?? null }, () =>
        ctx.out.line(`Granted ${created.role} on vault ${vaultName} to ${opts.principal ? `principal ${opts.principal}` : `workspace ${opts.workspace}`} (grant ${created.id}).`));
    }));
  grant.command('list <vault>').description('List the grants on a vault (manager)')
    .action(run(async (ctx, vaultName: string) => {
      const { grants } = await ctx.client().GET('/v1/vaults/{vault}/grants', path(vaultName));
      ctx.out.emit({ grants }, () => ctx.out.table<Grant>(grants, [
        { header: 'id', value: (g) => g.id }, { header: 'role', value: (g) => g.role },
        { header: 'to', value: (g) => (g.workspace ? `workspace ${g.workspace}` : `${g.principal?.kind ?? 'principal'} ${g.principal?.name ?? g.principal?.id}`) },
        { header: 'created', value: (g) => g.createdAt },
      ], 'no grants'));
    }));
  grant.command('remove <vault> <grant-id>').description('Remove a grant (manager); the last manager cannot be removed')
    .action(run(async (ctx, vaultName: string, id: string) => {
      await ctx.client().DELETE('/v1/vaults/{vault}/grants/{id}', { params: { path: { vault: vaultName, id } } });
      ctx.out.emit({ deleted: { vault: vaultName, grant: id } }, () => ctx.out.line(`Removed grant ${id} from vault ${vaultName}.`));
    }));
}
