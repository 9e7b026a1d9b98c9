// Reading what the user types or pipes in. Secrets are read from stdin or a no-echo prompt, never
// from arguments unless the user insists (--value, with a warning).
import fs from 'node:fs';
import { UsageError } from './errors.ts';

export async function readStdin(stdin: NodeJS.ReadStream = process.stdin): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/** Piped input minus the one newline `echo` adds; everything else (inner newlines too) is kept. */
export const withoutFinalNewline = (text: string) => text.replace(/\r?\n$/, '');

export function readFileText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** Reads one line from the terminal without echoing it. */
export function promptHidden(question: string, stdin: NodeJS.ReadStream = process.stdin, stderr: NodeJS.WriteStream = process.stderr): Promise<string> {
  if (!stdin.isTTY) throw new UsageError('no terminal to prompt on: pipe the value on stdin instead');
  return new Promise((resolve, reject) => {
    let value = '';
    stderr.write(question);
    stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding('utf8');
    const finish = (error?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      stderr.write('\n');
      if (error) reject(error); else resolve(value);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return finish();
        if (ch === '\u0003') return finish(new UsageError('cancelled'));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else if (ch >= ' ') value += ch;
      }
    };
    stdin.on('data', onData);
  });
}

/** A secret from a no-echo prompt when stdin is a terminal, otherwise the first line of stdin. */
export async function readSecretInput(question: string, stdin: NodeJS.ReadStream = process.stdin): Promise<string> {
  const value = stdin.isTTY ? await promptHidden(question, stdin) : withoutFinalNewline(await readStdin(stdin)).split(/\r?\n/)[0]!.trim();
  if (!value) throw new UsageError('no value given');
  return value;
}

export function parseJsonArgument(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${what} is not valid JSON: ${(err as Error).message}`);
  }
}
