// `coffer init`: the starter files, the .gitignore lines (appended once), refusal to overwrite
// without --force, and a starter function that runs as written.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { describe, it, expect, afterAll } from 'vitest';
import { cliUser } from '../support/cli.ts';
import { loadProject } from '../../cli/project/apply.ts';

describe('coffer init', { timeout: 120_000 }, () => {
  const u = cliUser();
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-init-'));
  afterAll(() => { u.cleanup(); fs.rmSync(base, { recursive: true, force: true }); });

  it('writes coffer.toml, an example function, secrets.toml.example and the .gitignore lines', async () => {
    const r = await u.ok(['init', 'proj', '--json'], { cwd: base });
    const root = path.join(base, 'proj');
    expect(r.json).toEqual({
      root, written: ['coffer.toml', 'functions/hello.js', '.coffer/secrets.toml.example', '.gitignore'],
      gitignoreAdded: ['.coffer/secrets.toml', '.coffer/data/'],
    });
    const toml = fs.readFileSync(path.join(root, 'coffer.toml'), 'utf8');
    for (const part of ['[vaults.app]', '[vaults.app.secrets.greeting]', '[workspaces.main]', '[[grants]]', '[functions.hello]', 'file = "functions/hello.js"', '[executors.hello-hook]']) {
      expect(toml).toContain(part);
    }
    expect(fs.readFileSync(path.join(root, 'functions', 'hello.js'), 'utf8')).toContain("getSecret('app', 'greeting')");
    expect(fs.readFileSync(path.join(root, '.coffer', 'secrets.toml.example'), 'utf8')).toMatch(/^\[app\]$/m);
    expect(fs.readFileSync(path.join(root, '.gitignore'), 'utf8').split('\n')).toEqual(expect.arrayContaining(['.coffer/secrets.toml', '.coffer/data/']));
    expect(fs.existsSync(path.join(root, '.coffer', 'secrets.toml'))).toBe(false);
  });

  it('the starter coffer.toml is a valid project for plan, apply and dev', async () => {
    const project = await loadProject(path.join(base, 'proj', 'coffer.toml'));
    expect(Object.keys(project.vaults.app!.secrets)).toEqual(['greeting', 'webhook-secret']);
    expect(project.functions.hello).toMatchObject({ workspace: 'main', path: path.join(base, 'proj', 'functions', 'hello.js') });
    expect(project.executors['hello-hook']).toMatchObject({ workspace: 'main', target: { kind: 'function', function: 'hello' } });
    expect(project.grants).toEqual([{ vault: 'app', workspace: 'main', role: 'reader' }]);
  });

  it('the starter function runs with the example values, copied into a private secrets.toml', async () => {
    const root = path.join(base, 'proj');
    const secrets = path.join(root, '.coffer', 'secrets.toml');
    fs.copyFileSync(path.join(root, '.coffer', 'secrets.toml.example'), secrets);
    fs.chmodSync(secrets, 0o600);
    const r = await u.ok(['run', 'hello.js', '--args', '{"name":"Ada"}', '--explain'], { cwd: path.join(root, 'functions') });
    expect(JSON.parse(r.stdout)).toEqual({ message: 'Hello, Ada!' });
    expect(r.stderr).toContain(`app/greeting  file ${secrets}`);
  });

  it('refuses to overwrite existing files (exit 6, naming them) unless --force; .gitignore lines are never doubled', async () => {
    const root = path.join(base, 'proj');
    fs.writeFileSync(path.join(root, 'coffer.toml'), '# mine\n');
    const r = await u.run(['init', root]);
    expect(r.code).toBe(6);
    expect(r.stderr).toContain('coffer.toml, functions/hello.js, .coffer/secrets.toml.example already exist');
    expect(fs.readFileSync(path.join(root, 'coffer.toml'), 'utf8')).toBe('# mine\n');
    await u.ok(['init', root, '--force']);
    expect(fs.readFileSync(path.join(root, 'coffer.toml'), 'utf8')).toContain('[vaults.app]');
    const lines = fs.readFileSync(path.join(root, '.gitignore'), 'utf8').split('\n');
    expect(lines.filter((l) => l === '.coffer/secrets.toml')).toHaveLength(1);
  });

  it('appends to an existing .gitignore, keeping what it held', async () => {
    const root = path.join(base, 'other');
    fs.mkdirSync(root);
    fs.writeFileSync(path.join(root, '.gitignore'), 'node_modules\n.coffer/data/');
    await u.ok(['init'], { cwd: root });
    const text = fs.readFileSync(path.join(root, '.gitignore'), 'utf8');
    expect(text.startsWith('node_modules\n.coffer/data/\n')).toBe(true);
    expect(text.split('\n').filter((l) => l === '.coffer/data/')).toHaveLength(1);
    expect(text.split('\n')).toContain('.coffer/secrets.toml');
  });

  it('shell completion offers init, run and dev with their options', async () => {
    const script = path.join(u.configDir, 'coffer.bash');
    fs.writeFileSync(script, (await u.ok(['completion', 'bash'])).stdout);
    const complete = (words: string[]) => execFileSync('bash', ['-c', `source "$0"; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _coffer; echo "\${COMPREPLY[*]}"`, script], { encoding: 'utf8' }).trim();
    expect(complete(['coffer', 'ru'])).toBe('run');
    expect(complete(['coffer', 'run', '--ex']).split(' ')).toEqual(['--explain', '--expose-secrets']);
    expect(complete(['coffer', 'init', '--fo'])).toBe('--force');
    expect(complete(['coffer', 'de']).split(' ')).toContain('dev');
  });
});
