// The command tree. Each command group is one file in cli/commands/ that registers its subcommands;
// this file adds the global options.
import { Command } from 'commander';
import { commandGroups } from './commands/index.ts';

export function buildProgram(): Command {
  const program = new Command('coffer')
    .description('Coffer: secrets and functions from the terminal')
    .version('0.1.0', '-V, --version')
    .option('--json', 'print results as JSON (stable shapes: see docs/cli.md)')
    .option('--profile <name>', 'use this saved profile (default: the current one; env COFFER_PROFILE)')
    .option('--url <url>', 'the server, overriding the profile and COFFER_URL')
    .option('--no-color', 'no colour even on a terminal (NO_COLOR works too)')
    .option('--debug', 'print stack traces with errors')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  for (const register of commandGroups) register(program);
  // Subcommands inherit exitOverride only when set before they are added, so set it on all now.
  const walk = (c: Command) => { c.exitOverride(); c.commands.forEach(walk); };
  walk(program);
  return program;
}
