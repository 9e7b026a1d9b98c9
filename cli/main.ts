// The `coffer` command's entry (bin/coffer.js starts it on Node 22): runs the program and turns
// every failure into a message and a documented exit code.
import { CommanderError } from 'commander';
import { activeOutput, requestedExitCode } from './context.ts';
import { buildProgram } from './program.ts';
import { describeError, exitCodeFor, EXIT } from './errors.ts';
import { Output } from './output.ts';

export async function main(argv: string[]): Promise<number> {
  if (argv.includes('--no-color')) process.env.NO_COLOR = '1';
  // NO_COLOR wins over FORCE_COLOR here (Node's own rule is the other way round): https://no-color.org
  if (process.env.NO_COLOR) delete process.env.FORCE_COLOR;
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return requestedExitCode() ?? EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version succeed; `coffer` or `coffer vault` alone prints help as a usage error.
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return EXIT.ok;
      return EXIT.usage;
    }
    const out = activeOutput ?? new Output({ json: argv.includes('--json'), debug: argv.includes('--debug') });
    out.error(describeError(err), err instanceof Error ? err.stack : undefined);
    return exitCodeFor(err);
  }
}

// `coffer ... | head` closes the pipe early: that is the reader's choice, not an error to report.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => { if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0); else throw err; });
}

// process.exitCode rather than exit(): lets pending output flush. `coffer exec` and `coffer serve`
// keep the process alive and set their own exit status.
process.exitCode = await main(process.argv.slice(2));
