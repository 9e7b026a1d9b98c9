#!/usr/bin/env node
// The `coffer` command, in plain JavaScript so it starts on any Node. Coffer itself needs Node >= 22.18
// (TypeScript type stripping without flags, isolated-vm 6.2): on an older `node` this re-executes the
// command with the Node 22 that npm installed in node_modules (the `node` devDependency), forwarding
// signals and returning the child's exit code. The server commands also need --no-node-snapshot.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import module from 'node:module';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../cli/main.ts', import.meta.url));
const [major, minor] = process.versions.node.split('.').map(Number);
const modernEnough = major > 22 || (major === 22 && minor >= 18);
const command = process.argv.slice(2).find((a) => !a.startsWith('-'));
const needsNoSnapshot = (command === 'serve' || command === 'keys') && !process.execArgv.includes('--no-node-snapshot');

if (modernEnough && !needsNoSnapshot) {
  // Caches compiled (and type-stripped) code between runs: most of a short command's start-up.
  module.enableCompileCache?.();
  await import(main);
} else {
  const bundled = fileURLToPath(new URL('../node_modules/node/bin/node', import.meta.url));
  const node = modernEnough ? process.execPath : bundled;
  if (!existsSync(node)) {
    process.stderr.write(`coffer needs Node.js >= 22.18 (this is ${process.version}), and found none in node_modules. Run \`npm install\` in the Coffer repository, or install Node 22.\n`);
    process.exit(1);
  }
  const child = spawn(node, ['--no-node-snapshot', main, ...process.argv.slice(2)], { stdio: 'inherit' });
  // The child is in our process group, so a terminal's Ctrl-C reaches it directly; signals sent to
  // this process alone (kill, a supervisor) are passed on.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => {
    if (signal) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    } else process.exit(code ?? 1);
  });
}
