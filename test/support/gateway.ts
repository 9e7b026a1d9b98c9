// Starts test/support/gateway-process.ts: another gateway process on the same PostgreSQL database.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export async function startSecondGateway(env: { DATABASE_URL: string; COFFER_MASTER_KEY: string }) {
  const child = fork(fileURLToPath(new URL('./gateway-process.ts', import.meta.url)), [], {
    execArgv: ['--no-node-snapshot'], env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { url: string }).url));
    child.once('exit', (code) => reject(new Error(`second gateway exited (${code})`)));
  });
  const stopped = new Promise((resolve) => child.once('exit', resolve));
  return { url, async stop() { child.kill('SIGTERM'); await stopped; } };
}
