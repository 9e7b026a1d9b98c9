// `coffer dev`: the whole project on this machine with one command. Starts the embedded server
// (cli/local/dev-server.ts), applies coffer.toml to it with secret values from the environment and
// .coffer/secrets.toml, prints where its functions, webhooks and GraphQL endpoints answer, and
// applies again whenever coffer.toml, a function file or secrets.toml changes. Serves until Ctrl-C.
// --json prints one JSON object per line (`event`: ready, applied, error, stopped) for scripts.
import path from 'node:path';
import type { Command } from 'commander';
import { createCofferClient } from '../../client/index.ts';
import { run, type Context } from '../context.ts';
import { CliError, describeError, EXIT, UsageError } from '../errors.ts';
import { findProjectRoot, PROJECT_FILE } from '../local/project-root.ts';
import { createLocalSources } from '../local/sources.ts';
import { startDevServer } from '../local/dev-server.ts';
import { applyForDev, loadProjectForCli } from '../local/dev-apply.ts';
import type { Project } from '../project/apply.ts';
import { watchFiles, type FileWatch } from '../local/watch.ts';

interface DevOptions { port: string; logLevel: string }

interface Endpoints {
  functions: { name: string; url: string }[];
  webhooks: { name: string; url: string; auth: string }[];
  graphql: { workspace: string; url: string }[];
}

function endpoints(url: string, project: Project, webhookPaths: Record<string, string>): Endpoints {
  const seg = encodeURIComponent;
  return {
    functions: Object.entries(project.functions).map(([name, f]) => ({
      name: `${f.workspace}/${name}`, url: `${url}/v1/workspaces/${seg(f.workspace)}/functions/${seg(name)}/invoke`,
    })),
    webhooks: Object.entries(project.executors).filter(([, e]) => e.trigger.kind === 'webhook').map(([name, e]) => {
      const mode = String((e.trigger.auth as { mode?: unknown } | undefined)?.mode ?? 'token');
      const known = webhookPaths[`${e.workspace}/${name}`];
      const tail = mode === 'token' ? (known ? '' : '/<token>') : '';
      return { name: `${e.workspace}/${name}`, url: `${url}${known ?? `/hooks/${seg(e.workspace)}/${seg(name)}`}${tail}`, auth: mode };
    }),
    graphql: [...new Set(Object.values(project.pipelines).map((p) => p.workspace))].map((ws) => ({ workspace: ws, url: `${url}/v1/workspaces/${seg(ws)}/graphql` })),
  };
}

function printEndpoints(ctx: Context, e: Endpoints) {
  const section = (title: string, rows: [string, string][]) => {
    if (!rows.length) return;
    ctx.out.line(title);
    const width = Math.max(...rows.map(([n]) => n.length));
    for (const [n, u] of rows) ctx.out.line(`  ${n.padEnd(width)}  ${u}`);
  };
  section('Functions (POST, Authorization: Bearer <admin key>):', e.functions.map((f) => [f.name, f.url]));
  section('Webhooks:', e.webhooks.map((w) => [w.name, `${w.url}  (${w.auth})`]));
  section('GraphQL:', e.graphql.map((g) => [g.workspace, g.url]));
}

export function registerDev(program: Command) {
  program.command('dev')
    .description('Run the project locally: an embedded server (PGlite in .coffer/data), coffer.toml applied with local secret values, redeployed on every change')
    .option('--port <port>', 'the port to listen on (0: any free one)', '7373')
    .option('--log-level <level>', 'the embedded server\'s log level', 'warn')
    .action(run(async (ctx, opts: DevOptions) => {
      const port = Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError('--port must be 0-65535');
      const root = findProjectRoot(process.cwd());
      const tomlFile = root ? path.join(root, PROJECT_FILE) : undefined;
      if (!root || !tomlFile || !(await import('node:fs')).existsSync(tomlFile)) {
        throw new CliError('no_project', `no ${PROJECT_FILE} here or in any directory above; run \`coffer init\` to start one`, EXIT.notFound);
      }
      const emit = (event: Record<string, unknown>, human: () => void) => {
        if (ctx.out.json) ctx.out.line(JSON.stringify(event));
        else human();
      };

      let project = await loadProjectForCli(tomlFile);
      let sources = createLocalSources({ root });
      const server = await startDevServer(root, { port, logLevel: opts.logLevel });
      ctx.out.mask(server.adminKey);
      const client = createCofferClient({ url: server.url, apiKey: server.adminKey, headers: { 'user-agent': 'coffer-dev/0.1.0' } });
      const webhookPaths: Record<string, string> = {};
      const rel = (f: string) => path.relative(root, f) || f;
      let lastWarnings = '';

      const applyOnce = async (first: boolean) => {
        const applied = await applyForDev(client, project, (vault, name) => sources.resolveLocal(vault, name).value, process.env);
        Object.assign(webhookPaths, applied.webhookPaths);
        // Warnings (a declared secret with no local value) repeat on every apply: shown when they change.
        const warnings = JSON.stringify(applied.warnings) === lastWarnings ? [] : applied.warnings;
        lastWarnings = JSON.stringify(applied.warnings);
        emit({ event: 'applied', changes: applied.changes, warnings: applied.warnings }, () => {
          if (applied.changes.length) {
            ctx.out.line(first ? `Applied ${rel(tomlFile)}:` : `${new Date().toISOString().slice(11, 19)} applied:`);
            for (const c of applied.changes) ctx.out.line(`  ${c}`);
          } else if (!first) ctx.out.line(`${new Date().toISOString().slice(11, 19)} no changes`);
          for (const w of warnings) ctx.out.warn(w);
        });
      };
      const reportError = (err: unknown) => {
        const e = describeError(err);
        emit({ event: 'error', error: { code: e.code, message: e.message } }, () => ctx.out.error(e));
      };

      try {
        await applyOnce(true);
      } catch (err) {
        // The server is up and the developer is about to fix the file: report, keep serving, retry on save.
        reportError(err);
      }
      const watched = () => [tomlFile, ...Object.values(project.functions).map((f) => f.path), ...(sources.secretsFile ? [sources.secretsFile] : [])];
      const show = endpoints(server.url, project, webhookPaths);
      emit({ event: 'ready', url: server.url, adminKeyFile: server.adminKeyFile, dataDir: server.dataDir, ...show, watching: watched() }, () => {
        ctx.out.line('');
        ctx.out.line(`Coffer dev server: ${server.url}  (data in ${rel(server.dataDir)}, admin key in ${rel(server.adminKeyFile)})`);
        printEndpoints(ctx, show);
        ctx.out.line(`CLI against it: COFFER_URL=${server.url} COFFER_API_KEY=$(cat ${rel(server.adminKeyFile)}) coffer ...`);
        ctx.out.line(`Watching ${watched().map(rel).join(', ')} (Ctrl-C to stop).`);
      });

      // One apply at a time; changes that arrive during one are applied together after it.
      let running: Promise<void> | undefined;
      let again = false;
      let watch: FileWatch;
      const reapply = async () => {
        if (running) { again = true; return; }
        running = (async () => {
          do {
            again = false;
            try {
              project = await loadProjectForCli(tomlFile);
              sources = createLocalSources({ root });
              await applyOnce(false);
            } catch (err) {
              reportError(err);
            }
          } while (again);
          watch.close();
          watch = watchFiles(watched(), () => void reapply());
        })();
        await running;
        running = undefined;
      };
      watch = watchFiles(watched(), () => void reapply());

      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      watch.close();
      await running;
      await server.close();
      emit({ event: 'stopped' }, () => ctx.out.line('Stopped.'));
    }));
}
