// The `coffer` command's entry (bin/coffer.js starts it on Node 22): runs the program and turns
// every failure into a message and a documented exit code.
import { CommanderError } from 'commander';
import { activeOutput, requestedExitCode } from './context.ts';
import { buildProgram } from './program.ts';
import { describeError, exitCodeFor, EXIT } from './errors.ts';
import { Output } from './output.ts';

export async function main(argv: string[]): Promise<number> {
  if (argv.includes('--no-color')) process.env.NO_COLOR = '1';
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return requestedExitCode() ?? EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT.ok;
      return EXIT.usage;
    }
    const out = activeOutput ?? new Output({ json: argv.includes('--json'), debug: argv.includes('--debug') });
    out.error(describeError(err), err instanceof Error ? err.stack : undefined);
    return exitCodeFor(err);
  }
}

// process.exitCode rather than exit(): lets pending output flush. `coffer exec` and `coffer serve`
// keep the process alive and set their own exit status.
process.exitCode = await main(process.argv.slice(2));
