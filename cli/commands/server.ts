// Server-side commands: `coffer serve` (what `npm start` runs) and `coffer keys rewrap` (`npm run
// rewrap`). They read the server's environment (api/config.ts), not a profile. The server code is
// imported only here, so client commands start without loading it.
import type { Command } from 'commander';
import { run } from '../context.ts';

export function registerServer(program: Command) {
  program.command('serve').description('Start the Coffer gateway (configured by environment variables: see README, Configuration)')
    .action(run(async () => {
      const { loadConfig } = await import('../../api/config.ts');
      const { serveUntilSignalled } = await import('../../api/server.ts');
      await serveUntilSignalled(loadConfig());
    }));

  const keys = program.command('keys').description('Master keys (server side)');
  keys.command('rewrap').description('Re-wrap every data key under the active master key, then report the master keys nothing uses any more')
    .action(run(async (ctx) => {
      const { loadConfig } = await import('../../api/config.ts');
      const { runRewrap } = await import('../../api/server.ts');
      const progress = ctx.out.progress('re-wrapping secret versions');
      const report = await runRewrap(loadConfig(), (n) => progress.tick(n));
      progress.done();
      ctx.out.emit(report, () => {
        ctx.out.line(`Re-wrapped ${report.secretVersions} secret versions and ${report.signingKeys} signing keys under master key "${report.activeKeyId}".`);
        if (report.retiredKeyIds.length) ctx.out.line(`No longer used (may be removed from the keyring): ${report.retiredKeyIds.join(', ')}`);
      });
    }));
}
