#!/usr/bin/env node
// The `coffer` command, in plain JavaScript so that it starts on any Node. Coffer itself is
// TypeScript run by Node's type stripping (Node >= 22.18 without flags) and needs isolated-vm 6.2.
// Through npm (`npx coffer`, `npm exec coffer`, npm scripts) `node` is already the Node 22 of the
// `node` devDependency, first on PATH. Started any other way on an older Node (system Node 20,
// `./bin/coffer.js`), this re-executes the command with that Node 22, forwarding signals and
// passing on the exit status. The server commands also want --no-node-snapshot (isolated-vm).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import module from 'node:module';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../cli/main.ts', import.meta.url));
const [major, minor] = process.versions.node.split('.').map(Number);
const modernEnough = major > 22 || (major === 22 && minor >= 18);
const command = process.argv.slice(2).find((a) => !a.startsWith('-'));
const needsNoSnapshot = (command === 'serve' || command === 'keys') && !process.execArgv.includes('--no-node-snapshot');

/** The `node` package's binary, wherever npm put it (this repository, or hoisted in a project). */
function projectNode() {
  try {
    const pkg = module.createRequire(import.meta.url).resolve('node/package.json');
    const bin = fileURLToPath(new URL('./bin/node', `file://${pkg}`));
    return existsSync(bin) ? bin : undefined;
  } catch {
    return undefined;
  }
}

if (modernEnough && !needsNoSnapshot) {
  // Caches compiled (type-stripped) code between runs: most of a short command's start-up.
  module.enableCompileCache?.();
  await import(main);
} else {
  const node = modernEnough ? process.execPath : projectNode();
  if (!node) {
    process.stderr.write(`coffer needs Node.js >= 22.18 (this is ${process.version}) and found no Node 22 in node_modules: run \`npm install\` in the Coffer repository (its \`node\` devDependency), or install Node 22.\n`);
    process.exit(1);
  }
  const child = spawn(node, ['--no-node-snapshot', main, ...process.argv.slice(2)], { stdio: 'inherit' });
  // The child shares our process group, so a terminal's Ctrl-C reaches it directly; signals sent to
  // this process alone (kill, a supervisor) are passed on.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('error', (err) => {
    process.stderr.write(`coffer: cannot start ${node}: ${err.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    if (signal) {
      // Die of the same signal, so our parent sees what the child saw.
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    } else process.exit(code ?? 1);
  });
}
