// coffer workspace ... and coffer member ...: where functions live, and who may touch them.
import type { Command } from 'commander';
import { run } from '../context.ts';
import type { components } from '../../client/index.ts';

type Workspace = components['schemas']['Workspace'];
type Member = components['schemas']['WorkspaceMember'];
type Role = Member['role'];
const path = (ws: string) => ({ params: { path: { ws } } });

export function registerWorkspaces(program: Command) {
  const workspace = program.command('workspace').description('Workspaces: groups of functions with members');
  workspace.command('create <name>').description('Create a workspace (admin); the owner defaults to you')
    .option('--description <text>', 'what the workspace is for')
    .option('--owner <principal-id>', 'make this principal the owner instead')
    .action(run(async (ctx, name: string, opts: { description?: string; owner?: string }) => {
      const w = await ctx.client().POST('/v1/workspaces', { body: { name, description: opts.description, owner: opts.owner } });
      ctx.out.emit(w, () => ctx.out.line(`Created workspace ${w.name}.`));
    }));
  workspace.command('list').description('List your workspaces (admins: all)')
    .action(run(async (ctx) => {
      const { workspaces } = await ctx.client().GET('/v1/workspaces');
      ctx.out.emit({ workspaces }, () => ctx.out.table<Workspace>(workspaces, [
        { header: 'name', value: (w) => w.name }, { header: 'your role', value: (w) => w.role },
        { header: 'created', value: (w) => w.createdAt }, { header: 'description', value: (w) => w.description },
      ], 'no workspaces'));
    }));
  workspace.command('get <name>').description('Show a workspace (viewer)')
    .action(run(async (ctx, name: string) => {
      const w = await ctx.client().GET('/v1/workspaces/{ws}', path(name));
      ctx.out.emit(w, () => ctx.out.record([['name', w.name], ['description', w.description], ['your role', w.role], ['created', w.createdAt], ['created by', w.createdBy]]));
    }));
  workspace.command('delete <name>').description('Delete a workspace with its functions and grants (owner)')
    .action(run(async (ctx, name: string) => {
      await ctx.client().DELETE('/v1/workspaces/{ws}', path(name));
      ctx.out.emit({ deleted: { workspace: name } }, () => ctx.out.line(`Deleted workspace ${name}.`));
    }));

  const member = program.command('member').description('Members of a workspace and their roles');
  member.command('add <workspace> <principal-id>').description('Add a member or change their role (owner)')
    .requiredOption('--role <role>', 'owner, editor, invoker or viewer')
    .action(run(async (ctx, ws: string, principal: string, opts: { role: string }) => {
      const m = await ctx.client().POST('/v1/workspaces/{ws}/members', { ...path(ws), body: { principal, role: opts.role as Role } });
      ctx.out.emit({ workspace: ws, ...m }, () => ctx.out.line(`${m.principalId} is now ${m.role} of workspace ${ws}.`));
    }));
  member.command('list <workspace>').description('List members (viewer)')
    .action(run(async (ctx, ws: string) => {
      const { members } = await ctx.client().GET('/v1/workspaces/{ws}/members', path(ws));
      ctx.out.emit({ workspace: ws, members }, () => ctx.out.table<Member>(members, [
        { header: 'principal', value: (m) => m.principalId }, { header: 'name', value: (m) => m.name },
        { header: 'kind', value: (m) => m.kind }, { header: 'role', value: (m) => m.role },
      ]));
    }));
  member.command('remove <workspace> <principal-id>').description('Remove a member (owner); the last owner cannot be removed')
    .action(run(async (ctx, ws: string, principal: string) => {
      await ctx.client().DELETE('/v1/workspaces/{ws}/members/{principal}', { params: { path: { ws, principal } } });
      ctx.out.emit({ deleted: { workspace: ws, principal } }, () => ctx.out.line(`Removed ${principal} from workspace ${ws}.`));
    }));
}
