// coffer completion bash|zsh|fish: completion scripts generated from the command tree itself, so
// a new command group completes without touching this file.
import type { Command, Option } from 'commander';
import { run } from '../context.ts';
import { UsageError } from '../errors.ts';

interface Node { path: string; subcommands: { name: string; description: string }[]; options: { flag: string; description: string }[] }

function nodes(root: Command): Node[] {
  const out: Node[] = [];
  const longFlags = (options: readonly Option[]) => options.filter((o) => o.long).map((o) => ({ flag: o.long!, description: o.description }));
  const walk = (c: Command, path: string[]) => {
    const subs = c.commands.filter((s) => s.name() !== 'help');
    out.push({
      path: path.join(' '),
      subcommands: subs.map((s) => ({ name: s.name(), description: s.description() })),
      options: [...longFlags(c.options), { flag: '--help', description: 'show help' }],
    });
    for (const s of subs) walk(s, [...path, s.name()]);
  };
  walk(root, []);
  return out;
}

const shellWord = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export function bashScript(root: Command): string {
  const all = nodes(root);
  const globals = root.options.filter((o) => o.long).map((o) => o.long).join(' ');
  const cases = (pick: (n: Node) => string) => all.map((n) => `    ${shellWord(n.path)}) echo ${shellWord(pick(n))} ;;`).join('\n');
  return `# coffer completion for bash: source <(coffer completion bash)
_coffer_subcommands() {
  case "$1" in
${cases((n) => n.subcommands.map((s) => s.name).join(' '))}
  esac
}
_coffer_options() {
  case "$1" in
${cases((n) => n.options.map((o) => o.flag).join(' '))}
  esac
}
_coffer() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" path="" word i
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    [[ "$word" == "--" ]] && return 0
    [[ "$word" == -* ]] && continue
    if [[ " $(_coffer_subcommands "$path") " == *" $word "* ]]; then path="\${path:+$path }$word"; fi
  done
  if [[ "$cur" == -* ]]; then
    COMPREPLY=( $(compgen -W "$(_coffer_options "$path") ${globals}" -- "$cur") )
  else
    COMPREPLY=( $(compgen -W "$(_coffer_subcommands "$path")" -- "$cur") )
  fi
}
complete -o default -F _coffer coffer
`;
}

export function zshScript(root: Command): string {
  return `#compdef coffer
# coffer completion for zsh: source <(coffer completion zsh), or save as _coffer on your fpath.
autoload -U +X bashcompinit && bashcompinit
${bashScript(root).split('\n').slice(1).join('\n')}`;
}

export function fishScript(root: Command): string {
  const lines = ['# coffer completion for fish: coffer completion fish | source', 'complete -c coffer -f'];
  const q = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  for (const n of nodes(root)) {
    const parts = n.path ? n.path.split(' ') : [];
    const subNames = n.subcommands.map((s) => s.name).join(' ');
    // At this node: every word of its path typed, none of its subcommands yet.
    const at = [
      ...(parts.length ? parts.map((p) => `__fish_seen_subcommand_from ${p}`) : ['__fish_use_subcommand']),
      ...(parts.length && subNames ? [`not __fish_seen_subcommand_from ${subNames}`] : []),
    ].join('; and ');
    for (const s of n.subcommands) lines.push(`complete -c coffer -n ${q(at)} -a ${q(s.name)} -d ${q(s.description.slice(0, 80))}`);
    if (parts.length) for (const o of n.options) lines.push(`complete -c coffer -n ${q(at)} -l ${q(o.flag.slice(2))} -d ${q(o.description.slice(0, 80))}`);
  }
  for (const o of root.options.filter((x) => x.long)) lines.push(`complete -c coffer -l ${q(o.long!.slice(2))} -d ${q(o.description.slice(0, 80))}`);
  return lines.join('\n') + '\n';
}

export function registerCompletion(program: Command) {
  program.command('completion <shell>').description('Print a completion script for bash, zsh or fish')
    .addHelpText('after', '\nbash: source <(coffer completion bash)   zsh: source <(coffer completion zsh)   fish: coffer completion fish | source')
    .action(run((ctx, shell: string) => {
      const script = shell === 'bash' ? bashScript(program) : shell === 'zsh' ? zshScript(program) : shell === 'fish' ? fishScript(program) : undefined;
      if (!script) throw new UsageError(`unknown shell "${shell}" (bash, zsh or fish)`);
      ctx.out.reveal(script, true);
    }));
}
